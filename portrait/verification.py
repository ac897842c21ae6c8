"""Checking whether an image is one of this site's outputs."""

from .models import Output
from .provenance import NotAnImage, verify_image
from .signing import trust_anchors


def verify_output(data, *, include_render):
    """The verify result as JSON-ready data. ``include_render`` (for officers only) names the
    render the watermark belongs to; nobody else learns whose image it is."""
    result = verify_image(data, trust_anchors_pem=trust_anchors())
    c2pa = result.c2pa
    output = None
    if result.watermark.found and result.watermark.render_id is not None:
        output = Output.objects.filter(watermark_id=result.watermark.render_id).first()
    answer = {
        "c2pa": {"state": c2pa.state, "generator": c2pa.generator,
                 "source_type": c2pa.source_type, "style": c2pa.style,
                 "base_model": c2pa.base_model},
        "xmp_label": result.xmp_label,
        "watermark": {"found": result.watermark.found, "payload": result.watermark.payload},
        "made_here": output is not None,
    }
    if include_render:
        answer["watermark"]["render"] = str(output.render_id) if output else None
    return answer


__all__ = ["NotAnImage", "verify_output"]
