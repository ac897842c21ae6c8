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
# Measured with bench/vault.py: 256 KiB segments stream faster than 64 KiB ones (fewer calls
# into the cipher per byte) while a stream still holds only about a MiB. Each blob's header
# records its own segment size.
DEFAULT_SEGMENT_SIZE = 256 * 1024
MAX_SEGMENT_SIZE = 16 * 1024 * 1024
NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
_HEADER = struct.Struct(">4sBBI16s16s")  # magic, version, alg, segment size, key id, blob id
HEADER_SIZE = _HEADER.size
# The largest piece a vault stream hands out in one read: one segment's ciphertext and tag.
MAX_PIECE_SIZE = MAX_SEGMENT_SIZE + TAG_SIZE
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

    def _fill(self):
        """Make the current piece non-empty; False at the end of the stream."""
        if self._failure is not None:
            raise self._failure
        while self._offset >= len(self._piece):
            try:
                piece = next(self._pieces, None)
            except Exception as failure:
                self._failure = failure
                raise
            if piece is None:
                return False
            self._piece, self._offset = piece, 0
        return True

    def read(self, size=-1):
        if size is None or size < 0:
            return self.readall()
        if size == 0 or not self._fill():
            return b""
        start = self._offset
        if start == 0 and size >= len(self._piece):
            chunk = self._piece
        else:
            chunk = self._piece[start : start + size]
        self._offset = start + len(chunk)
        return chunk

    def readinto(self, buffer):
        chunk = self.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)

    def readall(self):
        parts = []
        while self._fill():
            parts.append(self._piece[self._offset :] if self._offset else self._piece)
            self._offset = len(self._piece)
        return b"".join(parts)


class EncryptingReader(_SegmentStream):
    """Reads plaintext from ``source`` and yields the blob's ciphertext, segment by segment.

    Memory stays within about two segments whatever the blob's size.
    """

    def __init__(self, source, key, header, context):
        super().__init__(
            _encrypted_pieces(source, AESGCM(key), header, header.raw + context.encode())
        )


def _encrypted_pieces(source, aead, header, aad_prefix):
    yield header.raw
    plaintext = _read_exactly(source, header.segment_size)
    index = 0
    while True:
        # Reading one segment ahead tells whether this one is the last.
        following = _read_exactly(source, header.segment_size)
        last = not following
        nonce = os.urandom(NONCE_SIZE)
        yield nonce
        yield aead.encrypt(nonce, plaintext, aad_prefix + _SEGMENT_AAD.pack(index, last))
        if last:
            return
        plaintext, index = following, index + 1


class DecryptingReader(_SegmentStream):
    """Reads a blob's ciphertext from ``source`` and yields its authenticated plaintext.

    Plaintext of a segment is released only after that segment's tag verified, and the end
    of the stream is accepted only after a segment marked last.
    """

    def __init__(self, source, key, header, context):
        super().__init__(
            _decrypted_pieces(source, AESGCM(key), header, header.raw + context.encode())
        )


def _decrypted_pieces(source, aead, header, aad_prefix):
    segment_bytes = NONCE_SIZE + header.segment_size + TAG_SIZE
    segment = _read_exactly(source, segment_bytes)
    index = 0
    while True:
        if len(segment) < NONCE_SIZE + TAG_SIZE:
            raise BlobTruncated("the encrypted stream ended before its last segment")
        following = _read_exactly(source, segment_bytes)
        last = not following
        # Views, not slices: the body is not copied before it is decrypted.
        view = memoryview(segment)
        nonce, body = view[:NONCE_SIZE], view[NONCE_SIZE:]
        try:
            plaintext = aead.decrypt(nonce, body, aad_prefix + _SEGMENT_AAD.pack(index, last))
        except InvalidTag:
            if last and _authenticates(
                aead, nonce, body, aad_prefix + _SEGMENT_AAD.pack(index, False)
            ):
                raise BlobTruncated("the encrypted stream ended before its last segment") from None
            raise BlobTampered(
                f"segment {index} failed authentication: the blob was changed, "
                "or moved from another record"
            ) from None
        yield plaintext
        if last:
            return
        segment, index = following, index + 1


def _authenticates(aead, nonce, body, aad):
    try:
        aead.decrypt(nonce, body, aad)
    except InvalidTag:
        return False
    return True


def encrypt_bytes(data, key, key_id, context, segment_size=DEFAULT_SEGMENT_SIZE):
    """Encrypt ``data`` in memory; a convenience over ``EncryptingReader``."""
    header = BlobHeader.new(key_id, segment_size)
    return EncryptingReader(io.BytesIO(data), key, header, context).read()


def decrypt_bytes(blob, key, context):
    """Decrypt a whole blob held in memory; a convenience over ``DecryptingReader``."""
    stream = io.BytesIO(blob)
    header = read_header(stream)
    return DecryptingReader(stream, key, header, context).read()


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
