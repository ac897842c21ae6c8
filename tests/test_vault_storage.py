import base64
import hashlib
import uuid
from pathlib import Path

import pytest

from portrait import vault
from portrait.models import DataKey, Subject
from portrait.vault import Kind


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
    name = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b"y" * (200 * 1024))
    path = Path(vault.storage.inner.path(name))
    path.write_bytes(path.read_bytes()[: 42 + 12 + 65536 + 16])
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
