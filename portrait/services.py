"""The person's flow as service functions: the web views, the API and ``sitter_demo`` all call
these, so every path makes the same checks, stores the same records and logs the same events.
"""

import contextlib
import functools
import secrets
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from audit.log import record as audit
from audit.models import Action
from consent.gate import ConsentRequired, missing_purposes, require
from consent.models import Purpose

from . import vault
from .base_model import base_model_name
from .engine import faces, images
from .engine.idphoto import BACKGROUNDS, ID_SPECS
from .engine.styles import load_styles
from .errors import Refused
from .models import Clone, DataKey, Job, Output, Photo, Refinement, Render, Subject
from .queue import enqueue
from .reasons import as_dicts, describe
from .vault import Kind

BUILTIN_STYLES_DIR = Path(__file__).resolve().parent / "engine" / "styles"


@functools.cache
def styles():
    """Built-in styles, then the operator's (``SITTER_STYLES_DIR``) added or overriding."""
    dirs = [BUILTIN_STYLES_DIR]
    if settings.SITTER_STYLES_DIR:
        dirs.append(Path(settings.SITTER_STYLES_DIR))
    return load_styles(*dirs)


def style_summary(style):
    """What the person sees of a style, in the active language."""
    language = get_language()
    return {
        "slug": style.slug,
        "name": style.name_for(language),
        "description": style.description_for(language),
        "width": style.width,
        "height": style.height,
        "id_photo": dict(style.id_photo) if style.id_photo else None,
    }


def subject_for(user):
    subject, _created = Subject.objects.get_or_create(user=user)
    return subject


@contextlib.contextmanager
def erasure_aware(user, *purposes):
    """Around a step that reads or writes the person's blobs: an erasure, or a withdrawal of a
    consent the step needs, may be destroying them at the same moment, and what that does to
    the step (a key, a blob or the person's row gone) is said as a refusal, not as a server
    error. Anything else is raised as it is."""
    try:
        yield
    except ConsentRequired as withdrawn:
        raise Refused("consent_required", withdrawn.message, status=403) from None
    except (vault.VaultError, FileNotFoundError, Subject.DoesNotExist, IntegrityError):
        missing = missing_purposes(user, purposes)
        if missing:
            raise Refused(
                "consent_required", ConsentRequired(missing).message, status=403
            ) from None
        if not DataKey.objects.filter(subject__user=user).exists():
            raise Refused(
                "erased",
                _("Your data was erased while this was being done; nothing of it was kept."),
                status=409,
            ) from None
        raise


def face_thresholds():
    """The engine's face thresholds, with any the operator set (``SITTER_FACE_THRESHOLDS``)."""
    return faces.FaceThresholds(**settings.SITTER_FACE_THRESHOLDS)


def _load_checked_image(upload):
    """The upload as a clean RGB image, or ImageRejected saying why not."""
    limit = settings.SITTER_MAX_UPLOAD_BYTES
    if getattr(upload, "too_large", False) or (upload.size or 0) > limit:
        raise images.ImageRejected(
            images.Reason("too_large", {"bytes": upload.size, "max_bytes": limit})
        )
    upload.seek(0)
    return images.load_upload(
        upload.read(limit + 1),
        max_bytes=limit,
        max_pixels=settings.SITTER_MAX_UPLOAD_PIXELS,
    )


# --- verification selfie ---


def record_selfie(user, upload, *, method):
    """Check and store (encrypted) the descriptor of the verification selfie.

    Only the descriptor is kept; the selfie image itself is discarded after analysis.
    """
    require(user, Purpose.BIOMETRIC)
    try:
        image = _load_checked_image(upload)
    except images.ImageRejected as rejected:
        reasons = as_dicts([rejected.reason])
        raise Refused(
            "selfie_rejected", reasons[0]["message"], status=422, reasons=reasons
        ) from None
    analysis = faces.analyse_photo(image, face_thresholds())
    if not analysis.accepted:
        reasons = as_dicts(analysis.reasons)
        raise Refused("selfie_rejected", reasons[0]["message"], status=422, reasons=reasons)
    subject = subject_for(user)
    old_blob = subject.selfie_blob
    with erasure_aware(user, Purpose.BIOMETRIC):
        new_blob = vault.put(subject, Kind.SELFIE, subject.pk, analysis.signature.to_bytes())
        with transaction.atomic():
            if not Subject.objects.filter(pk=subject.pk).update(selfie_blob=new_blob):
                vault.destroy(new_blob)
                raise Subject.DoesNotExist()
            audit(Action.SELFIE_RECORDED, actor=user, obj=subject, details={"method": method})
    subject.selfie_blob = new_blob
    if old_blob:
        vault.destroy(old_blob)
    return subject


