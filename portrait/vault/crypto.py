"""Envelope encryption primitives: segmented AES-256-GCM streams and data-key wrapping.

A blob is a header followed by segments. Each segment is a random 96-bit nonce, the
AES-256-GCM ciphertext of up to ``segment_size`` plaintext bytes, and its tag. Every
segment's associated data binds it to the header (so to this blob and its data key), to the
blob's context (owner, kind, record), to its index and to whether it is the last one, so a
moved blob, a swapped, reordered or dropped segment, and a truncated stream all fail.

Plain Python over ``cryptography``: no Django, no I/O beyond the streams it is given.
"""

import hashlib
import hmac
import io
import os
import struct
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"SITV"
FORMAT_VERSION = 1
ALG_AES256_GCM = 1
# 64 KiB, measured on this project's machines: glibc's malloc serves blocks over 128 KiB
# with mmap and unmaps them when freed (until the process frees a larger block and raises
# that threshold), so segments above it fault their pages in afresh: in a fresh process
# 256 KiB segments decrypted at about half the speed of 64 KiB ones, which run near the
# cipher's own speed either way (5-8% behind 256 KiB ones once the threshold has risen). A
# stream holds about four segments (two read, two handed out). Each blob's header records its
# own segment size, so blobs written with other sizes read as before.
DEFAULT_SEGMENT_SIZE = 64 * 1024
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
_HEADER = struct.Struct(">4sBBI16s16s")  # magic, version, alg, segment size, key id, blob id
HEADER_SIZE = _HEADER.size
_SEGMENT_AAD = struct.Struct(">QB")


class VaultError(Exception):
    """Base class of every vault failure; each subclass names one cause."""


class NotAVaultBlob(VaultError):
    """The bytes do not start with a vault header this version understands."""


class BlobTampered(VaultError):
    """A segment failed authentication: changed, reordered, swapped or moved bytes (a stream
    cut inside a segment, whose tag is then missing, reads as this too)."""


class BlobTruncated(VaultError):
    """The stream ended, at a segment boundary, before its last segment."""


class WrongOwner(VaultError):
    """The blob was encrypted under another person's data key."""


class KeyDestroyed(VaultError):
    """The person's data key was destroyed (crypto-shredded); the blob is unreadable."""


class KekMissing(VaultError):
    """No key-encryption key is configured."""


class KekWrong(VaultError):
    """A data key is wrapped by a key-encryption key that is not configured here."""


@dataclass(frozen=True)
class BlobContext:
    """What a blob belongs to; it is authenticated with every segment."""

    owner: str
    kind: str
    record: str

    def encode(self):
        parts = [self.owner, self.kind, self.record]
        for part in parts:
            if not part or "/" in part or "\x00" in part:
                raise ValueError(f"invalid blob context part {part!r}")
        return "\x00".join(parts).encode()


@dataclass(frozen=True)
class BlobHeader:
    key_id: uuid.UUID
    blob_id: bytes
    segment_size: int
    raw: bytes

    @classmethod
    def new(cls, key_id, segment_size=DEFAULT_SEGMENT_SIZE):
        if not 0 < segment_size <= MAX_SEGMENT_SIZE:
            raise ValueError(f"segment size must be 1..{MAX_SEGMENT_SIZE}")
        blob_id = os.urandom(16)
        raw = _HEADER.pack(
            MAGIC, FORMAT_VERSION, ALG_AES256_GCM, segment_size, key_id.bytes, blob_id
        )
        return cls(key_id, blob_id, segment_size, raw)

    @classmethod
    def parse(cls, raw):
        if len(raw) < HEADER_SIZE:
            raise NotAVaultBlob("too short to hold a vault header")
        magic, version, alg, segment_size, key_id, blob_id = _HEADER.unpack(raw[:HEADER_SIZE])
        if magic != MAGIC:
            raise NotAVaultBlob("not a vault blob (bad magic)")
        if version != FORMAT_VERSION or alg != ALG_AES256_GCM:
            raise NotAVaultBlob(f"unsupported vault format {version}/{alg}")
        if not 0 < segment_size <= MAX_SEGMENT_SIZE:
            raise NotAVaultBlob("segment size out of range")
        return cls(uuid.UUID(bytes=key_id), blob_id, segment_size, raw[:HEADER_SIZE])


