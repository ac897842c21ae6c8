"""Machine-readable AI label in the file's XMP metadata.

Two properties, side by side:

- ``TC260:AIGC`` in ``http://www.tc260.org.cn/ns/AIGC/1.0/``: the implicit label of China's
  GB 45438-2025 practice, a JSON object with the keys Label, ContentProducer, ProduceID,
  ReservedCode1, ContentPropagator, PropagateID and ReservedCode2. ``Label`` "1" means the content
  is AI-generated (2 and 3 are for "possibly" and "suspected", which a generator never writes).
- ``Iptc4xmpExt:DigitalSourceType``: IPTC's trainedAlgorithmicMedia.

The packet is written into a JPEG as an APP1 segment and into a PNG as an ``iTXt`` chunk with
the keyword ``XML:com.adobe.xmp``, all in memory. It names the producer (the operator) and an
opaque render id, never a person.
"""

import json
import struct
import zlib
from dataclasses import dataclass
from xml.etree import ElementTree
from xml.sax.saxutils import escape

AIGC_NAMESPACE = "http://www.tc260.org.cn/ns/AIGC/1.0/"
IPTC_EXT_NAMESPACE = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
RDF_NAMESPACE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
AIGC_KEYS = (
    "Label",
    "ContentProducer",
    "ProduceID",
    "ReservedCode1",
    "ContentPropagator",
    "PropagateID",
    "ReservedCode2",
)
LABEL_AI_GENERATED = "1"

JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_XMP_KEYWORD = b"XML:com.adobe.xmp"
# An APP1 segment's length field counts itself and holds at most 65535.
_MAX_JPEG_SEGMENT = 65535 - 2

_JPEG_STANDALONE_MARKERS = {0x01, *range(0xD0, 0xD8)}


class XmpError(ValueError):
    """The bytes are not a JPEG or PNG this module can write XMP into."""


@dataclass(frozen=True)
class XmpLabel:
    """What goes into the AIGC field: who produced the image and the render's opaque id."""

    content_producer: str
    produce_id: str
    content_propagator: str = ""
    propagate_id: str = ""

    def aigc(self) -> dict[str, str]:
        """The AIGC JSON object, keys in the practice guide's order."""
        return {
            "Label": LABEL_AI_GENERATED,
            "ContentProducer": self.content_producer,
            "ProduceID": self.produce_id,
            "ReservedCode1": "",
            "ContentPropagator": self.content_propagator,
            "PropagateID": self.propagate_id,
            "ReservedCode2": "",
        }


def build_xmp_packet(label: XmpLabel) -> bytes:
    """Serialise the XMP packet carrying the AIGC field and the IPTC digital source type."""
    aigc = json.dumps(label.aigc(), ensure_ascii=False, separators=(",", ":"))
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        f' <rdf:RDF xmlns:rdf="{RDF_NAMESPACE}">\n'
        '  <rdf:Description rdf:about=""\n'
        f'    xmlns:TC260="{AIGC_NAMESPACE}"\n'
        f'    xmlns:Iptc4xmpExt="{IPTC_EXT_NAMESPACE}">\n'
        f"   <TC260:AIGC>{escape(aigc)}</TC260:AIGC>\n"
        f"   <Iptc4xmpExt:DigitalSourceType>{TRAINED_ALGORITHMIC_MEDIA}"
        "</Iptc4xmpExt:DigitalSourceType>\n"
        "  </rdf:Description>\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="w"?>'
    )
    return packet.encode("utf-8")


# JPEG ---------------------------------------------------------------------------------------


def _jpeg_segments(data: bytes):
    """Yield (marker, start, end) for each segment before the entropy-coded data."""
    if not data.startswith(b"\xff\xd8"):
        raise XmpError("not a JPEG")
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise XmpError("corrupt JPEG: marker expected")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            yield marker, pos, pos + 2
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise XmpError("corrupt JPEG: segment overruns the file")
        yield marker, pos, end
        if marker == 0xDA:  # start of scan: image data follows
            return
        pos = end
    raise XmpError("corrupt JPEG: no image data")


def _is_jpeg_xmp(data: bytes, start: int, end: int) -> bool:
    return data[start + 1] == 0xE1 and data[start + 4 : end].startswith(JPEG_XMP_HEADER)


def embed_xmp_jpeg(data: bytes, packet: bytes) -> bytes:
    """Return the JPEG with ``packet`` as its only XMP segment, placed after JFIF/Exif headers."""
    body = JPEG_XMP_HEADER + packet
    if len(body) > _MAX_JPEG_SEGMENT:
        raise XmpError("XMP packet too large for one JPEG segment")
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    parts = [data[:2]]
    inserted = False
    for marker, start, end in _jpeg_segments(data):
        if _is_jpeg_xmp(data, start, end):
            continue
        # Readers expect APP0 (JFIF) and Exif first; XMP goes right after them.
        if not inserted and marker not in (0xE0, 0xE1):
            parts.append(segment)
            inserted = True
        parts.append(data[start:end])
        if marker == 0xDA:
            parts.append(data[end:])
    return b"".join(parts)


