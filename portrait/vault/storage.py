"""Encrypted storage on Django's Storage API.

``EncryptedStorage`` encrypts on the way in and decrypts on the way out, streaming segment by
segment, and hands only ciphertext to the inner backend (``STORAGES["ciphertext"]``: a local
folder by default, S3 or any other backend unchanged). A blob's name carries its context,
``<owner>/<kind>/<record>/<token>``, which is authenticated with every segment.
"""

import hashlib
import os
import secrets
from pathlib import Path

from django.core.files import File
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.utils.deconstruct import deconstructible

from .crypto import (
    BlobContext,
    BlobHeader,
    DecryptingReader,
    EncryptingReader,
    WrongOwner,
    plaintext_size,
    read_header,
)
from .keys import data_key_for, data_key_of


def blob_name(owner, kind, record):
    return f"{owner}/{kind}/{record}/{secrets.token_hex(8)}"


def context_of(name):
    parts = name.split("/")
    if len(parts) != 4:
        raise ValueError(f"not a vault blob name: {name!r}")
    return BlobContext(owner=parts[0], kind=parts[1], record=parts[2])


class _StreamFile(File):
    """A File over a vault stream: its chunks are the stream's own pieces (header, nonces,
    segments), so a backend that writes chunk by chunk adds no copy; closing it closes the
    ciphertext handle under it too."""

    def __init__(self, stream, name, also_close=None):
        super().__init__(stream, name)
        self._also_close = also_close

    def chunks(self, chunk_size=None):
        return self.file.pieces()

    def close(self):
        try:
            super().close()
        finally:
            if self._also_close is not None:
                self._also_close.close()


@deconstructible
class EncryptedStorage(Storage):
    def __init__(self, inner_alias="ciphertext", segment_size=None):
        self.inner_alias = inner_alias
        self.segment_size = segment_size

    @property
    def inner(self):
        return storages[self.inner_alias]

    def _save(self, name, content):
        context = context_of(name)
        key_id, key = data_key_for(context.owner)
        header = (
            BlobHeader.new(key_id, self.segment_size)
            if self.segment_size
            else BlobHeader.new(key_id)
        )
        # A stream, or the bytes that put() hands over as they are (Storage.save wraps them).
        source = content.file if isinstance(content, File) else content
        if getattr(source, "seekable", lambda: False)():
            source.seek(0)
        # The inner backend reads ciphertext from this stream as it writes.
        saved = self.inner.save(
            name, _StreamFile(EncryptingReader(source, key, header, context), name)
        )
        self._make_durable(saved)
        return saved

    def _make_durable(self, name):
        """On a local folder, flush the blob and its folders to disk before anyone relies on it
        (uploads are destroyed once the adapter is stored: it must survive a power cut)."""
        if not isinstance(self.inner, FileSystemStorage):
            return  # a remote backend's save returns once the object is stored
        path, root = Path(self.inner.path(name)), Path(self.inner.location)
        for target in (path, *path.parents):
            fd = os.open(target, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            if target == root:
                break

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("encrypted blobs are written with save(), never opened for writing")
        context = context_of(name)
        key_id, key = data_key_of(context.owner)
        handle = self.inner.open(name, "rb")
        try:
            header = read_header(handle)
            if header.key_id != key_id:
                raise WrongOwner(f"{name} was encrypted under another person's data key")
            reader = DecryptingReader(handle, key, header, context)
        except Exception:
            handle.close()
            raise
        return _StreamFile(reader, name, also_close=handle)

    def get_available_name(self, name, max_length=None):
        return name

    def delete(self, name):
        self.inner.delete(name)

    def exists(self, name):
        return self.inner.exists(name)

    def listdir(self, path):
        return self.inner.listdir(path)

    def size(self, name):
        """The plaintext's size, from the ciphertext's size and the header's segment size."""
        with self.inner.open(name, "rb") as handle:
            header = read_header(handle)
        return plaintext_size(self.inner.size(name), header.segment_size)

    def url(self, name):
        raise NotImplementedError("personal data has no public URL; use an authorised view")

    def ciphertext_digest(self, name):
        """SHA-256 of the stored ciphertext: what erasure records prove destroyed."""
        digest = hashlib.sha256()
        with self.inner.open(name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        return digest.hexdigest()
