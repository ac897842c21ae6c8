"""XMP label: AIGC field and IPTC source type, written into JPEG and PNG in memory."""

import io

import numpy as np
import pytest
from PIL import Image

from portrait.provenance.xmp import (
    AIGC_KEYS,
    TRAINED_ALGORITHMIC_MEDIA,
    XmpError,
    XmpLabel,
    embed_xmp,
    embed_xmp_png,
    read_xmp_label,
    read_xmp_packet,
)

LABEL = XmpLabel(content_producer="Sitter", produce_id="05177e12e301")


def _encoded(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_label_round_trips(portrait, fmt):
    labelled = embed_xmp(_encoded(portrait, fmt), LABEL)
    found = read_xmp_label(labelled)
    assert found["AIGC"] == LABEL.aigc()
    assert found["AIGC"]["Label"] == "1"
    assert found["AIGC"]["ProduceID"] == "05177e12e301"
    assert found["DigitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA


def test_aigc_field_has_exactly_the_practice_guide_keys():
    assert tuple(LABEL.aigc()) == AIGC_KEYS


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_pixels_are_untouched(portrait, fmt):
    encoded = _encoded(portrait, fmt)
    labelled = embed_xmp(encoded, LABEL)
    before = np.asarray(Image.open(io.BytesIO(encoded)))
    after = np.asarray(Image.open(io.BytesIO(labelled)))
    assert np.array_equal(before, after)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_writing_twice_keeps_one_packet(portrait, fmt):
    once = embed_xmp(_encoded(portrait, fmt), XmpLabel("First", "aaaa"))
    twice = embed_xmp(once, LABEL)
    assert twice.count(b"http://www.tc260.org.cn/ns/AIGC/1.0/") == 1
    assert read_xmp_label(twice)["AIGC"]["ContentProducer"] == "Sitter"


def test_pillow_sees_the_packet(portrait):
    labelled = embed_xmp(_encoded(portrait, "PNG"), LABEL)
    assert "XML:com.adobe.xmp" in Image.open(io.BytesIO(labelled)).info


def test_jpeg_packet_follows_the_jfif_header(portrait):
    labelled = embed_xmp(_encoded(portrait, "JPEG"), LABEL)
    assert labelled[2:4] == b"\xff\xe0"  # APP0 (JFIF) is still first
    assert labelled.index(b"http://ns.adobe.com/xap/1.0/\x00") < labelled.index(b"\xff\xda")


def test_image_without_xmp_has_no_label(portrait):
    assert read_xmp_label(_encoded(portrait, "JPEG")) is None
    assert read_xmp_packet(_encoded(portrait, "PNG")) is None


def test_garbage_has_no_label():
    assert read_xmp_label(b"not an image at all") is None
    assert read_xmp_label(b"\xff\xd8\xff\xe1\x00") is None


def test_entity_declarations_are_refused(portrait):
    hostile = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]>'
        b'<x:xmpmeta xmlns:x="adobe:ns:meta/"/>'
    )
    assert read_xmp_label(embed_xmp_png(_encoded(portrait, "PNG"), hostile)) is None


def test_other_formats_are_refused(portrait):
    with pytest.raises(XmpError):
        embed_xmp(_encoded(portrait, "GIF"), LABEL)