def _read_xmp_jpeg(data: bytes) -> bytes | None:
    for _, start, end in _jpeg_segments(data):
        if _is_jpeg_xmp(data, start, end):
            return data[start + 4 + len(JPEG_XMP_HEADER) : end]
    return None


# PNG ----------------------------------------------------------------------------------------


def _png_chunks(data: bytes):
    """Yield (type, start, end, payload) for each chunk."""
    if not data.startswith(PNG_SIGNATURE):
        raise XmpError("not a PNG")
    pos = len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        end = pos + 12 + length
        if end > len(data):
            raise XmpError("corrupt PNG: chunk overruns the file")
        yield kind, pos, end, data[pos + 8 : pos + 8 + length]
        if kind == b"IEND":
            return
        pos = end
    raise XmpError("corrupt PNG: no IEND chunk")


def _is_png_xmp(kind: bytes, payload: bytes) -> bool:
    return kind == b"iTXt" and payload.startswith(PNG_XMP_KEYWORD + b"\x00")


def embed_xmp_png(data: bytes, packet: bytes) -> bytes:
    """Return the PNG with ``packet`` as its only XMP ``iTXt`` chunk, placed before the pixels."""
    # keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translation, NUL
    payload = PNG_XMP_KEYWORD + b"\x00\x00\x00\x00\x00" + packet
    chunk = (
        struct.pack(">I", len(payload))
        + b"iTXt"
        + payload
        + struct.pack(">I", zlib.crc32(b"iTXt" + payload))
    )
    parts = [PNG_SIGNATURE]
    inserted = False
    for kind, start, end, body in _png_chunks(data):
        if _is_png_xmp(kind, body):
            continue
        if not inserted and kind in (b"IDAT", b"IEND"):
            parts.append(chunk)
            inserted = True
        parts.append(data[start:end])
    return b"".join(parts)


def _read_xmp_png(data: bytes) -> bytes | None:
    for kind, _, _, payload in _png_chunks(data):
        if _is_png_xmp(kind, payload):
            keyword_end = len(PNG_XMP_KEYWORD)
            compressed = payload[keyword_end + 1]
            # Skip keyword NUL, the two flags, then the NUL-terminated language and translation.
            rest = payload[keyword_end + 3 :]
            rest = rest[rest.index(b"\x00") + 1 :]
            text = rest[rest.index(b"\x00") + 1 :]
            return zlib.decompress(text) if compressed else text
    return None


# Both ---------------------------------------------------------------------------------------


def embed_xmp(data: bytes, label: XmpLabel) -> bytes:
    """Write the XMP label into a JPEG or PNG given as bytes; the pixels are not re-encoded."""
    packet = build_xmp_packet(label)
    if data.startswith(b"\xff\xd8"):
        return embed_xmp_jpeg(data, packet)
    if data.startswith(PNG_SIGNATURE):
        return embed_xmp_png(data, packet)
    raise XmpError("XMP can only be written into JPEG or PNG")


def read_xmp_packet(data: bytes) -> bytes | None:
    """The raw XMP packet of a JPEG or PNG, or None when it has none or is another format."""
    try:
        if data.startswith(b"\xff\xd8"):
            return _read_xmp_jpeg(data)
        if data.startswith(PNG_SIGNATURE):
            return _read_xmp_png(data)
    except (XmpError, ValueError, IndexError, zlib.error):
        return None
    return None


def read_xmp_label(data: bytes) -> dict | None:
    """The AI label in a JPEG's or PNG's XMP, or None when there is none.

    Returns ``{"AIGC": {...}, "DigitalSourceType": str | None}``; AIGC holds the parsed JSON.
    """
    packet = read_xmp_packet(data)
    if packet is None:
        return None
    # XMP never needs a DTD; refusing one rules out entity-expansion tricks in hostile files.
    if b"<!DOCTYPE" in packet or b"<!ENTITY" in packet:
        return None
    try:
        root = ElementTree.fromstring(packet)  # noqa: S314 (no DTD, so no entities: see above)
    except ElementTree.ParseError:
        return None
    aigc_raw = _rdf_property(root, AIGC_NAMESPACE, "AIGC")
    if aigc_raw is None:
        return None
    try:
        aigc = json.loads(aigc_raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(aigc, dict):
        return None
    return {
        "AIGC": aigc,
        "DigitalSourceType": _rdf_property(root, IPTC_EXT_NAMESPACE, "DigitalSourceType"),
    }


def _rdf_property(root: ElementTree.Element, namespace: str, name: str) -> str | None:
    """A simple property, written either as an element or as an attribute of a Description."""
    qualified = f"{{{namespace}}}{name}"
    for description in root.iter(f"{{{RDF_NAMESPACE}}}Description"):
        if qualified in description.attrib:
            return description.attrib[qualified]
        element = description.find(qualified)
        if element is not None:
            return (element.text or "").strip()
    return None