# --- uploads ---


@dataclass
class UploadVerdict:
    accepted: bool
    reasons: list = field(default_factory=list)
    photo: Photo | None = None

    @property
    def number(self):
        return self.photo.number if self.photo else None

    def as_dict(self):
        return {"accepted": self.accepted, "number": self.number, "reasons": self.reasons}


def upload_photo(user, upload, *, method):
    """Check one uploaded photo and, if it passes, store it encrypted.

    A refused photo leaves nothing behind but an audit event with the reason codes.
    """
    require(user, Purpose.BIOMETRIC)
    subject = subject_for(user)
    if not subject.selfie_blob:
        raise Refused("no_selfie", describe("no_selfie"), status=409)
    if subject.photos.count() >= settings.SITTER_MAX_PHOTOS:
        raise Refused(
            "too_many_photos",
            describe("too_many_photos", {"limit": settings.SITTER_MAX_PHOTOS}),
            status=409,
        )
    thresholds = face_thresholds()
    analysis = None
    try:
        image = _load_checked_image(upload)
    except images.ImageRejected as rejected:
        reasons = [rejected.reason]
    else:
        analysis = faces.analyse_photo(image, thresholds)
        reasons = list(analysis.reasons)
        if analysis.accepted:
            with erasure_aware(user, Purpose.BIOMETRIC):
                reasons += _set_reasons(subject, analysis, thresholds)
    if reasons:
        audit(
            Action.PHOTO_REJECTED,
            actor=user,
            obj=subject,
            details={"reasons": [r.code for r in reasons], "method": method},
        )
        return UploadVerdict(accepted=False, reasons=as_dicts(reasons))
    with erasure_aware(user, Purpose.BIOMETRIC):
        photo = _store_photo(user, subject, image, analysis, method)
    return UploadVerdict(accepted=True, photo=photo)


def _set_reasons(subject, analysis, thresholds):
    """Reasons against this photo given the person's selfie and earlier photos."""
    reasons = []
    selfie = faces.FaceSignature.from_bytes(vault.read(subject.selfie_blob))
    if faces.compare(selfie.descriptor, analysis.descriptor) > thresholds.selfie_match_distance:
        reasons.append(images.Reason("selfie_mismatch"))
    for photo in subject.photos.all():
        earlier = faces.FaceSignature.from_bytes(vault.read(photo.signature_blob))
        if earlier.is_near_duplicate(analysis.signature, thresholds):
            reasons.append(images.Reason("near_duplicate", {"of": photo.number}))
            break
    return reasons


def _store_photo(user, subject, image, analysis, method):
    photo_id = uuid.uuid4()
    blob = signature_blob = ""
    try:
        blob = vault.put(subject, Kind.PHOTO, photo_id, images.encode_clean(image, "JPEG"))
        signature_blob = vault.put(subject, Kind.SIGNATURE, photo_id, analysis.signature.to_bytes())
        with transaction.atomic():
            locked = Subject.objects.select_for_update(no_key=True).get(pk=subject.pk)
            # Again under the lock that a withdrawal's undoing waits for: no photo is kept for
            # a person who has just withdrawn.
            require(user, Purpose.BIOMETRIC)
            last = locked.photos.order_by("-number").values_list("number", flat=True).first()
            photo = Photo.objects.create(
                id=photo_id,
                subject=locked,
                number=(last or 0) + 1,
                blob=blob,
                signature_blob=signature_blob,
                width=image.width,
                height=image.height,
                quality={k: round(v, 3) for k, v in asdict(analysis.quality).items()},
            )
            audit(
                Action.PHOTO_ACCEPTED,
                actor=user,
                obj=photo,
                details={"number": photo.number, "method": method},
            )
    except BaseException:
        vault.destroy(blob)
        vault.destroy(signature_blob)
        raise
    return photo


