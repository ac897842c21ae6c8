"""Provenance for every portrait Sitter outputs, in plain Python (no Django).

Applied in this order, signing last: a visible label (:mod:`.label`), an invisible watermark
(:mod:`.watermark`), an XMP metadata label (:mod:`.xmp`) and a signed C2PA manifest
(:mod:`.c2pa_sign`). :func:`apply_provenance` runs the whole chain; :func:`verify_image` reads
every layer back.
"""

from .c2pa_sign import SigningError, WatermarkInfo, sign_image
from .chain import ProvenanceConfig, ProvenanceResult, apply_provenance
from .label import LABEL_TEXT, LabelPosition, apply_label, label_box, label_layout
from .signing import (
    SigningMaterial,
    SigningMaterialError,
    create_signing_chain,
    load_signing_material,
    write_signing_material,
)
from .verify import C2paStatus, NotAnImage, VerifyResult, WatermarkStatus, verify_image
from .watermark import (
    DEFAULT_BACKEND,
    WatermarkBackend,
    WatermarkDetection,
    detect,
    payload_for_render,
    payload_hex,
    render_id_from_payload,
    watermark_id_for,
)
from .xmp import XmpLabel, embed_xmp, read_xmp_label

__all__ = [
    "DEFAULT_BACKEND",
    "LABEL_TEXT",
    "C2paStatus",
    "LabelPosition",
    "NotAnImage",
    "ProvenanceConfig",
    "ProvenanceResult",
    "SigningError",
    "SigningMaterial",
    "SigningMaterialError",
    "VerifyResult",
    "WatermarkBackend",
    "WatermarkDetection",
    "WatermarkInfo",
    "WatermarkStatus",
    "XmpLabel",
    "apply_label",
    "apply_provenance",
    "create_signing_chain",
    "detect",
    "embed_xmp",
    "label_box",
    "label_layout",
    "load_signing_material",
    "payload_for_render",
    "payload_hex",
    "read_xmp_label",
    "render_id_from_payload",
    "sign_image",
    "verify_image",
    "watermark_id_for",
    "write_signing_material",
]
