"""Translated, actionable messages for the engine's rejection reasons, by their codes.

The engine gives each reason a stable code and its measured parameters; the person reads the
message in their own language.
"""

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .engine.images import megabytes

MESSAGES = {
    "empty": _("The file is empty."),
    "not_an_image": _("This is not a photo: upload a JPEG, PNG, WebP or HEIC image."),
    "unsupported_type": _("%(format)s images are not accepted: upload a JPEG, PNG, WebP or HEIC."),
    "animated": _("Animated images are not accepted: upload a still photo."),
    "damaged": _("The file is damaged or incomplete: upload it again."),
    "too_large": _("The file is too large: %(megabytes)s MB, the limit is %(max_megabytes)s MB."),
    "too_many_pixels": _("The image is too large: the limit is %(max_megapixels)s megapixels."),
    "too_small_image": _("The image is too small: at least %(min_side)s pixels a side, please."),
    "no_face": _("No face found: use a photo where your face is clearly visible."),
    "face_too_small": _("Face too small: move closer."),
    "face_cut_off": _("Your face is cut off by the edge of the photo: step back a little."),
    "blurry": _("Blurry: hold the camera still and focus on your face."),
    "too_dark": _("Too dark: face a window or a lamp."),
    "too_bright": _("Too bright: avoid direct sun and flash."),
    "drawing": _("This looks like a drawing, not a photo: upload a photo of yourself."),
    "not_frontal": _("Your face is turned away: look at the camera."),
    "different_person": _("Looks like a different person from your other photos."),
    "selfie_mismatch": _(
        "This photo does not match your verification selfie: upload only photos of yourself."
    ),
    "too_many_photos": _("You have uploaded the most photos allowed: %(limit)s."),
    "no_selfie": _("Take your verification selfie on the consent page first."),
    "id_layout_off_spec": _(
        "The head could not be framed within every rule of this ID photo "
        "size: check it before you use it."
    ),
    "framed_too_tight": _("The photo is cropped too close: the shoulders are cut off."),
    "low_resolution": _("The face is small for this format: a print may look soft."),
}


def _derived(params):
    derived = dict(params)
    if "bytes" in params and "max_bytes" in params:
        derived["megabytes"], derived["max_megabytes"] = megabytes(
            params["bytes"] or 0, params["max_bytes"]
        )
    if "max_pixels" in params:
        derived["max_megapixels"] = f"{params['max_pixels'] / 1_000_000:.0f}"
    return derived


def describe(code, params=None, fallback=""):
    """The person-facing message for a reason code, in the active language."""
    params = _derived(params or {})
    if code == "several_faces":
        count = params.get("count", 2)
        return ngettext(
            "%(count)s face: upload photos of only you.",
            "%(count)s faces: upload photos of only you.",
            count,
        ) % {"count": count}
    if code == "near_duplicate":
        return _("Same photo as #%(of)s: upload a different one.") % {"of": params.get("of", "?")}
    message = MESSAGES.get(code)
    if message is None:
        return fallback or code
    try:
        return str(message) % params
    except (KeyError, TypeError, ValueError):
        return fallback or str(message)


def as_dicts(reasons):
    """Engine reasons → [{"code", "message"}] for forms, the API and the demo."""
    return [
        {"code": reason.code, "message": describe(reason.code, reason.params, reason.message)}
        for reason in reasons
    ]
