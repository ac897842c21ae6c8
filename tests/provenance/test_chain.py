"""The whole chain: label, watermark, XMP and signature, in that order."""

import io

import numpy as np
import pytest
from PIL import Image

from portrait.provenance import (
    ProvenanceConfig,
    apply_provenance,
    label_box,
    read_xmp_label,
    verify_image,
)
from portrait.provenance.watermark import payload_for_render, payload_hex

from .conftest import RENDER_ID


def test_signed_file_still_carries_every_earlier_layer(material, signed_jpeg):
    result = verify_image(signed_jpeg.data, trust_anchors_pem=material.root_cert_pem)
    assert result.c2pa.state == "Trusted"  # signed last: nothing changed after it
    assert result.xmp_label
    assert result.watermark.render_id == RENDER_ID


def test_label_is_under_the_watermark(material, portrait, signed_jpeg):
    image = np.asarray(Image.open(io.BytesIO(signed_jpeg.data)).convert("L"), dtype=float)
    left, top, right, bottom = label_box(portrait.size)
    region = image[top:bottom, left:right]
    assert np.percentile(region, 99) > 200  # white text survived the watermark and JPEG


def test_result_reports_payload_mime_and_step_timings(signed_jpeg):
    assert signed_jpeg.mime == "image/jpeg"
    assert signed_jpeg.watermark_payload_hex == payload_hex(payload_for_render(RENDER_ID))
    assert set(signed_jpeg.timings) == {"label", "watermark", "encode", "xmp", "sign", "total"}


def test_xmp_names_the_producer_and_the_opaque_id_only(material, portrait):
    config = ProvenanceConfig(material=material, producer="Example Studio")
    result = apply_provenance(portrait, render_id=42, style="s", base_model="m", config=config)
    aigc = read_xmp_label(result.data)["AIGC"]
    assert aigc["ContentProducer"] == "Example Studio"
    assert aigc["ProduceID"] == result.watermark_payload_hex
    assert {aigc[k] for k in ("ReservedCode1", "ContentPropagator", "PropagateID")} == {""}


def test_id_photo_is_png_with_label_where_configured(material, id_photo):
    config = ProvenanceConfig(material=material, format="PNG", label_position="top-right")
    result = apply_provenance(id_photo, render_id=5, style="id", base_model="m", config=config)
    assert result.mime == "image/png"
    out = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"))
    left, top, right, bottom = label_box(id_photo.size, "top-right")
    original = np.asarray(id_photo)
    assert not np.array_equal(out[top:bottom, left:right], original[top:bottom, left:right])
    # Far from both the label and the person, the background stays within ±2 of its colour
    # (the watermark moves flat pixels by at most that much).
    assert np.abs(out[-8:, :8].astype(int) - (67, 142, 219)).max() <= 2


def test_label_can_be_turned_off(material, id_photo):
    config = ProvenanceConfig(
        material=material, format="PNG", label_enabled=False, label_position="top-left"
    )
    result = apply_provenance(id_photo, render_id=5, style="id", base_model="m", config=config)
    out = np.asarray(Image.open(io.BytesIO(result.data)).convert("RGB"))
    left, top, right, bottom = label_box(id_photo.size, "top-left")  # plain background there
    assert np.abs(out[top:bottom, left:right].astype(int) - (67, 142, 219)).max() <= 2


def test_unknown_format_is_refused(material, portrait):
    with pytest.raises(ValueError, match="format"):
        apply_provenance(
            portrait,
            render_id=1,
            style="s",
            base_model="m",
            config=ProvenanceConfig(material=material, format="WEBP"),
        )
