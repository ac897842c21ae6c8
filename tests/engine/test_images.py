"""Upload intake: real type by content, bomb guard, orientation, metadata stripped, RGB out."""

import io
import struct
import zlib

import numpy as np
import pillow_heif
import pytest
from PIL import ExifTags, Image, ImageCms

from portrait.engine.images import (
    ImageRejected,
    Reason,
    decode_image,
    encode_clean,
    load_upload,
    sniff_type,
)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def photo(size=(300, 240), colour=(200, 120, 60), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def rejection(data: bytes, **limits) -> Reason:
    with pytest.raises(ImageRejected) as refused:
        load_upload(data, **limits)
    return refused.value.reason


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares width x height but carries only a kilobyte of pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
        + chunk(b"IEND", b"")
    )


def test_jpeg_loses_all_metadata_including_gps():
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (48.0, 51.0, 30.0)
    data = encoded(photo(), "JPEG", exif=exif, comment=b"taken at home")
    assert b"PhoneMaker" in data

    image = load_upload(data)

    assert image.info == {}
    assert len(image.getexif()) == 0
    clean = encode_clean(image)
    assert b"Exif" not in clean
    assert b"PhoneMaker" not in clean
    assert b"taken at home" not in clean


def test_exif_orientation_is_applied_before_it_is_dropped():
    sideways = np.zeros((200, 400, 3), np.uint8)
    sideways[:, :200] = (255, 0, 0)  # left half red, as stored by the camera
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # "rotate 90° clockwise to display"
    data = encoded(Image.fromarray(sideways), "JPEG", exif=exif, quality=95)

    image = load_upload(data)

    assert image.size == (200, 400)
    top, bottom = np.asarray(image)[50, 100], np.asarray(image)[350, 100]
    assert top[0] > 200 and top[2] < 50
    assert bottom[0] < 50


def test_png_with_alpha_is_composited_on_white():
    rgba = photo(colour=(0, 0, 255, 0), mode="RGBA")
    rgba.paste((0, 0, 255, 255), (0, 0, 100, 240))

    image = load_upload(encoded(rgba, "PNG"))

    assert image.mode == "RGB"
    assert image.getpixel((50, 50)) == (0, 0, 255)
    assert image.getpixel((250, 50)) == (255, 255, 255)


def test_palette_png_with_transparency_is_composited_on_white():
    palette = photo(colour=(10, 200, 10)).convert("P")
    data = encoded(palette, "PNG", transparency=palette.getpixel((0, 0)))

    assert load_upload(data).getpixel((0, 0)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("mode", "colour", "expected"),
    [("L", 128, (128, 128, 128)), ("CMYK", (0, 255, 255, 0), (255, 0, 0))],
)
def test_greyscale_and_cmyk_become_rgb(mode, colour, expected):
    image = load_upload(encoded(photo(colour=colour, mode=mode), "JPEG", quality=100))

    assert image.mode == "RGB"
    assert np.abs(np.subtract(image.getpixel((10, 10)), expected)).max() <= 3


def test_16_bit_greyscale_is_scaled_not_clipped():
    levels = np.full((240, 300), 32896, np.uint16)  # 50% grey in 16 bits
    data = encoded(Image.fromarray(levels), "PNG")

    assert load_upload(data).getpixel((5, 5)) == (128, 128, 128)


def test_embedded_icc_profile_is_applied_then_dropped():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = encoded(photo(), "JPEG", quality=100, icc_profile=srgb)

    image = load_upload(data)

    assert "icc_profile" not in image.info
    assert np.abs(np.subtract(image.getpixel((10, 10)), (200, 120, 60))).max() <= 3


def test_still_webp_and_heic_are_accepted():
    webp = encoded(photo(), "WEBP", quality=90)
    heif = io.BytesIO()
    pillow_heif.from_pillow(photo()).save(heif, format="HEIF", quality=90)

    for data in (webp, heif.getvalue()):
        image = load_upload(data)
        assert image.size == (300, 240)
        assert np.abs(np.subtract(image.getpixel((150, 120)), (200, 120, 60))).max() <= 12