# --- clone ---


def start_clone(user):
    """Queue the training of the person's clone from their uploaded photos, once the whole set
    is checked against the verification selfie."""
    purposes = (Purpose.BIOMETRIC, Purpose.KEEP_CLONE)
    require(user, *purposes)
    subject = subject_for(user)
    with erasure_aware(user, *purposes), transaction.atomic():
        Subject.objects.select_for_update(no_key=True).get(pk=subject.pk)
        # Again under the lock that a withdrawal's undoing waits for: no clone is made for a
        # person who has just withdrawn.
        require(user, *purposes)
        running = subject.clones.filter(job__status__in=Job.ACTIVE).first()
        if running is not None:
            return running
        count = subject.photos.count()
        if count < settings.SITTER_MIN_PHOTOS:
            raise Refused(
                "not_enough_photos",
                _("Upload at least %(min)s accepted photos first; you have %(count)s.")
                % {"min": settings.SITTER_MIN_PHOTOS, "count": count},
                status=409,
            )
        mismatch = _set_mismatch(subject)
        if mismatch is None:
            job = Job.objects.create(subject=subject, kind=Job.Kind.TRAIN)
            clone = Clone.objects.create(
                subject=subject, job=job, base_model=base_model_name(), photo_count=count
            )
            audit(Action.CLONE_QUEUED, actor=user, obj=clone, details={"photos": count})
            enqueue(job)
            return clone
    # Logged outside the transaction above, which stores nothing else.
    message, details = mismatch
    audit(Action.CLONE_REFUSED, actor=user, obj=subject, details=details)
    raise Refused("set_mismatch", message, status=422)


def _set_mismatch(subject):
    """(message, audit details) when the stored photos are not all the selfie's person, else
    None.

    Each upload was matched against the selfie when it came in; this checks the set as a whole,
    from the descriptors stored with the photos: the engine's set analysis must find one
    person, and the consensus of the set must match the selfie. That also catches photos
    uploaded before the selfie was replaced, or under looser thresholds.
    """
    thresholds = face_thresholds()
    photos = list(subject.photos.all())
    report = faces.analyse_set(
        [
            _stored_analysis(faces.FaceSignature.from_bytes(vault.read(photo.signature_blob)))
            for photo in photos
        ],
        thresholds,
    )
    selfie = faces.FaceSignature.from_bytes(vault.read(subject.selfie_blob))
    match = report.selfie_match(selfie.descriptor)
    if match.matched and not report.outliers:
        return None
    outliers = [photos[index].number for index in report.outliers]
    details = {"reasons": ["set_mismatch"], "photos": outliers}
    if outliers:
        message = _(
            "Photos %(numbers)s show someone other than the rest of your photos, so no "
            "clone can be made from this set. Withdraw the consent to build a clone on "
            "“My data” to delete your photos, then upload photos of yourself only."
        ) % {"numbers": ", ".join(f"#{number}" for number in outliers)}
    else:
        message = _(
            "Your photos do not show the person in your verification selfie, so no "
            "clone can be made from them. Withdraw the consent to build a clone on "
            "“My data” to delete them, then upload photos of yourself only."
        )
    return message, details


def _stored_analysis(signature):
    """A stored photo's signature in the shape the engine's set analysis takes."""
    return faces.PhotoAnalysis(
        faces=1,
        boxes=(),
        box=None,
        landmarks=None,
        descriptor=signature.descriptor,
        fingerprint=signature.fingerprint,
        mirrored_fingerprint=signature.mirrored_fingerprint,
        quality=None,
        reasons=(),
        image_size=(0, 0),
        _image=None,
    )


