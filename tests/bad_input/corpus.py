"""The bad-input corpus: every file a person (or an attacker) might send as a photo, built here
from the test faces and raw bytes, with what the service must answer to each.

A case with ``code=None`` must be accepted. Any other must be refused with that reason code and
a message holding ``words``. Faces: ``FACE`` is a photo of the person whose verification
selfie is ``tests.flow.SELFIE``; the other people come from the faces folder's README.
"""

import functools
import io
import struct
import zipfile
import zlib
from dataclasses import dataclass

import numpy as np
import pillow_heif
from PIL import ExifTags, Image, ImageDraw, ImageFilter

from tests.conftest import face_bytes

FACE = "obama_2.jpg"

# Zip member that a polyglot hides behind the photo; it must not survive into storage.
HIDDEN_NAME = b"hidden-payload.txt"


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    build: object  # () -> bytes
    code: str | None = None
    words: str = ""

    @property
    def accepted(self):
        return self.code is None

    def data(self):
        return _built(self.build)


@functools.cache
def _built(build):
    return build()


def face():
    return Image.open(io.BytesIO(face_bytes(FACE))).convert("RGB")


def encoded(image, format, **options):
    if format == "PNG":
        # Fast compression: the corpus is rebuilt on every run.
        options.setdefault("compress_level", 1)
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def png_chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def raw_png(width, height, bit_depth, colour_type, scanlines):
    """A PNG written by hand, for what Pillow will not write: 16-bit RGB, and bombs whose
    pixels Pillow would have to hold in memory to write them. ``scanlines`` yields the pixel
    rows, each after its filter byte, in pieces of any size."""
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(piece) for piece in scanlines) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def png_bomb(side):
    """A complete, valid 1-bit PNG of side x side black pixels: a few hundred kilobytes that
    decode to side² bytes."""
    block = bytes(1 + (side + 7) // 8) * 1000
    return raw_png(side, side, 1, 0, (block for _ in range(side // 1000)))


def jpeg_bomb():
    """A JPEG whose frame header declares 65500 x 65500 pixels, with a face's scan after it."""
    data = bytearray(encoded(face(), "JPEG", quality=80))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65500, 65500)
    return bytes(data)


def with_orientation(value):
    """The face stored as a camera stores it (pixels turned) with the EXIF tag that turns it
    upright again."""
    turn = {
        3: Image.Transpose.ROTATE_180,
        6: Image.Transpose.ROTATE_90,
        8: Image.Transpose.ROTATE_270,
    }
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = value
    return encoded(face().transpose(turn[value]), "JPEG", quality=92, exif=exif)


def with_gps():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 29.5)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (2.0, 17.0, 40.2)
    return encoded(face(), "JPEG", quality=92, exif=exif)


def broken_exif():
    """A JPEG whose EXIF segment announces an IFD with thousands of entries and holds none."""
    data = encoded(face(), "JPEG", quality=90)
    tiff = b"MM\x00*\x00\x00\x00\x08" + b"\xff\xff" + b"\x01\x12" * 8
    segment = b"Exif\x00\x00" + tiff
    return data[:2] + b"\xff\xe1" + struct.pack(">H", len(segment) + 2) + segment + data[2:]


def zip_of_face():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("face.jpg", face_bytes(FACE))
    return buffer.getvalue()


def jpeg_zip_polyglot():
    """A JPEG that is also a ZIP archive (the archive appended after the image's end)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(HIDDEN_NAME.decode(), "<script>alert(1)</script>")
    return face_bytes(FACE) + buffer.getvalue()


def html_jpeg_polyglot():
    """An HTML page that carries a whole JPEG after its markup."""
    return b"<html><script>alert(document.cookie)</script><!--" + face_bytes(FACE) + b"-->"


def pdf():
    return encoded(face(), "PDF")


def sixteen_bit_rgb():
    pixels = np.asarray(face(), np.uint16) * 257
    height, width, _ = pixels.shape
    big_endian = pixels.astype(">u2")
    return raw_png(width, height, 16, 2, (b"\0" + big_endian[y].tobytes() for y in range(height)))


def frames(format, **options):
    # Small: GIF's palette search is slow on a full photo, and the animation is what counts.
    still = face().resize((104, 200))
    shifted = Image.eval(still, lambda value: 255 - value)
    return encoded(still, format, save_all=True, append_images=[shifted], duration=200, **options)


def over_the_limit(limit):
    """The face, padded after its end marker to one byte over the upload size limit."""
    data = face_bytes(FACE)
    return data + b"\0" * (limit + 1 - len(data))


def no_face():
    rng = np.random.default_rng(7)
    sky = np.linspace(90, 230, 600, dtype=np.uint8)[:, None, None] * np.ones((1, 800, 3), np.uint8)
    hills = rng.integers(0, 40, (600, 800, 3), dtype=np.uint8)
    return encoded(Image.fromarray(sky - hills * (np.arange(600) > 400)[:, None, None]), "JPEG")


def drawing_of_a_face():
    """A face as a child draws it: head, eyes, nose, smile."""
    image = Image.new("RGB", (600, 700), "white")
    pen = ImageDraw.Draw(image)
    pen.ellipse((150, 150, 450, 550), fill=(240, 200, 170), outline="black", width=6)
    for x in (230, 330):
        pen.ellipse((x, 290, x + 45, 325), fill="white", outline="black", width=4)
        pen.ellipse((x + 14, 298, x + 32, 318), fill="black")
    pen.line((300, 340, 285, 410, 310, 410), fill="black", width=4)
    pen.arc((230, 380, 370, 480), 20, 160, fill="black", width=6)
    return encoded(image, "PNG")


def face_too_small():
    """The photo shrunk until the face is under 90 px wide, on a larger canvas: found, but too
    small."""
    canvas = Image.new("RGB", (400, 400), (128, 128, 128))
    canvas.paste(face().resize((170, 326)), (100, 20))
    return encoded(canvas, "JPEG", quality=95)


def darkened():
    return encoded(Image.eval(face(), lambda value: value // 12), "JPEG", quality=95)


def blurred():
    return encoded(face().filter(ImageFilter.GaussianBlur(9)), "JPEG", quality=92)


def progressive():
    return encoded(face(), "JPEG", quality=90, progressive=True)


def cmyk():
    return encoded(face().convert("CMYK"), "JPEG", quality=92)


def grey():
    return encoded(face().convert("L"), "JPEG", quality=92)


def grey_16_bit():
    levels = np.asarray(face().convert("L"), np.uint16) * 257
    return encoded(Image.fromarray(levels), "PNG")


def palette():
    return encoded(face().quantize(256, method=Image.Quantize.FASTOCTREE), "PNG")


def transparent_corners():
    rgba = face().convert("RGBA")
    rgba.paste((0, 0, 0, 0), (0, 0, 60, 60))
    return encoded(rgba, "PNG")


def heic():
    buffer = io.BytesIO()
    # x265's fastest preset: the default one takes seconds on a small CPU.
    pillow_heif.from_pillow(face()).save(
        buffer, format="HEIF", quality=85, enc_params={"preset": "ultrafast"}
    )
    return buffer.getvalue()


def avif():
    return b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf" + b"\0" * 200


def truncated(format):
    data = encoded(face(), format)
    return data[: len(data) // 2]


def _face_file(name):
    return lambda: face_bytes(name)


def _encoded_face(format, **options):
    return lambda: encoded(face(), format, **options)


UPLOAD_LIMIT = 20 * 1024 * 1024  # settings.SITTER_MAX_UPLOAD_BYTES's default

CASES = [
    # Still photos in every accepted form.
    Case("jpeg", "me.jpg", _face_file(FACE)),
    Case("png", "me.png", _encoded_face("PNG")),
    Case("webp", "me.webp", _encoded_face("WEBP", quality=90)),
    Case("heic", "IMG_0001.HEIC", heic),
    Case("progressive_jpeg", "me.jpg", progressive),
    Case("cmyk_jpeg", "print.jpg", cmyk),
    Case("greyscale_jpeg", "grey.jpg", grey),
    Case("png_16_bit_grey", "scan.png", grey_16_bit),
    Case("png_16_bit_rgb", "raw.png", sixteen_bit_rgb),
    Case("palette_png", "me.png", palette),
    Case("png_with_alpha", "me.png", transparent_corners),
    Case("exif_gps", "holiday.jpg", with_gps),
    Case("exif_orientation_3", "upside-down.jpg", lambda: with_orientation(3)),
    Case("exif_orientation_6", "turned-right.jpg", lambda: with_orientation(6)),
    Case("exif_orientation_8", "turned-left.jpg", lambda: with_orientation(8)),
    Case("broken_exif", "me.jpg", broken_exif),
    Case("png_named_jpg", "me.jpg", _encoded_face("PNG")),
    Case("jpeg_named_heic", "me.heic", _face_file(FACE)),
    Case("jpeg_zip_polyglot", "me.jpg", jpeg_zip_polyglot),
    Case("hostile_file_name", "../../etc/passwd<script>.jpg", _face_file(FACE)),
    Case("long_unicode_file_name", "照片-" + "é" * 300 + ".jpg", _face_file(FACE)),
    # Not images at all.
    Case("empty", "me.jpg", lambda: b"", "empty", "empty"),
    Case(
        "html_named_jpg", "me.jpg", lambda: b"<!DOCTYPE html><p>hi", "not_an_image", "not a photo"
    ),
    Case(
        "svg_named_jpg",
        "me.jpg",
        lambda: b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>',
        "not_an_image",
        "not a photo",
    ),
    Case("pdf_named_jpg", "me.jpg", pdf, "not_an_image", "not a photo"),
    Case("zip_named_jpg", "me.jpg", zip_of_face, "not_an_image", "not a photo"),
    Case("html_jpeg_polyglot", "me.jpg", html_jpeg_polyglot, "not_an_image", "not a photo"),
    Case(
        "elf_named_jpg",
        "me.jpg",
        lambda: b"\x7fELF\x02\x01\x01" + b"\0" * 300,
        "not_an_image",
        "not a photo",
    ),
    Case("avif", "me.avif", avif, "unsupported_type", "AVIF images are not accepted"),
    # Broken images.
    Case("truncated_jpeg", "me.jpg", lambda: truncated("JPEG"), "damaged", "damaged"),
    Case("truncated_png", "me.png", lambda: truncated("PNG"), "damaged", "damaged"),
    Case("jpeg_marker_only", "me.jpg", lambda: b"\xff\xd8\xff\xe0", "damaged", "damaged"),
    # Too big, in bytes or in pixels.
    Case(
        "over_the_size_limit",
        "big.jpg",
        lambda: over_the_limit(UPLOAD_LIMIT),
        "too_large",
        "the limit is 20 MB",
    ),
    Case("png_bomb_30000", "bomb.png", lambda: png_bomb(30_000), "too_many_pixels", "too large"),
    Case("png_bomb_9000", "bomb.png", lambda: png_bomb(9_000), "too_many_pixels", "too large"),
    Case("jpeg_bomb", "bomb.jpg", jpeg_bomb, "too_many_pixels", "too large"),
    # Images that are not still photos.
    Case("animated_gif", "me.gif", lambda: frames("GIF"), "animated", "Animated"),
    Case("animated_webp", "me.webp", lambda: frames("WEBP"), "animated", "Animated"),
    Case("animated_png", "me.png", lambda: frames("PNG"), "animated", "Animated"),
    Case(
        "still_gif",
        "me.gif",
        lambda: encoded(face().resize((104, 200)), "GIF"),
        "unsupported_type",
        "GIF images are not accepted",
    ),
    Case("bmp", "me.bmp", _encoded_face("BMP"), "unsupported_type", "BMP images are not accepted"),
    Case(
        "tiff", "me.tiff", _encoded_face("TIFF"), "unsupported_type", "TIFF images are not accepted"
    ),
    Case(
        "tiny_image",
        "me.jpg",
        lambda: encoded(face().resize((52, 100)), "JPEG"),
        "too_small_image",
        "too small",
    ),
    # Images without exactly one usable face of the person.
    Case("no_face", "view.jpg", no_face, "no_face", "No face found"),
    Case("drawing_of_a_face", "drawing.png", drawing_of_a_face, "drawing", "drawing, not a photo"),
    Case("two_faces", "us.jpg", _face_file("group_two_people.jpg"), "several_faces", "2 faces"),
    Case("another_person", "friend.jpg", _face_file("biden_1.jpg"), "selfie_mismatch", "selfie"),
    Case("face_cut_off", "me.jpg", _face_file("obama_partial_face.jpg"), "face_cut_off", "cut off"),
    Case("face_too_small", "far.jpg", face_too_small, "face_too_small", "Face too small"),
    Case("too_dark", "night.jpg", darkened, "too_dark", "Too dark"),
    Case("blurry", "shake.jpg", blurred, "blurry", "Blurry"),
]


def named(name):
    return next(case for case in CASES if case.name == name)
