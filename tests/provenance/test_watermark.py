"""Invisible watermark: payload, invisibility, robustness and no false positives."""

import hashlib
import uuid

import numpy as np
import pytest
from PIL import Image

from bench.provenance import (
    ID_COLOURS,
    ID_SIZES,
    cropped,
    jpeg,
    png_resaved,
    psnr,
    resized,
    unmarked_images,
)
from portrait.provenance import apply_label, label_box, watermark
from portrait.provenance.watermark import (
    DEFAULT_BACKEND,
    PAYLOAD_BITS,
    WatermarkBackend,
    detect,
    payload_for_render,
    payload_hex,
    render_id_from_payload,
    watermark_id_for,
)

RENDER_ID = 3_141_592_653


@pytest.fixture(scope="module")
def marked(portrait):
    return DEFAULT_BACKEND.embed(portrait, payload_for_render(RENDER_ID))


def _bit_accuracy(image: Image.Image) -> float:
    return float(np.mean(DEFAULT_BACKEND.read(image).bits == payload_for_render(RENDER_ID)))


def test_payload_round_trips_the_render_id():
    bits = payload_for_render(RENDER_ID)
    assert bits.shape == (PAYLOAD_BITS,)
    assert render_id_from_payload(bits) == RENDER_ID
    assert payload_hex(bits) == f"{RENDER_ID:08x}" + payload_hex(bits)[8:]


def test_any_single_flipped_bit_fails_the_check():
    bits = payload_for_render(RENDER_ID)
    for index in range(PAYLOAD_BITS):
        flipped = bits.copy()
        flipped[index] ^= 1
        assert render_id_from_payload(flipped) is None


def test_uuid_render_maps_to_its_first_32_bits():
    render = uuid.UUID("12345678-9abc-4def-8123-456789abcdef")
    assert watermark_id_for(render) == 0x12345678
    assert render_id_from_payload(payload_for_render(render)) == 0x12345678


def test_id_wider_than_32_bits_is_refused():
    with pytest.raises(ValueError):
        payload_for_render(1 << 32)


def test_mark_is_invisible_by_psnr(portrait, marked):
    assert psnr(portrait, marked) >= 38.0


def test_clean_mark_is_found(marked):
    found = detect(marked)
    assert found.found and found.render_id == RENDER_ID
    assert found.payload_hex == payload_hex(payload_for_render(RENDER_ID))


@pytest.mark.parametrize(
    "edit",
    [lambda im: jpeg(im, 75), lambda im: resized(im, 0.5), lambda im: jpeg(resized(im, 0.5), 75)],
    ids=["jpeg75", "resize50", "resize50+jpeg75"],
)
def test_mark_survives_compression_and_rescaling(marked, edit):
    edited = edit(marked)
    assert _bit_accuracy(edited) >= 0.95
    assert detect(edited).render_id == RENDER_ID


@pytest.mark.parametrize("share", [0.05, 0.10])
def test_mark_survives_cropping(marked, share):
    assert detect(cropped(marked, share)).render_id == RENDER_ID


def test_one_sided_crop_is_found_too(marked):
    assert detect(marked.crop((37, 61, 512, 512))).render_id == RENDER_ID


def test_id_photo_background_stays_within_two_levels(id_photo):
    marked_id = DEFAULT_BACKEND.embed(id_photo, payload_for_render(RENDER_ID))
    background = np.all(np.asarray(id_photo) == (67, 142, 219), axis=-1)
    change = np.abs(np.asarray(marked_id, int) - np.asarray(id_photo, int))
    # Every background pixel, the rim around the person included.
    assert change[background].max() <= 2
    assert detect(jpeg(marked_id, 90)).render_id == RENDER_ID


