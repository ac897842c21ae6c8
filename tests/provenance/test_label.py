"""Visible label: size, corner, legibility and real CJK glyphs."""

import numpy as np
import pytest
from PIL import Image, ImageChops

from portrait.provenance.label import (
    LABEL_LINES,
    LABEL_TEXT,
    LabelPosition,
    apply_label,
    label_box,
    label_font,
    label_layout,
)


def _ink_height(image: Image.Image, box) -> int:
    """Rows inside ``box`` that hold white text pixels."""
    region = np.asarray(image.crop(box).convert("L"))
    return int((region > 200).any(axis=1).sum())


@pytest.mark.parametrize("position", list(LabelPosition))
def test_label_sits_in_the_requested_corner(position):
    width, height = 600, 400
    left, top, right, bottom = label_box((width, height), position)
    assert (left < width - right) == position.value.endswith("left")
    assert (top < height - bottom) == position.value.startswith("top")


def test_label_changes_only_its_box(portrait):
    labelled = apply_label(portrait, "bottom-left")
    box = label_box(portrait.size, "bottom-left")
    assert ImageChops.difference(portrait, labelled).getbbox() is not None
    outside = np.asarray(labelled).copy()
    original = np.asarray(portrait).copy()
    outside[box[1] : box[3], box[0] : box[2]] = 0
    original[box[1] : box[3], box[0] : box[2]] = 0
    assert np.array_equal(outside, original)


@pytest.mark.parametrize("size", [(512, 512), (295, 413), (1024, 768), (600, 1800)])
def test_text_is_at_least_5_percent_of_the_shorter_side(size):
    layout = label_layout(size)
    assert layout.text_height >= 0.05 * min(size)
    # Measure the ink itself on a uniform image: the CJK glyphs must reach that height.
    labelled = apply_label(Image.new("RGB", size, (128, 128, 128)))
    assert _ink_height(labelled, layout.box) >= 0.05 * min(size)


def test_label_is_one_line_when_it_fits_and_two_when_narrow():
    assert label_layout((512, 512)).lines == (LABEL_TEXT,)
    assert label_layout((200, 1000)).lines == (LABEL_TEXT,)
    # A thumbnail-sized image gets the minimum legible text, too wide for one line.
    assert label_layout((90, 120)).lines == LABEL_LINES


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (250, 240, 200)])
def test_text_stands_out_on_light_and_dark_backgrounds(background):
    image = Image.new("RGB", (512, 512), background)
    box = label_box(image.size)
    region = np.asarray(apply_label(image).crop(box).convert("L"), dtype=float)
    text, box_fill = np.percentile(region, 99), np.percentile(region, 10)
    assert text - box_fill > 120


def test_chinese_glyphs_render_and_are_not_tofu():
    font = label_font(48)
    unknown = np.asarray(font.getmask("龘"))  # not in the bundled subset: drawn as .notdef
    for glyph in "AI生成":
        ink = np.asarray(font.getmask(glyph))
        assert ink.size and ink.max() > 0
        assert ink.shape != unknown.shape or not np.array_equal(ink, unknown)
    assert not np.array_equal(np.asarray(font.getmask("生")), np.asarray(font.getmask("成")))


def test_unknown_position_is_refused():
    with pytest.raises(ValueError):
        label_box((512, 512), "middle")


def test_image_too_small_for_a_label_is_refused():
    with pytest.raises(ValueError, match="too small"):
        label_layout((40, 40))
