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
    """A segment failed authentication: changed, reordered, swapped or moved bytes."""


class BlobTruncated(VaultError):
    """The stream ended before its last segment."""


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
    """A readable stream that produces its output one segment at a time."""

    _pending: bytearray
    _done: bool

    def _next_segment(self):
        raise NotImplementedError

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending and not self._done:
            self._next_segment()
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        del self._pending[:size]
        return size


class EncryptingReader(_SegmentStream):
    """Reads plaintext from ``source`` and yields the blob's ciphertext, segment by segment.

    Memory stays within about two segments whatever the blob's size.
    """

    def __init__(self, source, key, header, context):
        self._source = source
        self._aead = AESGCM(key)
        self._header = header
        self._aad_prefix = header.raw + context.encode()
        self._pending = bytearray(header.raw)
        self._lookahead = _read_exactly(source, header.segment_size)
        self._index = 0
        self._done = False
        self.plaintext_bytes = 0

    def _next_segment(self):
        plaintext = self._lookahead
        self._lookahead = _read_exactly(self._source, self._header.segment_size)
        last = not self._lookahead
        nonce = os.urandom(NONCE_SIZE)
        aad = self._aad_prefix + _SEGMENT_AAD.pack(self._index, last)
        self._pending += nonce
        self._pending += self._aead.encrypt(nonce, plaintext, aad)
        self.plaintext_bytes += len(plaintext)
        self._index += 1
        self._done = last



class DecryptingReader(_SegmentStream):
    """Reads a blob's ciphertext from ``source`` and yields its authenticated plaintext.

    Plaintext of a segment is released only after that segment's tag verified, and the end
    of the stream is accepted only after a segment marked last.
    """

    def __init__(self, source, key, header, context):
        self._source = source
        self._aead = AESGCM(key)
        self._aad_prefix = header.raw + context.encode()
        self._segment_bytes = NONCE_SIZE + header.segment_size + TAG_SIZE
        self._lookahead = _read_exactly(source, self._segment_bytes)
        self._pending = bytearray()
        self._index = 0
        self._done = False

    def _next_segment(self):
        segment = self._lookahead
        if len(segment) < NONCE_SIZE + TAG_SIZE:
            raise BlobTruncated("the encrypted stream ended before its last segment")
        self._lookahead = _read_exactly(self._source, self._segment_bytes)
        last = not self._lookahead
        nonce, body = segment[:NONCE_SIZE], segment[NONCE_SIZE:]
        prefix = self._aad_prefix
        try:
            segment_aad = _SEGMENT_AAD.pack(self._index, last)
            plaintext = self._aead.decrypt(nonce, body, prefix + segment_aad)
        except InvalidTag:
            if last and self._authenticates(nonce, body, _SEGMENT_AAD.pack(self._index, False)):
                raise BlobTruncated("the encrypted stream ended before its last segment") from None
            raise BlobTampered(
                f"segment {self._index} failed authentication: the blob was changed, "
                "or moved from another record"
            ) from None
        self._pending += plaintext
        self._index += 1
        self._done = last

    def _authenticates(self, nonce, body, segment_aad):
        try:
            self._aead.decrypt(nonce, body, self._aad_prefix + segment_aad)
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