@pytest.mark.parametrize("colour", list(ID_COLOURS))
@pytest.mark.parametrize("size", ID_SIZES, ids=[f"{w}x{h}" for w, h in ID_SIZES])
def test_labelled_flat_id_photo_carries_a_mark_within_two_levels(size, colour):
    # What the ID-photo module outputs when it finds no face: the background and the label.
    plain = Image.new("RGB", size, ID_COLOURS[colour])
    labelled = apply_label(plain)
    marked_id = png_resaved(DEFAULT_BACKEND.embed(labelled, payload_for_render(RENDER_ID)))
    found = detect(marked_id)
    assert found.render_id == RENDER_ID
    assert found.payload_hex == payload_hex(payload_for_render(RENDER_ID))
    left, top, right, bottom = label_box(size)
    change = np.abs(np.asarray(marked_id, int) - np.asarray(plain, int))
    change[top:bottom, left:right] = 0
    assert change.max() <= 2  # saturated channels (255 and 0) included


def test_flat_image_without_a_label_carries_a_mark_too():
    plain = Image.new("RGB", (256, 256), (255, 255, 255))
    marked_plain = DEFAULT_BACKEND.embed(plain, payload_for_render(RENDER_ID))
    assert np.abs(np.asarray(marked_plain, int) - 255).max() <= 1
    assert detect(marked_plain).render_id == RENDER_ID


def test_unmarked_images_give_no_valid_payload():
    found = [detect(image).found for image in unmarked_images(200)]
    assert sum(found) <= 2  # at least 99% clean


@pytest.mark.parametrize("colour", [*ID_COLOURS.values(), (0, 0, 0), (200, 180, 170)])
@pytest.mark.parametrize("labelled", [False, True], ids=["plain", "labelled"])
def test_unmarked_flat_images_give_no_valid_payload(colour, labelled):
    image = Image.new("RGB", (413, 579), colour)
    assert not detect(apply_label(image) if labelled else image).found


def test_extract_finds_nothing_on_a_smooth_unmarked_image():
    yy, xx = np.mgrid[0:384, 0:384]
    gradient = np.stack([xx * 0.5, yy * 0.5, (xx + yy) * 0.25], axis=-1).astype(np.uint8)
    assert DEFAULT_BACKEND.extract(Image.fromarray(gradient)) is None


def test_mostly_flat_image_gets_a_faint_mark_on_its_detail(portrait):
    canvas = Image.new("RGB", (512, 512), (200, 180, 170))
    canvas.paste(portrait.crop((200, 100, 264, 164)), (200, 200))
    marked_canvas = DEFAULT_BACKEND.embed(canvas, payload_for_render(RENDER_ID))
    change = np.asarray(marked_canvas, float) - np.asarray(canvas, float)
    detail = change[200:264, 200:264]
    assert np.sqrt(np.mean(detail**2)) <= 4.5  # not the whole budget on 2% of pixels
    assert np.abs(change[:190]).max() <= 1  # the flat rest gets one level at most


def test_image_smaller_than_a_tile_is_refused():
    with pytest.raises(ValueError, match="too small"):
        DEFAULT_BACKEND.embed(Image.new("RGB", (100, 300)), payload_for_render(1))


def test_layout_never_changes():
    # Marks embedded today must decode for ever: the layout comes from SHA-256, not a library RNG.
    layout = watermark._make_layout(watermark.DEFAULT_KEY, PAYLOAD_BITS)
    digest = hashlib.sha256()
    digest.update(layout.pilot_cells.astype(">f4").tobytes())
    digest.update(layout.data_index.astype(">u2").tobytes())
    digest.update(layout.data_chip.astype(">f4").tobytes())
    assert digest.hexdigest() == "0b99bf657364cfb78afe608c0ac164134aee851f27b1887d8053101e96c9a44b"


class _InfoBackend:
    """A trivial backend that keeps the bits in the image's info dict, to exercise the protocol."""

    name = "info-test"

    def embed(self, image, payload_bits):
        copy = image.copy()
        copy.info["bits"] = np.array(payload_bits, dtype=np.uint8)
        return copy

    def extract(self, image):
        return image.info.get("bits")


def test_detect_accepts_any_backend_and_still_checks_the_payload():
    backend = _InfoBackend()
    assert isinstance(backend, WatermarkBackend)
    image = backend.embed(Image.new("RGB", (8, 8)), payload_for_render(RENDER_ID))
    assert detect(image, backend).render_id == RENDER_ID
    image.info["bits"][0] ^= 1
    assert not detect(image, backend).found
