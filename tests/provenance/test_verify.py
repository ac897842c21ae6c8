"""Verification: every layer read back, trust, tampering, re-encoding and garbage."""

import io

import pytest
from PIL import Image

from bench.provenance import jpeg
from portrait.provenance import (
    NotAnImage,
    ProvenanceConfig,
    apply_provenance,
    create_signing_chain,
    verify_image,
)
from portrait.provenance.xmp import TRAINED_ALGORITHMIC_MEDIA

from .conftest import RENDER_ID


def _jpeg_bytes(image: Image.Image, quality: int = 75) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def test_signed_output_is_trusted_with_its_root(material, signed_jpeg):
    result = verify_image(signed_jpeg.data, trust_anchors_pem=material.root_cert_pem)
    assert result.c2pa.state == "Trusted"
    assert result.c2pa.source_type == TRAINED_ALGORITHMIC_MEDIA
    assert result.c2pa.generator.startswith("Sitter ")
    assert (result.c2pa.style, result.c2pa.base_model) == ("business", "tiny")


def test_signed_output_is_valid_but_untrusted_without_anchor(signed_jpeg):
    result = verify_image(signed_jpeg.data)
    assert result.c2pa.state == "Valid"
    assert "signingCredential.untrusted" in result.c2pa.issues


def test_another_root_does_not_make_it_trusted(signed_jpeg):
    stranger = create_signing_chain("Someone else").root_cert_pem
    assert verify_image(signed_jpeg.data, trust_anchors_pem=stranger).c2pa.state == "Valid"


def test_one_changed_byte_makes_it_invalid(material, signed_jpeg):
    tampered = bytearray(signed_jpeg.data)
    tampered[-1000] ^= 0x01  # inside the entropy-coded pixels
    result = verify_image(bytes(tampered), trust_anchors_pem=material.root_cert_pem)
    assert result.c2pa.state == "Invalid"


def test_corrupt_png_body_is_still_reported_invalid(material, id_photo):
    config = ProvenanceConfig(material=material, format="PNG")
    signed = apply_provenance(id_photo, render_id=7, style="id", base_model="tiny", config=config)
    tampered = bytearray(signed.data)
    tampered[len(tampered) // 2] ^= 0xFF
    result = verify_image(bytes(tampered), trust_anchors_pem=material.root_cert_pem)
    assert result.c2pa.state == "Invalid"
    assert not result.pixels_readable and not result.watermark.found


def test_all_layers_are_read_back(signed_jpeg):
    result = verify_image(signed_jpeg.data)
    assert result.xmp_label and result.xmp["AIGC"]["ProduceID"] == signed_jpeg.watermark_payload_hex
    assert result.watermark.found and result.watermark.render_id == RENDER_ID
    assert result.c2pa.soft_binding == result.watermark.payload == signed_jpeg.watermark_payload_hex


def test_reencoded_copy_is_recognised_by_its_watermark(signed_jpeg):
    copy = _jpeg_bytes(Image.open(io.BytesIO(signed_jpeg.data)))
    result = verify_image(copy)
    assert result.c2pa.state == "absent" and not result.xmp_label
    assert result.watermark.found and result.watermark.render_id == RENDER_ID


def test_png_output_verifies(material, id_photo):
    config = ProvenanceConfig(material=material, format="PNG", label_position="top-left")
    signed = apply_provenance(id_photo, render_id=9, style="id", base_model="tiny", config=config)
    result = verify_image(signed.data, trust_anchors_pem=material.root_cert_pem)
    assert result.mime == "image/png" and result.c2pa.state == "Trusted"
    assert result.xmp_label and result.watermark.render_id == 9


def test_unmarked_photo_has_no_provenance(portrait):
    result = verify_image(_jpeg_bytes(portrait, 90))
    assert result.c2pa.state == "absent"
    assert not result.xmp_label and not result.watermark.found


def test_result_serialises_to_plain_data(signed_jpeg):
    as_dict = verify_image(signed_jpeg.data).to_dict()
    assert as_dict["c2pa"]["state"] == "Valid"
    assert as_dict["watermark"]["found"] is True


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world", b"\xff\xd8\xff\xe0garbage", b"\x89PNG\r\n\x1a\n" + b"\0" * 20],
    ids=["empty", "text", "jpeg-magic", "png-magic"],
)
def test_garbage_raises_not_an_image(data):
    with pytest.raises(NotAnImage):
        verify_image(data)


def test_other_image_formats_raise_not_an_image(portrait):
    buffer = io.BytesIO()
    portrait.save(buffer, "GIF")
    with pytest.raises(NotAnImage):
        verify_image(buffer.getvalue())


def test_huge_canvas_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(buffer, "PNG")  # tiny file, 100 megapixels
    with pytest.raises(NotAnImage, match="too large"):
        verify_image(buffer.getvalue())


def test_resized_copy_is_still_recognised(signed_jpeg):
    image = Image.open(io.BytesIO(signed_jpeg.data)).convert("RGB")
    w, h = image.size
    copy = jpeg(image.resize((w // 2, h // 2)).resize((w, h)), 80)
    assert verify_image(_jpeg_bytes(copy, 90)).watermark.render_id == RENDER_ID