# --- renders ---


def _render_options(style, options):
    options = dict(options or {})
    if style.id_photo is None:
        if options:
            raise Refused("bad_options", _("This style takes no options."))
        return {}
    spec = options.pop("spec", style.id_photo.get("spec"))
    background = options.pop("background", style.id_photo.get("background"))
    if options:
        raise Refused(
            "bad_options",
            _("Unknown options: %(names)s.") % {"names": ", ".join(sorted(map(str, options)))},
        )
    if spec not in ID_SPECS:
        raise Refused("bad_options", _("Unknown ID photo size “%(spec)s”.") % {"spec": spec})
    if background not in BACKGROUNDS:
        raise Refused("bad_options", _("Unknown background colour “%(bg)s”.") % {"bg": background})
    return {"spec": spec, "background": background}


def request_render(user, style_slug, options=None):
    """Queue portraits of the person in one style, with their ready clone."""
    require(user, Purpose.RENDER, Purpose.KEEP_CLONE)
    subject = subject_for(user)
    style = styles().get(style_slug)
    if style is None:
        raise Refused(
            "unknown_style",
            _("There is no style called “%(style)s”.") % {"style": style_slug},
            status=404,
        )
    options = _render_options(style, options)
    clone = subject.current_clone()
    if clone is None:
        raise Refused("no_clone", _("Your clone is not ready yet."), status=409)
    with erasure_aware(user, Purpose.RENDER, Purpose.KEEP_CLONE), transaction.atomic():
        job = Job.objects.create(subject=subject, kind=Job.Kind.RENDER)
        render = Render.objects.create(
            subject=subject,
            clone=clone,
            job=job,
            style=style.slug,
            options=options,
            seed=secrets.randbelow(2**31),
        )
        audit(Action.RENDER_QUEUED, actor=user, obj=render, details={"style": style.slug})
        enqueue(job)
    return render


# --- outputs ---


def open_output(user, output):
    """A decrypting file object over one of the person's outputs; the download is logged.

    No purpose is needed: seeing one's own data is a right, not a processing step.
    """
    with erasure_aware(user):
        handle = vault.open_blob(output.blob)
    audit(Action.OUTPUT_DOWNLOADED, actor=user, obj=output)
    return handle


# --- "make it look more like me" ---


def mark_output(user, output, feedback):
    """Record whether one of the person's outputs looks like them (``Output.Feedback``).

    The mark is what a refinement trains on, hence the biometric purpose.
    """
    require(user, Purpose.BIOMETRIC)
    if output.subject.user_id != user.pk:
        raise Refused("not_found", _("There is no such portrait."), status=404)
    if feedback not in Output.Feedback.values:
        raise Refused("bad_feedback", _("Choose “like”, “unlike” or “none”."))
    with transaction.atomic():
        Output.objects.filter(pk=output.pk).update(feedback=feedback)
        output.feedback = feedback
        audit(Action.OUTPUT_FEEDBACK, actor=user, obj=output, details={"feedback": feedback})
    return output


def start_refinement(user):
    """Queue a refinement of the person's ready clone from the portraits they marked."""
    require(user, Purpose.BIOMETRIC, Purpose.KEEP_CLONE)
    subject = subject_for(user)
    with transaction.atomic():
        Subject.objects.select_for_update(no_key=True).get(pk=subject.pk)
        running = subject.refinements.filter(job__status__in=Job.ACTIVE).first()
        if running is not None:
            return running
        clone = subject.current_clone()
        if clone is None:
            raise Refused("no_clone", _("Your clone is not ready yet."), status=409)
        if not subject.outputs.exclude(feedback=Output.Feedback.NONE).exists():
            raise Refused(
                "no_feedback",
                _("Mark at least one portrait as looking like you, or not, first."),
                status=409,
            )
        job = Job.objects.create(subject=subject, kind=Job.Kind.REFINE)
        refinement = Refinement.objects.create(subject=subject, clone=clone, job=job)
        audit(Action.REFINE_QUEUED, actor=user, obj=refinement)
        enqueue(job)
    return refinement
