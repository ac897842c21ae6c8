"""The vault: envelope encryption of every piece of personal data, on Django's Storage API.

Use ``put`` to store bytes for an owner, ``read`` to get them back in memory, ``destroy`` to
delete a blob and learn the digest of what was destroyed. ``shred`` destroys a person's data
key, after which every copy of their blobs is unreadable.
"""

from dataclasses import dataclass

from .crypto import (
    BlobTampered,
    BlobTruncated,
    KekMissing,
    KekWrong,
    KeyDestroyed,
    NotAVaultBlob,
    VaultError,
    WrongOwner,
)
from .storage import EncryptedStorage, blob_name

__all__ = [
    "BlobTampered",
    "BlobTruncated",
    "KeyDestroyed",
    "KekMissing",
    "KekWrong",
    "NotAVaultBlob",
    "VaultError",
    "WrongOwner",
    "Destroyed",
    "storage",
    "put",
    "read",
    "open_blob",
    "destroy",
    "Kind",
]

storage = EncryptedStorage()


class Kind:
    """What a blob holds; part of its authenticated context."""

    PHOTO = "photo"
    SIGNATURE = "signature"
    SELFIE = "selfie"
    ADAPTER = "adapter"
    REFERENCE = "reference"
    CHECKPOINT = "checkpoint"
    OUTPUT = "output"


@dataclass(frozen=True)
class Destroyed:
    name: str
    kind: str
    ciphertext_sha256: str


def put(subject, kind, record_id, data):
    """Encrypt ``data`` (bytes or a binary file object) for ``subject``; returns the blob name.

    Bytes are encrypted where they lie, segment by segment through views, never copied.
    """
    return storage.save(blob_name(subject.pk, kind, record_id), data)


def read(name):
    """Decrypt a whole blob into memory."""
    with storage.open(name) as handle:
        return handle.read()


def open_blob(name):
    """A file object that decrypts as it is read (for streaming large blobs)."""
    return storage.open(name)


def destroy(name):
    """Delete a blob; returns what was destroyed (kind and ciphertext digest), or None."""
    if not name or not storage.exists(name):
        return None
    try:
        digest = storage.ciphertext_digest(name)
    except FileNotFoundError:
        return None  # destroyed meanwhile, by another process erasing the same person
    storage.delete(name)
    return Destroyed(name, name.split("/")[1], digest)
