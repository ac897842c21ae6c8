"""Looking for readable personal data in bytes that should hold only ciphertext: image and
safetensors signatures, and any 64-byte window of a known plaintext."""

import json
import re

WINDOW = 64
WINDOW_STRIDE = 2048
PNG = b"\x89PNG\r\n\x1a\n"
WEBP = re.compile(rb"RIFF.{4}WEBP", re.DOTALL)
JPEG_SOI = re.compile(rb"\xff\xd8\xff")
SAFETENSORS_JSON = re.compile(rb'\{"')


def is_jpeg_at(data, start):
    """SOI followed by two well-formed marker segments: random bytes almost never are."""
    position = start + 2
    for _segment in range(2):
        if position + 4 > len(data) or data[position] != 0xFF:
            return False
        marker = data[position + 1]
        if not 0xC0 <= marker <= 0xFE or 0xD0 <= marker <= 0xD9:
            return False
        length = int.from_bytes(data[position + 2 : position + 4], "big")
        if length < 2:
            return False
        position += 2 + length
    return position < len(data) and data[position] == 0xFF


def is_safetensors_at(data, brace):
    """An 8-byte little-endian header length, then that many bytes of safetensors JSON."""
    if brace < 8:
        return False
    length = int.from_bytes(data[brace - 8 : brace], "little")
    if not 2 <= length <= len(data) - brace:
        return False
    try:
        header = json.loads(data[brace : brace + length])
    except (ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and any(
        isinstance(value, dict) and "data_offsets" in value for value in header.values()
    )


def signatures_in(data):
    found = []
    if any(is_jpeg_at(data, match.start()) for match in JPEG_SOI.finditer(data)):
        found.append("JPEG")
    if PNG in data:
        found.append("PNG")
    if WEBP.search(data):
        found.append("WebP")
    if any(is_safetensors_at(data, match.start()) for match in SAFETENSORS_JSON.finditer(data)):
        found.append("safetensors")
    return found


def windows(data):
    """64-byte windows of ``data``, skipping runs too uniform to be telling (zero padding)."""
    for start in range(0, max(1, len(data) - WINDOW + 1), WINDOW_STRIDE):
        window = data[start : start + WINDOW]
        if len(window) == WINDOW and len(set(window)) >= 16:
            yield window
