"""The whole provenance chain for one output: label, watermark, XMP, then the C2PA signature.

The order matters. The visible label is drawn first so the watermark covers it too; the
watermark changes pixels, so it comes before encoding; the XMP label is metadata written into
the encoded file; the signature comes last because it binds every byte before it.
"""

import io
import time
from dataclasses import dataclass, field
from importlib import metadata

from PIL import Image

from . import watermark
from .c2pa_sign import WatermarkInfo, sign_image, soft_binding_algorithm
from .label import LabelPosition, apply_label
from .signing import SigningMaterial
from .xmp import XmpLabel, embed_xmp

MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


def _sitter_version() -> str:
    try:
        return metadata.version("sitter")
    except metadata.PackageNotFoundError:  # running from a source checkout
        return "0+unknown"


@dataclass(frozen=True)
class ProvenanceConfig:
    """How an install labels and signs its outputs.

    ``format`` is "JPEG" for portraits, "PNG" for ID photos (lossless, so the background
    colour stays exact). ``producer`` is the operator's name or filing number for the AIGC
    metadata field: an organisation, never a person.
    """

    material: SigningMaterial
    label_position: LabelPosition | str = LabelPosition.BOTTOM_RIGHT
    label_enabled: bool = True
    format: str = "JPEG"
    jpeg_quality: int = 92
    producer: str = "Sitter"
    tsa_url: str | None = None
    generator: tuple[str, str] = field(default_factory=lambda: ("Sitter", _sitter_version()))
    title: str = "AI-generated portrait"
    # Written into the file when set: ID photos must carry their spec's print resolution.
    dpi: int | None = None
    watermark_backend: watermark.WatermarkBackend = watermark.DEFAULT_BACKEND


@dataclass(frozen=True)
class ProvenanceResult:
    """The signed file, its type, the watermark payload and how long each step took (ms)."""

    data: bytes
    mime: str
    watermark_payload_hex: str
    timings: dict[str, float]


def _encode(image: Image.Image, config: ProvenanceConfig) -> bytes:
    buffer = io.BytesIO()
    dpi = {"dpi": (config.dpi, config.dpi)} if config.dpi else {}
    if config.format == "JPEG":
        image.save(buffer, "JPEG", quality=config.jpeg_quality, **dpi)
    else:
        # Level 1 is twice as fast as the default for a few percent more bytes; outputs are
        # stored encrypted, so they never compress further anyway.
        image.save(buffer, "PNG", compress_level=1, **dpi)
    return buffer.getvalue()


def apply_provenance(
    image: Image.Image,
    *,
    render_id: int,
    style: str,
    base_model: str,
    config: ProvenanceConfig,
) -> ProvenanceResult:
    """Label, watermark, XMP-label and sign ``image``; returns the file to store.

    ``render_id`` is the output's 32-bit watermark id (see
    :func:`portrait.provenance.watermark.watermark_id_for`); ``style`` and ``base_model`` are
    names recorded in the manifest. Nothing about the person portrayed goes anywhere.
    """
    if config.format not in MIME_TYPES:
        raise ValueError(f"format must be one of {', '.join(MIME_TYPES)}, not {config.format!r}")
    mime = MIME_TYPES[config.format]
    timings: dict[str, float] = {}
    start = step = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal step
        now = time.perf_counter()
        timings[name] = (now - step) * 1000
        step = now

    labelled = apply_label(image, config.label_position) if config.label_enabled else image
    lap("label")
    payload = watermark.payload_for_render(render_id)
    payload_hex = watermark.payload_hex(payload)
    marked = config.watermark_backend.embed(labelled, payload)
    lap("watermark")
    encoded = _encode(marked, config)
    lap("encode")
    xmp_label = XmpLabel(content_producer=config.producer, produce_id=payload_hex)
    with_xmp = embed_xmp(encoded, xmp_label)
    lap("xmp")
    signed = sign_image(
        with_xmp,
        mime,
        material=config.material,
        claim_generator=config.generator,
        title=config.title,
        style=style,
        base_model=base_model,
        watermark_info=WatermarkInfo(
            algorithm=soft_binding_algorithm(config.watermark_backend.name),
            payload_hex=payload_hex,
        ),
        tsa_url=config.tsa_url,
    )
    lap("sign")
    timings["total"] = (step - start) * 1000
    return ProvenanceResult(
        data=signed, mime=mime, watermark_payload_hex=payload_hex, timings=timings
    )
