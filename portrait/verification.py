"""Checking whether an image is one of this site's outputs: for the public verify page and API,
and for the operator's ``verify_output`` command.

The answer never says whose portrait it is. Only compliance officers (and the operator at the
command line) learn which render a watermark belongs to, and each such lookup is audit-logged.
"""

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from audit.log import OFFICER_GROUP
from audit.log import record as audit
from audit.models import Action

from .errors import Refused
from .models import Output
from .provenance import NotAnImage, verify_image
from .reasons import describe
from .signing import trust_anchors


def is_officer(user):
    """Compliance officers and superusers: the people who may learn whose an image is."""
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    return user.is_superuser or user.groups.filter(name=OFFICER_GROUP).exists()


def verify_output(data, *, include_render, actor=None):
    """The verify result as JSON-ready data; raises NotAnImage for what is not a JPEG or PNG.

    ``made_here`` is yes when the watermark names one of this site's outputs, or when the
    signature chains to this site's trust anchor (an output whose record was erased since).
    ``include_render`` (officers and the operator only) adds the render the watermark belongs
    to; ``actor`` is who asked, for the audit log.
    """
    result = verify_image(data, trust_anchors_pem=trust_anchors())
    c2pa = result.c2pa
    output = None
    if result.watermark.found and result.watermark.render_id is not None:
        output = (
            Output.objects.filter(watermark_id=result.watermark.render_id)
            .select_related("render")
            .first()
        )
    answer = {
        "made_here": output is not None or c2pa.state == "Trusted",
        "c2pa": {
            "state": c2pa.state,
            "generator": c2pa.generator,
            "source_type": c2pa.source_type,
            "style": c2pa.style,
            "base_model": c2pa.base_model,
        },
        "xmp_label": result.xmp_label,
        "watermark": {"found": result.watermark.found, "payload": result.watermark.payload},
    }
    if include_render:
        answer["watermark"]["render"] = str(output.render_id) if output else None
        if output is not None:
            audit(Action.STAFF_VIEWED, actor=actor, obj=output.render, details={"via": "verify"})
    return answer


def read_upload(upload):
    """An uploaded file's bytes, held in memory only; Refused when it is over the size limit."""
    limit = settings.SITTER_MAX_UPLOAD_BYTES
    if getattr(upload, "too_large", False) or (upload.size or 0) > limit:
        raise Refused(
            "too_large",
            describe("too_large", {"bytes": upload.size, "max_bytes": limit}),
            status=413,
        )
    upload.seek(0)
    return upload.read(limit + 1)


def verify_upload(upload, *, viewer=None):
    """Verify an uploaded image for the page or the API; the render only for officers."""
    data = read_upload(upload)
    try:
        return verify_output(data, include_render=is_officer(viewer), actor=viewer)
    except NotAnImage:
        raise Refused(
            "not_an_image",
            _("This is not a JPEG or PNG image: Sitter's portraits are JPEG, its ID photos PNG."),
        ) from None


__all__ = ["NotAnImage", "is_officer", "read_upload", "verify_output", "verify_upload"]
