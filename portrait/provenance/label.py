"""Visible "AI生成 / AI-generated" label drawn in a corner of the image.

GB 45438-2025's explicit label is commonly read as text in a corner at least 5% of the image's
shorter side high. The label is white text on a semi-opaque dark box, legible on light and dark
backgrounds alike. When one line would not fit in the image's width it breaks into two lines,
Chinese above English.

The glyphs come from a bundled subset of Noto Sans CJK SC Bold (SIL Open Font License, see
``fonts/OFL.txt``), so the label renders the same on any host, with no system font and nothing
downloaded.
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

LABEL_TEXT = "AI生成 / AI-generated"
LABEL_LINES = ("AI生成", "AI-generated")
FONT_PATH = Path(__file__).with_name("fonts") / "SitterLabelSans-Bold.otf"

# Height of the CJK glyphs' ink as a share of the shorter side (the law's reading is >= 5%).
TEXT_HEIGHT_FRACTION = 0.05
# Gap between the box and the image edge, and padding inside the box, in shares of the text height.
MARGIN_FRACTION = 0.5
PADDING_FRACTION = 0.35
# The label may take at most this share of the image's width before it breaks into two lines.
MAX_WIDTH_FRACTION = 0.92
BOX_RGBA = (0, 0, 0, 150)
TEXT_RGB = (255, 255, 255)


class LabelPosition(StrEnum):
    """Corner the label sits in."""

    BOTTOM_RIGHT = "bottom-right"
    BOTTOM_LEFT = "bottom-left"
    TOP_RIGHT = "top-right"
    TOP_LEFT = "top-left"


@dataclass(frozen=True)
class LabelLayout:
    """Where the label goes and how it is set: box ``(left, top, right, bottom)`` in pixels."""

    box: tuple[int, int, int, int]
    font_size: int
    lines: tuple[str, ...]
    text_height: int


@lru_cache(maxsize=64)
def label_font(size: int) -> ImageFont.FreeTypeFont:
    """The bundled label font at ``size`` pixels per em."""
    # The basic layout engine needs no libraqm and handles this text, which needs no shaping.
    return ImageFont.truetype(str(FONT_PATH), size, layout_engine=ImageFont.Layout.BASIC)


@lru_cache(maxsize=64)
def _font_size_for(text_height: int) -> int:
    """Smallest em size whose CJK ink is at least ``text_height`` pixels tall."""
    size = max(1, math.floor(text_height / 0.9))
    while True:
        left, top, right, bottom = label_font(size).getbbox("生成")
        if bottom - top >= text_height:
            return size
        size += 1


def _text_block(font: ImageFont.FreeTypeFont, lines: tuple[str, ...]) -> tuple[int, int, int]:
    """Width, height and line advance of ``lines`` set in ``font``."""
    ascent, descent = font.getmetrics()
    advance = ascent + descent
    width = max(math.ceil(font.getlength(line)) for line in lines)
    return width, advance * len(lines), advance


def label_layout(
    size: tuple[int, int], position: str | LabelPosition = LabelPosition.BOTTOM_RIGHT
) -> LabelLayout:
    """Compute the label's box for an image of ``size`` (width, height) in corner ``position``.

    ID-photo code uses this to know which pixels the label covers before it is drawn.
    Raises ValueError for an unknown position or an image too small to hold a legible label.
    """
    position = LabelPosition(position)
    width, height = size
    text_height = max(8, math.ceil(TEXT_HEIGHT_FRACTION * min(width, height)))
    font = label_font(_font_size_for(text_height))
    padding = math.ceil(PADDING_FRACTION * text_height)
    margin = math.ceil(MARGIN_FRACTION * text_height)
    lines: tuple[str, ...] = (LABEL_TEXT,)
    block_w, block_h, _ = _text_block(font, lines)
    if block_w + 2 * padding > MAX_WIDTH_FRACTION * width:
        lines = LABEL_LINES
        block_w, block_h, _ = _text_block(font, lines)
    box_w, box_h = block_w + 2 * padding, block_h + 2 * padding
    if box_w + 2 * margin > width or box_h + 2 * margin > height:
        raise ValueError(f"image {width}x{height} is too small for a legible label")
    left = margin if position.value.endswith("left") else width - margin - box_w
    top = margin if position.value.startswith("top") else height - margin - box_h
    return LabelLayout(
        box=(left, top, left + box_w, top + box_h),
        font_size=font.size,
        lines=lines,
        text_height=text_height,
    )


def label_box(
    size: tuple[int, int], position: str | LabelPosition = LabelPosition.BOTTOM_RIGHT
) -> tuple[int, int, int, int]:
    """The ``(left, top, right, bottom)`` pixel box the label will cover."""
    return label_layout(size, position).box


def apply_label(
    image: Image.Image, position: str | LabelPosition = LabelPosition.BOTTOM_RIGHT
) -> Image.Image:
    """Return an RGB copy of ``image`` with the visible AI-generated label drawn on it."""
    layout = label_layout(image.size, position)
    result = image.convert("RGB")  # a copy, even when the image is RGB already
    left, top, right, bottom = layout.box
    # Composite only the box's region: the rest of the image is never touched.
    region = result.crop(layout.box).convert("RGBA")
    overlay = Image.new("RGBA", region.size, BOX_RGBA)
    region = Image.alpha_composite(region, overlay)
    draw = ImageDraw.Draw(region)
    font = label_font(layout.font_size)
    padding = math.ceil(PADDING_FRACTION * layout.text_height)
    _, _, advance = _text_block(font, layout.lines)
    for index, line in enumerate(layout.lines):
        draw.text((padding, padding + index * advance), line, font=font, fill=TEXT_RGB)
    result.paste(region.convert("RGB"), (left, top))
    return result
