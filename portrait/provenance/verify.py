"""Check every provenance layer of an image, for Sitter's verify page and for anyone else.

Each layer is read on its own, so a copy that lost some of them (re-encoded by a messenger,
metadata stripped by an upload form) is still recognised by whatever survived: a JPEG saved
again without its manifest and metadata still shows the watermark.
"""

import io
import json
from dataclasses import asdict, dataclass

import c2pa
from PIL import Image, UnidentifiedImageError

from . import watermark
from .c2pa_sign import BASE_SETTINGS, RENDER_ASSERTION, SOFT_BINDING_ASSERTION
from .xmp import PNG_SIGNATURE, read_xmp_label

# Enough for any portrait Sitter makes; a bigger "image" is refused before its pixels are decoded
# (a small file can claim a huge canvas).
MAX_PIXELS = 40_000_000
ACTIONS_LABELS = ("c2pa.actions", "c2pa.actions.v2")


class NotAnImage(ValueError):
    """The bytes are not a JPEG or PNG image that can be decoded."""


@dataclass(frozen=True)
class C2paStatus:
    """The manifest's validation state and the facts Sitter put in it.

    ``state`` is "Trusted" (signature valid, chain ends at a given trust anchor), "Valid"
    (signature valid, signer not trusted here), "Invalid" (tampered or broken) or "absent".
    """

    state: str
    generator: str | None = None
    source_type: str | None = None
    style: str | None = None
    base_model: str | None = None
    soft_binding: str | None = None
    issues: tuple[str, ...] = ()


@dataclass(frozen=True)
class WatermarkStatus:
    """Whether a valid watermark was found, its payload in hex and the render id it names."""

    found: bool
    payload: str | None = None
    render_id: int | None = None


@dataclass(frozen=True)
class VerifyResult:
    """All provenance layers of one image."""

    mime: str
    pixels_readable: bool
    c2pa: C2paStatus
    xmp_label: bool
    xmp: dict | None
    watermark: WatermarkStatus

    def to_dict(self) -> dict:
        """Plain JSON-ready form, for the verify page and API."""
        return asdict(self)


def _sniff_mime(data: bytes) -> str:
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(PNG_SIGNATURE):
        return "image/png"
    raise NotAnImage("not a JPEG or PNG image")


def _open(data: bytes) -> Image.Image:
    """Parse the header only; refuse what is not an image or claims too many pixels."""
    try:
        image = Image.open(io.BytesIO(data))
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError) as exc:
        raise NotAnImage(f"cannot read image header: {exc}") from exc
    if image.width * image.height > MAX_PIXELS:
        raise NotAnImage(f"image too large: {image.width}x{image.height}")
    return image


def _pixels(image: Image.Image) -> Image.Image | None:
    """The decoded RGB pixels, or None when the pixel data is corrupt.

    A corrupt body is reported rather than refused: the manifest of such a file still says,
    usefully, that it was changed after signing.
    """
    try:
        image.load()
    except (OSError, SyntaxError, ValueError):
        return None
    return image.convert("RGB")


def _reader_settings(trust_anchors_pem: bytes | None) -> dict:
    if not trust_anchors_pem:
        return BASE_SETTINGS
    return {**BASE_SETTINGS, "trust": {"trust_anchors": trust_anchors_pem.decode("ascii")}}


def _find_assertion(manifest: dict, labels: tuple[str, ...]) -> dict | None:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") in labels:
            return assertion.get("data") or {}
    return None


def _c2pa_status(data: bytes, mime: str, trust_anchors_pem: bytes | None) -> C2paStatus:
    try:
        with c2pa.Context.from_dict(_reader_settings(trust_anchors_pem)) as context:
            reader = c2pa.Reader.try_create(mime, io.BytesIO(data), None, context)
            if reader is None:
                return C2paStatus(state="absent")
            with reader:
                store = json.loads(reader.json())
    except c2pa.C2paError as exc:
        # A manifest is there but cannot even be parsed: as good as tampered.
        return C2paStatus(state="Invalid", issues=(str(exc),))
    manifest = store.get("manifests", {}).get(store.get("active_manifest"), {})
    state = store.get("validation_state") or "Invalid"
    failures = store.get("validation_results", {}).get("activeManifest", {}).get("failure", [])

    generator_info = (manifest.get("claim_generator_info") or [{}])[0]
    generator = (
        " ".join(
            str(part)
            for part in (generator_info.get("name"), generator_info.get("version"))
            if part
        )
        or None
    )
    actions = _find_assertion(manifest, ACTIONS_LABELS) or {}
    source_type = next(
        (
            action.get("digitalSourceType")
            for action in actions.get("actions", [])
            if action.get("action") == "c2pa.created"
        ),
        None,
    )
    render = _find_assertion(manifest, (RENDER_ASSERTION,)) or {}
    soft_binding = _find_assertion(manifest, (SOFT_BINDING_ASSERTION,)) or {}
    blocks = soft_binding.get("blocks") or [{}]
    return C2paStatus(
        state=state,
        generator=generator,
        source_type=source_type,
        style=render.get("style"),
        base_model=render.get("base_model"),
        soft_binding=blocks[0].get("value"),
        issues=tuple(failure.get("code", "") for failure in failures),
    )


def verify_image(
    data: bytes,
    *,
    trust_anchors_pem: bytes | None = None,
    watermark_backend: watermark.WatermarkBackend = watermark.DEFAULT_BACKEND,
) -> VerifyResult:
    """Read the C2PA manifest, the XMP label and the watermark of a JPEG or PNG.

    ``trust_anchors_pem`` lists the root certificates to trust (Sitter's own root, for a
    self-hosted install). Raises :class:`NotAnImage` for anything that is not a JPEG or PNG, or
    claims more than :data:`MAX_PIXELS` pixels; a recognised file whose pixel data is corrupt
    is still checked, with ``pixels_readable`` False.
    """
    mime = _sniff_mime(data)
    image = _pixels(_open(data))
    xmp = read_xmp_label(data)
    mark = WatermarkStatus(found=False)
    if image is not None:
        detection = watermark.detect(image, watermark_backend)
        mark = WatermarkStatus(
            found=detection.found, payload=detection.payload_hex, render_id=detection.render_id
        )
    return VerifyResult(
        mime=mime,
        pixels_readable=image is not None,
        c2pa=_c2pa_status(data, mime, trust_anchors_pem),
        xmp_label=xmp is not None,
        xmp=xmp,
        watermark=mark,
    )