def plaintext_size(ciphertext_size, segment_size):
    """The plaintext size of a well-formed blob of ``ciphertext_size`` bytes."""
    body = ciphertext_size - HEADER_SIZE
    overhead = NONCE_SIZE + TAG_SIZE
    segments = max(1, -(-body // (segment_size + overhead)))
    return body - segments * overhead


def read_header(stream):
    """Read and parse the header at the start of a ciphertext stream."""
    return BlobHeader.parse(_read_exactly(stream, HEADER_SIZE))


def _read_exactly(stream, size):
    chunks = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            break
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def _filler(source):
    """A function that fills a buffer from ``source`` as far as the source goes; returns the
    count. Filling whole buffers keeps segment boundaries independent of how the source
    happens to split its reads."""
    readinto = getattr(source, "readinto", None)
    if readinto is None:

        def readinto(view):
            chunk = source.read(len(view))
            view[: len(chunk)] = chunk
            return len(chunk)

    def fill(view):
        filled = readinto(view) or 0
        while filled and filled < len(view):
            count = readinto(view[filled:])
            if not count:
                break
            filled += count
        return filled

    return fill


def _segments(source, size):
    """(segment, last) for each ``size``-byte segment of ``source``, the last one shorter or
    empty. Data already in memory is cut into views; a stream is read into two buffers used
    in turn, since knowing whether a segment is the last takes reading the next one. A
    segment is valid until the next one is asked for."""
    if isinstance(source, bytes | bytearray | memoryview):
        data = memoryview(source).cast("B")
        last_start = max(0, (len(data) - 1) // size * size)
        for start in range(0, last_start + 1, size):
            yield data[start : start + size], start == last_start
        return
    fill = _filler(source)
    current, following = memoryview(bytearray(size)), None
    count = fill(current)
    while count == size:
        if following is None:
            following = memoryview(bytearray(size))
        following_count = fill(following)
        if not following_count:
            break
        yield current, False
        current, following, count = following, current, following_count
    yield current[:count], True


class _SegmentStream(io.RawIOBase):
    """A readable stream over an iterator of byte pieces (a header, nonces, segments).

    A read that asks for at least the rest of the current piece gets that piece itself, so
    streaming costs no copy beyond the cipher's own output. A failure is raised again on every
    later read: a stream that failed never looks like one that ended.
    """

    def __init__(self, pieces):
        super().__init__()
        self._pieces = pieces
        self._piece = b""
        self._offset = 0
        self._failure = None

    def readable(self):
        return True

    def _next_piece(self):
        """The next non-empty piece; b"" at the end of the stream."""
        if self._failure is not None:
            raise self._failure
        try:
            for piece in self._pieces:
                if piece:
                    return piece
        except Exception as failure:
            self._failure = failure
            raise
        return b""

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        piece, offset = self._piece, self._offset
        if offset == len(piece):
            if not size:
                return b""
            # The spent piece goes first (see pieces()).
            del piece
            self._piece, self._offset = b"", 0
            self._piece = piece = self._next_piece()
            offset = 0
        if not offset and size >= len(piece):
            self._offset = len(piece)
            return piece
        chunk = piece[offset : offset + size]
        self._offset = offset + len(chunk)
        return chunk

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readall(self):
        return b"".join(self.pieces())

    def pieces(self):
        """The rest of the stream in the pieces it is made of: what a backend that writes chunk
        by chunk needs, without the cost of a read() call per piece."""
        piece, offset = self._piece, self._offset
        self._piece, self._offset = b"", 0
        if offset < len(piece):
            yield piece[offset:] if offset else piece
        while True:
            # Dropped before the next piece is made, so that malloc can hand the cipher the
            # memory just freed, still in cache (measured: a tenth faster at 1 MiB).
            del piece
            piece = self._next_piece()
            if not piece:
                return
            yield piece


class EncryptingReader(_SegmentStream):
    """Reads plaintext from ``source`` (a binary stream, or bytes already in memory, which are
    never copied) and yields the blob's ciphertext, segment by segment.

    Memory stays within a few segments whatever the blob's size.
    """

    def __init__(self, source, key, header, context):
        super().__init__(
            _encrypted_pieces(source, AESGCM(key), header, header.raw + context.encode())
        )


def _encrypted_pieces(source, aead, header, aad_prefix):
    yield header.raw
    for index, (plaintext, last) in enumerate(_segments(source, header.segment_size)):
        nonce = os.urandom(NONCE_SIZE)
        yield nonce
        yield aead.encrypt(nonce, plaintext, aad_prefix + _SEGMENT_AAD.pack(index, last))


class DecryptingReader(_SegmentStream):
    """Reads a blob's ciphertext from ``source`` (after its header) and yields its
    authenticated plaintext.

    Plaintext of a segment is released only after that segment's tag verified, and the end
    of the stream is accepted only after a segment marked last.
    """

    def __init__(self, source, key, header, context):
        super().__init__(
            _decrypted_pieces(source, AESGCM(key), header, header.raw + context.encode())
        )


def _decrypted_pieces(source, aead, header, aad_prefix):
    segment_bytes = NONCE_SIZE + header.segment_size + TAG_SIZE
    for index, (segment, last) in enumerate(_segments(source, segment_bytes)):
        if len(segment) < NONCE_SIZE + TAG_SIZE:
            raise BlobTruncated("the encrypted stream ended before its last segment")
        # Yielded as made, held by no variable here: see _SegmentStream.pieces().
        yield _open_segment(aead, segment, aad_prefix, index, last)


def _open_segment(aead, segment, aad_prefix, index, last):
    nonce, body = segment[:NONCE_SIZE], segment[NONCE_SIZE:]
    try:
        return aead.decrypt(nonce, body, aad_prefix + _SEGMENT_AAD.pack(index, last))
    except InvalidTag:
        if last and _authenticates(aead, nonce, body, aad_prefix + _SEGMENT_AAD.pack(index, False)):
            raise BlobTruncated("the encrypted stream ended before its last segment") from None
        raise BlobTampered(
            f"segment {index} failed authentication: the blob was changed, "
            "or moved from another record"
        ) from None


def _authenticates(aead, nonce, body, aad):
    try:
        aead.decrypt(nonce, body, aad)
    except InvalidTag:
        return False
    return True


def encrypt_bytes(data, key, key_id, context, segment_size=DEFAULT_SEGMENT_SIZE):
    """Encrypt ``data`` in memory; a convenience over ``EncryptingReader``."""
    header = BlobHeader.new(key_id, segment_size)
    return EncryptingReader(data, key, header, context).read()


def decrypt_bytes(blob, key, context):
    """Decrypt a whole blob held in memory; a convenience over ``DecryptingReader``."""
    header = BlobHeader.parse(blob)
    return DecryptingReader(memoryview(blob)[HEADER_SIZE:], key, header, context).read()


# --- data keys, wrapped by the key-encryption key ---


def new_data_key():
    return AESGCM.generate_key(bit_length=256)


def kek_id(kek):
    """A short public identifier of a key-encryption key (it reveals nothing of the key)."""
    return hmac.new(kek, b"sitter key-encryption key id", hashlib.sha256).hexdigest()[:16]


def _wrap_aad(key_id, owner):
    return b"sitter data key\x00" + key_id.bytes + b"\x00" + owner.encode()


def wrap_key(kek, data_key, key_id, owner):
    nonce = os.urandom(NONCE_SIZE)
    return nonce + AESGCM(kek).encrypt(nonce, data_key, _wrap_aad(key_id, owner))


def unwrap_key(kek, wrapped, key_id, owner):
    try:
        nonce, ciphertext = wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:]
        return AESGCM(kek).decrypt(nonce, ciphertext, _wrap_aad(key_id, owner))
    except InvalidTag:
        raise KekWrong(
            "the data key does not unwrap under the configured key-encryption key"
        ) from None