@pytest.mark.parametrize("format", ["GIF", "WEBP", "PNG"])
def test_animations_are_refused(format):
    frames = [photo(colour=(255, 0, 0)), photo(colour=(0, 255, 0))]
    data = encoded(frames[0], format, save_all=True, append_images=frames[1:], duration=100)

    assert rejection(data).code == "animated"


@pytest.mark.parametrize(("format", "name"), [("GIF", "GIF"), ("BMP", "BMP"), ("TIFF", "TIFF")])
def test_other_image_types_are_unsupported(format, name):
    reason = rejection(encoded(photo(), format))

    assert reason == Reason("unsupported_type", {"format": name})
    assert "use JPEG, PNG, WebP or HEIC" in reason.message


@pytest.mark.parametrize(
    "data",
    [
        b'<svg xmlns="http://www.w3.org/2000/svg"><circle r="5"/></svg>',
        b"<!DOCTYPE html><html><body>photo.jpg</body></html>",
        b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n",
        b"PK\x03\x04\x14\x00\x00\x00\x08\x00photo.jpg",
        b"just some text that was renamed to portrait.jpg",
    ],
)
def test_documents_and_archives_are_not_images(data):
    assert rejection(data).code == "not_an_image"


def test_empty_file_is_refused():
    assert rejection(b"").code == "empty"


def test_type_is_read_from_the_bytes():
    assert sniff_type(encoded(photo(), "PNG")) == "PNG"
    assert sniff_type(encoded(photo(), "JPEG")) == "JPEG"
    assert sniff_type(b"\x89PNG\r\n\x1a\n" + encoded(photo(), "JPEG")) == "PNG"
    assert rejection(b"\x89PNG\r\n\x1a\n" + encoded(photo(), "JPEG")).code == "damaged"


def test_decompression_bomb_is_refused_from_its_header():
    # Declares 900 megapixels in a few kilobytes; decoding would also fail (the data is
    # missing), so "too_many_pixels" shows the size was judged before any decoding.
    bomb = png_header_only(30_000, 30_000)
    assert len(bomb) < 5_000

    assert rejection(bomb).code == "too_many_pixels"


def test_declared_size_over_the_limit_is_refused_with_its_dimensions():
    reason = rejection(png_header_only(8_000, 8_000), max_pixels=50_000_000)

    assert reason == Reason(
        "too_many_pixels", {"width": 8_000, "height": 8_000, "max_pixels": 50_000_000}
    )
    assert reason.message == "image too large: 64 megapixels, the limit is 50"


def test_truncated_file_is_damaged():
    data = encoded(
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (400, 400, 3), np.uint8)), "JPEG"
    )

    assert rejection(data[: len(data) // 2]).code == "damaged"
    assert rejection(encoded(photo(), "PNG")[:-40]).code == "damaged"


def test_file_over_the_byte_limit_is_refused_before_reading_it():
    reason = rejection(b"\xff\xd8\xff" + b"\0" * 2_000, max_bytes=1_000)

    assert reason == Reason("too_large", {"bytes": 2_003, "max_bytes": 1_000})


def test_tiny_image_is_refused():
    reason = rejection(encoded(photo(size=(150, 120)), "PNG"), min_side=200)

    assert reason == Reason("too_small_image", {"width": 150, "height": 120, "min_side": 200})


def test_encode_clean_writes_dpi_only_when_asked():
    image = photo()

    plain_png = Image.open(io.BytesIO(encode_clean(image, "PNG")))
    with_dpi = Image.open(io.BytesIO(encode_clean(image, "JPEG", dpi=350)))

    assert "dpi" not in plain_png.info
    assert with_dpi.info["dpi"] == (350, 350)


def test_decode_image_round_trips_clean_bytes():
    image = photo()

    assert decode_image(encode_clean(image, "PNG")).tobytes() == image.tobytes()


def test_reasons_read_as_short_english():
    assert Reason("several_faces", {"count": 2}).message.startswith("two faces")
    assert Reason("near_duplicate", {"of": 3}).message == "same photo as #3"
    assert Reason("face_too_small").message == "face too small: move closer"
    assert "different person" in Reason("different_person").message
