"""Encrypted storage on Django's Storage API.

``EncryptedStorage`` encrypts on the way in and decrypts on the way out, streaming segment by
segment, and hands only ciphertext to the inner backend (``STORAGES["ciphertext"]``: a local
folder by default, S3 or any other backend unchanged). A blob's name carries its context,
``<owner>/<kind>/<record>/<token>``, which is authenticated with every segment.
"""

import hashlib
import secrets

from django.core.files import File
from django.core.files.storage import Storage, storages
from django.utils.deconstruct import deconstructible

from ..models import Subject
from .crypto import (
    BlobContext,
    BlobHeader,
    DecryptingReader,
    EncryptingReader,
    KeyDestroyed,
    WrongOwner,
    read_header,
)
from .keys import data_key_for


def blob_name(owner, kind, record):
    return f"{owner}/{kind}/{record}/{secrets.token_hex(8)}"


def context_of(name):
    parts = name.split("/")
    if len(parts) != 4:
        raise ValueError(f"not a vault blob name: {name!r}")
    return BlobContext(owner=parts[0], kind=parts[1], record=parts[2])


def _subject(owner):
    subject = Subject.objects.select_related("data_key").filter(pk=owner).first()
    if subject is None:
        raise KeyDestroyed(f"no subject {owner}: erased")
    return subject


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
        key_id, key = data_key_for(_subject(context.owner), create=True)
        header = (BlobHeader.new(key_id, self.segment_size) if self.segment_size
                  else BlobHeader.new(key_id))
        if hasattr(content, "seek"):
            content.seek(0)
        source = content.file if isinstance(content, File) else content
        # The inner backend reads ciphertext from this stream as it writes.
        return self.inner.save(name, File(EncryptingReader(source, key, header, context), name))

    def _open(self, name, mode="rb"):
        if "w" in mode or "a" in mode or "+" in mode:
            raise ValueError("encrypted blobs are written with save(), never opened for writing")
        context = context_of(name)
        subject = _subject(context.owner)
        handle = self.inner.open(name, "rb")
        try:
            header = read_header(handle)
            key_id, key = data_key_for(subject)
            if header.key_id != key_id:
                raise WrongOwner(f"{name} was encrypted under another person's data key")
            reader = DecryptingReader(handle, key, header, context)
        except Exception:
            handle.close()
            raise
        return File(reader, name)

    def get_available_name(self, name, max_length=None):
        return name

    def delete(self, name):
        self.inner.delete(name)

    def exists(self, name):
        return self.inner.exists(name)

    def listdir(self, path):
        return self.inner.listdir(path)

    def size(self, name):
        return self.inner.size(name)

    def url(self, name):
        raise NotImplementedError("personal data has no public URL; use an authorised view")

    def ciphertext_digest(self, name):
        """SHA-256 of the stored ciphertext: what erasure records prove destroyed."""
        digest = hashlib.sha256()
        with self.inner.open(name, "rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        return digest.hexdigest()
