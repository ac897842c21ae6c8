import base64
import hashlib
import io
import os
import uuid
from pathlib import Path

import pytest

from portrait import vault
from portrait.models import DataKey, Subject
from portrait.vault import Kind
from portrait.vault.crypto import DEFAULT_SEGMENT_SIZE, HEADER_SIZE, NONCE_SIZE, TAG_SIZE


@pytest.fixture
def subject(user):
    return Subject.objects.create(user=user)


@pytest.fixture
def other_subject(other_user):
    return Subject.objects.create(user=other_user)


def inner_bytes(name):
    with vault.storage.inner.open(name, "rb") as handle:
        return handle.read()


def test_put_then_read_round_trips(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"\xff\xd8\xff photo bytes")
    assert vault.read(name) == b"\xff\xd8\xff photo bytes"


def test_backend_holds_only_ciphertext(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"\xff\xd8\xff\xe0JFIF" * 100)
    stored = inner_bytes(name)
    assert stored.startswith(b"SITV")
    assert b"JFIF" not in stored


def test_data_key_is_stored_only_wrapped(subject):
    vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"x")
    row = DataKey.objects.get(subject=subject)
    assert len(bytes(row.wrapped)) == 12 + 32 + 16


def test_blob_copied_to_another_owner_is_wrong_owner(subject, other_subject):
    record = uuid.uuid4()
    vault.put(other_subject, Kind.PHOTO, uuid.uuid4(), b"theirs")
    name = vault.put(subject, Kind.PHOTO, record, b"mine")
    forged = f"{other_subject.pk}/photo/{record}/copied"
    vault.storage.inner.save(forged, vault.storage.inner.open(name, "rb"))
    with pytest.raises(vault.WrongOwner):
        vault.read(forged)


def test_blob_copied_to_another_record_fails(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"mine")
    forged = f"{subject.pk}/photo/{uuid.uuid4()}/copied"
    vault.storage.inner.save(forged, vault.storage.inner.open(name, "rb"))
    with pytest.raises(vault.BlobTampered):
        vault.read(forged)


def test_missing_kek_is_a_clear_error(subject, settings, tmp_path):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"x")
    settings.SITTER_KEK = ""
    settings.SITTER_KEK_FILE = tmp_path / "absent.key"
    with pytest.raises(vault.KekMissing, match="SITTER_KEK"):
        vault.read(name)


def test_wrong_kek_is_a_clear_error(subject, settings):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"x")
    settings.SITTER_KEK = base64.b64encode(bytes(32)).decode()
    with pytest.raises(vault.KekWrong, match="not configured"):
        vault.read(name)


def test_tampered_stored_blob_is_detected(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"y" * 5000)
    path = Path(vault.storage.inner.path(name))
    data = bytearray(path.read_bytes())
    data[-20] ^= 0x40
    path.write_bytes(bytes(data))
    with pytest.raises(vault.BlobTampered):
        vault.read(name)


def test_truncated_stored_blob_is_detected(subject):
    name = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b"y" * (3 * DEFAULT_SEGMENT_SIZE))
    path = Path(vault.storage.inner.path(name))
    path.write_bytes(
        path.read_bytes()[: HEADER_SIZE + NONCE_SIZE + DEFAULT_SEGMENT_SIZE + TAG_SIZE]
    )
    with pytest.raises(vault.BlobTruncated):
        vault.read(name)


def test_destroy_reports_kind_and_ciphertext_digest(subject):
    name = vault.put(subject, Kind.ADAPTER, uuid.uuid4(), b"weights")
    digest = hashlib.sha256(inner_bytes(name)).hexdigest()
    destroyed = vault.destroy(name)
    assert (destroyed.kind, destroyed.ciphertext_sha256) == ("adapter", digest)
    assert not vault.storage.exists(name)


def test_erased_data_key_makes_copies_unreadable(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"x")
    DataKey.objects.filter(subject=subject).delete()
    with pytest.raises(vault.KeyDestroyed):
        vault.read(name)


def test_any_storage_backend_holds_only_ciphertext(subject, settings):
    settings.STORAGES = {
        **settings.STORAGES,
        "ciphertext": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    }
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"\xff\xd8\xff\xe0JFIF" * 100)
    assert inner_bytes(name).startswith(b"SITV")
    assert b"JFIF" not in inner_bytes(name)
    assert vault.read(name) == b"\xff\xd8\xff\xe0JFIF" * 100


class Unseekable(io.RawIOBase):
    """A stream that can only be read forward, like a socket or a pipe."""

    def __init__(self, data):
        self.source = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self.source.readinto(buffer)


def test_a_stream_that_cannot_seek_is_stored(subject):
    data = bytes(range(256)) * 5000
    name = vault.put(subject, Kind.CHECKPOINT, uuid.uuid4(), Unseekable(data))
    assert vault.read(name) == data


@pytest.mark.parametrize("size", [0, 1, DEFAULT_SEGMENT_SIZE, 2 * DEFAULT_SEGMENT_SIZE + 5])
def test_size_is_the_plaintext_size(subject, size):
    name = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b"s" * size)
    assert vault.storage.size(name) == size


def test_a_large_blob_streams_out_segment_by_segment(subject):
    data = os.urandom(3 * DEFAULT_SEGMENT_SIZE)
    name = vault.put(subject, Kind.ADAPTER, uuid.uuid4(), data)
    with vault.open_blob(name) as handle:
        chunks = list(handle.chunks())
    assert [len(chunk) for chunk in chunks] == [DEFAULT_SEGMENT_SIZE] * 3
    assert b"".join(chunks) == data


def test_a_stored_blob_is_flushed_to_disk_before_put_returns(subject, monkeypatch):
    flushed = []
    real_open = os.open

    def recording_open(path, *args, **kwargs):
        flushed.append(Path(path))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", recording_open)
    name = vault.put(subject, Kind.ADAPTER, uuid.uuid4(), b"weights")
    root = Path(vault.storage.inner.path(""))
    path = Path(vault.storage.inner.path(name))
    assert flushed[-5:] == [path, path.parent, path.parent.parent, path.parent.parent.parent, root]


def test_reading_a_blob_of_an_erased_person_is_key_destroyed(subject):
    name = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"x")
    Subject.objects.filter(pk=subject.pk).delete()
    with pytest.raises(vault.KeyDestroyed, match="erased"):
        vault.read(name)
