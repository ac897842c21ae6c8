"""Safe image intake: every upload passes through here before any face work.

`load_upload` turns untrusted bytes into a plain 8-bit RGB `PIL.Image.Image` with the EXIF
orientation applied and every piece of metadata (EXIF with GPS, XMP, IPTC, ICC, comments) gone,
or raises `ImageRejected` carrying a `Reason` a person can act on. The type is decided by the
bytes, never by the file name, and the declared pixel count is checked before a single pixel is
decoded, so a few-kilobyte "decompression bomb" costs nothing.

`Reason` lives here because intake is the first place that refuses something; the face checks in
`portrait.engine.faces` reuse it, so the Django layer translates one kind of object.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import cv2
import numpy as np
import pillow_heif
from PIL import Image, ImageCms, ImageOps

DEFAULT_MAX_BYTES = 25 * 1024 * 1024
# 48 MP is the largest photo current phones write (iPhone "HEIF Max", Pixel 50 MP modes are
# binned to 12 MP by default); 50 MP admits those and keeps a decoded upload near 150 MB.
DEFAULT_MAX_PIXELS = 50_000_000
# The face checks want a face at least 100 px wide (see faces.FaceThresholds.min_face_px), and
# a portrait shows some margin around the head, so nothing narrower than 200 px can pass them.
DEFAULT_MIN_SIDE = 200

ACCEPTED_TYPES = ("JPEG", "PNG", "WebP", "HEIC")

# Short English phrasing of each reason for the CLI and logs; the web layer translates codes.
_MESSAGES: dict[str, str] = {
    "empty": "empty file",
    "not_an_image": "not an image",
    "unsupported_type": "{format} images are not accepted: use JPEG, PNG, WebP or HEIC",
    "animated": "animated image: upload a still photo",
    "damaged": "the file is damaged or incomplete: upload it again",
    "too_large": "file too large: {megabytes} MB, the limit is {max_megabytes} MB",
    "too_many_pixels": "image too large: {megapixels} megapixels, the limit is {max_megapixels}",
    "too_small_image": "image too small: {width}×{height} px, at least {min_side} px a side",
    "no_face": "no face found",
    "several_faces": "{count_words} faces: upload photos of only you",
    "face_too_small": "face too small: move closer",
    "face_cut_off": "face cut off by the edge of the photo",
    "blurry": "blurry: hold the camera still and focus on the face",
    "too_dark": "too dark: face a window or a lamp",
    "too_bright": "too bright: avoid direct sun and flash",
    "drawing": "looks like a drawing, not a photo: upload a photo of yourself",
    "not_frontal": "face turned away: look at the camera",
    "different_person": "looks like a different person from your other photos",
    "near_duplicate": "same photo as #{of}",
    "selfie_mismatch": "your photos do not match your verification selfie",
    "id_layout_off_spec": "the head could not be framed within every {spec} rule: check it",
    "framed_too_tight": "the photo is cropped too close: the shoulders are cut off",
    "low_resolution": "the face is small for this format: the print may look soft",
}

_NUMBER_WORDS = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six"}


@dataclass(frozen=True)
class Reason:
    """Why something was refused: a stable `code` and its `params`, for translation.

    Codes and their params: ``too_large`` {bytes, max_bytes}; ``too_many_pixels`` {width,
    height, max_pixels} (width/height are absent when the decoder refused to even report them);
    ``too_small_image`` {width, height, min_side}; ``unsupported_type`` {format};
    ``several_faces`` {count}; ``near_duplicate`` {of}: the 1-based number of the earlier
    photo it repeats; the face-quality codes carry the measured value and the limit.
    Codes without params: ``empty``, ``not_an_image``, ``animated``, ``damaged``, ``no_face``,
    ``face_cut_off``, ``different_person``, ``selfie_mismatch``.
    """

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """English text for the command line, e.g. ``"same photo as #3"``."""
        template = _MESSAGES.get(self.code, self.code.replace("_", " "))
        return template.format(**self.params, **self._derived())

    def _derived(self) -> dict[str, Any]:
        p = self.params
        derived: dict[str, Any] = {}
        if "count" in p:
            derived["count_words"] = _NUMBER_WORDS.get(p["count"], str(p["count"]))
        if "bytes" in p:
            derived["megabytes"], derived["max_megabytes"] = megabytes(p["bytes"], p["max_bytes"])
        if "max_pixels" in p:
            size = p["width"] * p["height"] if "width" in p else None
            derived["megapixels"] = f"{size / 1_000_000:.0f}" if size else "over 178"
            derived["max_megapixels"] = f"{p['max_pixels'] / 1_000_000:.0f}"
        return derived


def megabytes(size: int, limit: int) -> tuple[str, str]:
    """A file's size and the size limit as a person reads them: in the MB the upload page
    shows (2**20 bytes, as Django's filesizeformat counts), the size rounded up and the limit
    down, so that a file over the limit never reads as no larger than it."""
    size_mb = math.ceil(size * 10 / 2**20) / 10
    limit_mb = math.floor(limit * 10 / 2**20) / 10
    return f"{size_mb:.1f}", f"{limit_mb:g}"


class ImageRejected(ValueError):
    """An upload that cannot be used; `reason` says why."""

    def __init__(self, reason: Reason):
        super().__init__(reason.message)
        self.reason = reason


def load_upload(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    min_side: int = DEFAULT_MIN_SIDE,
) -> Image.Image:
    """Decode an untrusted upload into a metadata-free 8-bit RGB image.

    Accepts still JPEG (including multi-picture MPO, of which the primary image is used), PNG,
    WebP and HEIC/HEIF, recognised by content. Applies the EXIF orientation, converts CMYK,
    greyscale, palette, 16-bit and alpha images to 8-bit sRGB (alpha composited on white, an
    embedded ICC profile converted to sRGB), and returns a new image whose ``info`` is empty.
    Raises `ImageRejected` otherwise; nothing is written anywhere.
    """
    if not data:
        raise ImageRejected(Reason("empty"))
    if len(data) > max_bytes:
        raise ImageRejected(Reason("too_large", {"bytes": len(data), "max_bytes": max_bytes}))
    kind = sniff_type(data)
    if kind is None:
        raise ImageRejected(Reason("not_an_image"))
    if kind == "GIF":
        raise ImageRejected(_gif_reason(data))
    if kind not in ACCEPTED_TYPES:
        raise ImageRejected(Reason("unsupported_type", {"format": kind}))

    if kind == "HEIC":
        image = _open_heif(data, max_pixels)
    else:
        image = _open_with_pillow(data, kind, max_pixels)

    if min(image.size) < min_side:
        width, height = image.size
        raise ImageRejected(
            Reason("too_small_image", {"width": width, "height": height, "min_side": min_side})
        )
    return _bare_copy(_to_rgb(image))


def sniff_type(data: bytes) -> str | None:
    """Name the image type the bytes really are ("JPEG", "PNG", ...), or None if no image.

    Recognises the four accepted types plus common image types that are refused as
    unsupported (GIF, BMP, TIFF, AVIF, JPEG XL, ICO, PSD), so that a person who uploads a TIFF
    hears "use JPEG" rather than "not an image".
    """
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    if head[4:8] == b"ftyp":
        brands = _ftyp_brands(data)
        if brands & {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"}:
            return "HEIC"
        if brands & {b"avif", b"avis"}:
            return "AVIF"
        if b"mif1" in brands or b"msf1" in brands:
            return "HEIC"
        return None
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if head.startswith(b"BM"):
        return "BMP"
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return "TIFF"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL \r\n\x87\n")):
        return "JPEG XL"
    if head.startswith(b"\x00\x00\x01\x00"):
        return "ICO"
    if head.startswith(b"8BPS"):
        return "PSD"
    return None


def encode_clean(
    image: Image.Image,
    format: Literal["JPEG", "PNG"] = "JPEG",
    quality: int = 95,
    *,
    dpi: int | None = None,
) -> bytes:
    """Encode an RGB image with no metadata at all (no EXIF, XMP, ICC or text chunks).

    JPEG is for photos (uploads kept for training); PNG where pixels must survive exactly.

    ``dpi`` is the one exception, written only when asked for (JFIF density / PNG pHYs), since
    ID photos must carry their print resolution.
    """
    bare = _bare_copy(image if image.mode in ("RGB", "L") else image.convert("RGB"))
    buffer = io.BytesIO()
    options: dict[str, Any] = {}
    if dpi is not None:
        options["dpi"] = (dpi, dpi)
    if format == "JPEG":
        # 4:4:4 chroma: halving the colour resolution smears coloured edges, such as the red
        # or blue background of an ID photo against a shoulder.
        bare.save(buffer, "JPEG", quality=quality, subsampling=0, exif=b"", **options)
    elif format == "PNG":
        bare.save(buffer, "PNG", **options)
    else:
        raise ValueError(f"format must be JPEG or PNG, not {format!r}")
    return buffer.getvalue()


def decode_image(data: bytes) -> Image.Image:
    """Decode trusted internal bytes (JPEG, PNG or WebP written by this engine) to RGB."""
    with Image.open(io.BytesIO(data), formats=["PNG", "JPEG", "WEBP"]) as opened:
        return opened.convert("RGB")


_BORDERS = {
    "reflect": cv2.BORDER_REFLECT_101,
    "replicate": cv2.BORDER_REPLICATE,
    "constant": cv2.BORDER_CONSTANT,
}


def warp_affine(
    image: Image.Image | np.ndarray,
    to_source: np.ndarray,
    size: tuple[int, int],
    *,
    border: Literal["reflect", "replicate", "constant"] = "reflect",
) -> np.ndarray:
    """Resample `image` into a `size` (width, height) array through an affine map.

    `to_source` (2x3) maps each output pixel (u, v, 1) to the source point it shows. Only the
    region the output needs is read (a large PIL image is never converted whole), and when the
    map shrinks by more than 1.5x that region is first reduced by area averaging, because
    warpAffine alone samples without antialiasing and would alias hair and fabric. Outside
    the source, `border` mirrors or repeats its edge, or fills zeros.
    """
    width, height = image.size if isinstance(image, Image.Image) else image.shape[1::-1]
    out_w, out_h = size
    corners = to_source @ np.array([[0, 0, 1], [out_w, 0, 1], [0, out_h, 1], [out_w, out_h, 1]]).T
    x0 = min(max(0, math.floor(corners[0].min()) - 2), width - 1)
    y0 = min(max(0, math.floor(corners[1].min()) - 2), height - 1)
    x1 = max(min(width, math.ceil(corners[0].max()) + 2), x0 + 1)
    y1 = max(min(height, math.ceil(corners[1].max()) + 2), y0 + 1)
    if isinstance(image, Image.Image):
        region = np.asarray(image.crop((x0, y0, x1, y1)).convert("RGB"))
    else:
        region = image[y0:y1, x0:x1]
    mapping = to_source.astype(np.float64)
    mapping[:, 2] -= (x0, y0)

    step = math.sqrt(abs(np.linalg.det(mapping[:, :2])))  # source pixels per output pixel
    if step > 1.5:
        target = (max(1, round(region.shape[1] / step)), max(1, round(region.shape[0] / step)))
        shrink = np.array([target[0] / region.shape[1], target[1] / region.shape[0]])
        region = cv2.resize(region, target, interpolation=cv2.INTER_AREA)
        mapping = mapping * shrink[:, None]
    return cv2.warpAffine(
        np.ascontiguousarray(region),
        mapping,
        (out_w, out_h),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=_BORDERS[border],
    )


def _ftyp_brands(data: bytes) -> set[bytes]:
    box_size = int.from_bytes(data[:4], "big")
    end = min(max(box_size, 16), 256, len(data))
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def _gif_reason(data: bytes) -> Reason:
    try:
        with Image.open(io.BytesIO(data), formats=["GIF"]) as gif:
            if getattr(gif, "is_animated", False):
                return Reason("animated")
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return Reason("damaged")
    return Reason("unsupported_type", {"format": "GIF"})


def _too_many_pixels(width: int, height: int, max_pixels: int) -> ImageRejected:
    return ImageRejected(
        Reason("too_many_pixels", {"width": width, "height": height, "max_pixels": max_pixels})
    )


def _open_with_pillow(data: bytes, kind: str, max_pixels: int) -> Image.Image:
    # Restricting Pillow to the sniffed format keeps it from guessing its way into a plugin
    # (EPS, PSD, ...) that the sniffing did not agree to.
    pillow_format = {"JPEG": "JPEG", "PNG": "PNG", "WebP": "WEBP"}[kind]
    try:
        image = Image.open(io.BytesIO(data), formats=[pillow_format])
    except Image.DecompressionBombError:
        # Pillow refuses on its own past ~179 MP, before telling us the size.
        raise ImageRejected(Reason("too_many_pixels", {"max_pixels": max_pixels})) from None
    except (OSError, SyntaxError, ValueError):
        raise ImageRejected(Reason("damaged")) from None

    width, height = image.size
    # `size` comes from the header alone: this is the bomb check, before any pixel is decoded.
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    # MPO (a JPEG with extra pictures: depth maps, previews) is a still photo; APNG and animated
    # WebP are not.
    if image.format != "MPO" and getattr(image, "is_animated", False):
        raise ImageRejected(Reason("animated"))
    try:
        image.load()
        return ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError):
        raise ImageRejected(Reason("damaged")) from None


def _open_heif(data: bytes, max_pixels: int) -> Image.Image:
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=True)
        width, height = heif.size
    except (OSError, ValueError, RuntimeError):
        raise ImageRejected(Reason("damaged")) from None
    if width * height > max_pixels:
        raise _too_many_pixels(width, height, max_pixels)
    if data[8:12] in (b"msf1", b"hevs"):
        # An image sequence (HEICS, "animated HEIC"); stills with a burst inside use `mif1`.
        raise ImageRejected(Reason("animated"))
    try:
        # libheif applies the container's rotation and mirroring itself (and pillow_heif resets
        # the EXIF orientation to match), so no exif_transpose here: it would rotate twice.
        return heif.to_pillow()
    except (OSError, ValueError, RuntimeError):
        raise ImageRejected(Reason("damaged")) from None


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale PNGs: a plain convert("L") would clip every value above 255 to
        # white, so scale the full 16-bit range down instead.
        levels = np.asarray(image, dtype=np.float64) / 257.0
        image = Image.fromarray(np.clip(np.rint(levels), 0, 255).astype(np.uint8), "L")
    elif image.mode == "F":
        levels = np.asarray(image, dtype=np.float64)
        top = 1.0 if levels.max(initial=0.0) <= 1.0 else 255.0
        image = Image.fromarray(np.clip(np.rint(levels * 255 / top), 0, 255).astype(np.uint8))

    if _has_alpha(image):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")

    icc = image.info.get("icc_profile")
    if icc and image.mode in ("RGB", "CMYK"):
        converted = _icc_to_srgb(image, icc)
        if converted is not None:
            return converted
    return image if image.mode == "RGB" else image.convert("RGB")


def _has_alpha(image: Image.Image) -> bool:
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        return True
    return image.mode in ("P", "L", "RGB") and "transparency" in image.info


def _icc_to_srgb(image: Image.Image, icc: bytes) -> Image.Image | None:
    # Phones tag photos Display P3 and print files carry CMYK profiles; dropping the profile
    # without converting would shift every colour, so convert first and drop it after.
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        return ImageCms.profileToProfile(
            image, source, ImageCms.createProfile("sRGB"), outputMode="RGB"
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return None


def _bare_copy(image: Image.Image) -> Image.Image:
    """A copy that shares no metadata with its source: fresh `info`, no cached EXIF."""
    return Image.frombytes(image.mode, image.size, image.tobytes())
