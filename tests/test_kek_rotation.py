import base64
import fcntl
import io
import json
import os
import uuid

import pytest
from django.core.management import CommandError, call_command

from audit.models import Action, AuditEvent
from config import keyfiles
from portrait import vault
from portrait.models import DataKey, Subject
from portrait.vault import Kind, keys
from portrait.vault.crypto import kek_id


@pytest.fixture
def kek_file(settings, tmp_path):
    """The KEK in a key file (the default set-up), not in SITTER_KEK as elsewhere in tests."""
    path = tmp_path / "keys" / "kek.key"
    path.parent.mkdir()
    path.write_bytes(os.urandom(32))
    settings.SITTER_KEK = ""
    settings.SITTER_KEK_FILE = path
    return path


@pytest.fixture
def blobs(django_user_model):
    """Three people's blobs: {name: plaintext}."""
    stored = {}
    for number in range(3):
        user = django_user_model.objects.create_user(f"person{number}")
        subject = Subject.objects.create(user=user)
        for kind in (Kind.PHOTO, Kind.ADAPTER):
            data = os.urandom(1000 + number)
            stored[vault.put(subject, kind, uuid.uuid4(), data)] = data
    return stored


def rotate(*args):
    call_command("rotate_kek", *args, stdout=io.StringIO())


def ciphertexts(names):
    result = {}
    for name in names:
        with vault.storage.inner.open(name, "rb") as handle:
            result[name] = handle.read()
    return result


def assert_every_blob_decrypts(blobs):
    for name, data in blobs.items():
        assert vault.read(name) == data


def kek_ids():
    return set(DataKey.objects.values_list("kek_id", flat=True))


def leftover_files(kek_file):
    return sorted(
        p.name for p in kek_file.parent.iterdir() if p.name not in {"kek.key", "kek.key.lock"}
    )


def test_rotation_rewraps_every_data_key_and_every_blob_still_decrypts(kek_file, blobs):
    old_id = kek_id(kek_file.read_bytes())
    before = ciphertexts(blobs)
    rotate()
    new_id = kek_id(kek_file.read_bytes())
    assert new_id != old_id
    assert kek_ids() == {new_id}
    assert_every_blob_decrypts(blobs)
    assert ciphertexts(blobs) == before  # no blob was touched
    assert leftover_files(kek_file) == []


def test_old_kek_no_longer_unwraps_after_rotation(kek_file, blobs):
    old = kek_file.read_bytes()
    rotate()
    kek_file.write_bytes(old)
    with pytest.raises(vault.KekWrong, match="not configured"):
        vault.read(next(iter(blobs)))


def test_rotation_takes_the_new_kek_from_a_file(kek_file, blobs, tmp_path):
    new = os.urandom(32)
    supplied = tmp_path / "new.key"
    supplied.write_text(base64.b64encode(new).decode())
    rotate("--new-kek-file", str(supplied))
    assert kek_file.read_bytes() == new
    assert kek_ids() == {kek_id(new)}
    assert_every_blob_decrypts(blobs)


def test_rotation_is_audit_logged_with_counts_and_ids_only(kek_file, blobs, capsys):
    old_key = kek_file.read_bytes()
    call_command("rotate_kek", "--json")
    printed = json.loads(capsys.readouterr().out)
    event = AuditEvent.objects.get(action=Action.KEY_ROTATED)
    assert event.details == printed
    assert event.details["from"] == [kek_id(old_key)]
    assert event.details["to"] == kek_id(kek_file.read_bytes())
    assert event.details["rewrapped"] == 3
    logged = json.dumps(event.details)
    for key in (old_key, kek_file.read_bytes()):
        assert base64.b64encode(key).decode() not in logged
        assert key.hex() not in logged


def test_interrupted_rotation_keeps_the_service_working_and_a_rerun_finishes_it(
    kek_file, blobs, monkeypatch, user
):
    old_id = kek_id(kek_file.read_bytes())
    real_rewrap = keys._rewrap_one
    calls = []

    def killed_after_one(*args):
        if calls:
            raise KeyboardInterrupt
        calls.append(args)
        return real_rewrap(*args)

    monkeypatch.setattr(keys, "_rewrap_one", killed_after_one)
    with pytest.raises(KeyboardInterrupt):
        rotate()
    pending = keys.pending_kek_path().read_bytes()
    assert kek_ids() == {old_id, kek_id(pending)}
    # Mid-rotation the service works: old and new wraps unwrap, new data keys use the new KEK.
    assert_every_blob_decrypts(blobs)
    newcomer = Subject.objects.create(user=user)
    blobs[vault.put(newcomer, Kind.PHOTO, uuid.uuid4(), b"new")] = b"new"
    assert DataKey.objects.get(subject=newcomer).kek_id == kek_id(pending)

    monkeypatch.setattr(keys, "_rewrap_one", real_rewrap)
    rotate()
    assert kek_file.read_bytes() == pending
    assert kek_ids() == {kek_id(pending)}
    assert_every_blob_decrypts(blobs)
    assert leftover_files(kek_file) == []
    assert AuditEvent.objects.get(action=Action.KEY_ROTATED).details["resumed"] is True


def test_rotation_interrupted_after_the_switch_is_finished_not_repeated(
    kek_file, blobs, monkeypatch
):
    def killed(rotation):
        raise KeyboardInterrupt

    monkeypatch.setattr(keys, "_delete_unneeded_retired_keys", killed)
    with pytest.raises(KeyboardInterrupt):
        rotate()
    switched_to = kek_file.read_bytes()
    assert len(keys.retired_kek_paths()) == 1
    assert_every_blob_decrypts(blobs)

    monkeypatch.undo()
    rotate()
    assert kek_file.read_bytes() == switched_to
    assert kek_ids() == {kek_id(switched_to)}
    assert leftover_files(kek_file) == []
    assert_every_blob_decrypts(blobs)


def test_a_data_key_made_under_the_old_kek_mid_rotation_is_rewrapped_too(
    kek_file, blobs, monkeypatch
):
    """A process that read the old key just before the rotation wraps under it; its data key
    is re-wrapped after the switch, and the retired key goes only once nothing needs it."""
    old = kek_file.read_bytes()
    real_switch = keys._switch_to_pending

    def straggler_then_switch(current):
        row = DataKey.objects.first()
        key = keys._unwrap(row, keys.keyring())
        DataKey.objects.filter(pk=row.pk).update(
            kek_id=kek_id(old), wrapped=keys.wrap_key(old, key, row.id, str(row.subject_id))
        )
        real_switch(current)

    monkeypatch.setattr(keys, "_switch_to_pending", straggler_then_switch)
    rotate()
    assert kek_ids() == {kek_id(kek_file.read_bytes())}
    assert leftover_files(kek_file) == []
    assert_every_blob_decrypts(blobs)


def test_another_new_kek_while_a_rotation_is_pending_is_refused(kek_file, blobs, tmp_path):
    keys.pending_kek_path().write_bytes(os.urandom(32))
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    with pytest.raises(CommandError, match="interrupted"):
        call_command("rotate_kek", "--new-kek-file", str(other))


def test_two_rotations_at_once_are_refused(kek_file, blobs):
    lock = os.open(kek_file.with_name("kek.key.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(CommandError, match="another rotate_kek is running"):
            call_command("rotate_kek")
    finally:
        os.close(lock)
    assert not keys.pending_kek_path().exists()


def test_rotation_with_the_kek_in_the_environment(settings, blobs):
    old = base64.b64decode(settings.SITTER_KEK)
    new = os.urandom(32)
    # The operator's step: every process restarts with the new key and the old one beside it.
    settings.SITTER_KEK = base64.b64encode(new).decode()
    settings.SITTER_KEK_PREVIOUS = [base64.b64encode(old).decode()]
    assert_every_blob_decrypts(blobs)

    rotate()
    assert kek_ids() == {kek_id(new)}
    settings.SITTER_KEK_PREVIOUS = []
    assert_every_blob_decrypts(blobs)


def test_new_kek_file_is_refused_when_the_kek_is_in_the_environment(settings, tmp_path):
    supplied = tmp_path / "new.key"
    supplied.write_bytes(os.urandom(32))
    with pytest.raises(CommandError, match="SITTER_KEK_PREVIOUS"):
        call_command("rotate_kek", "--new-kek-file", str(supplied))


def test_rotation_stops_at_a_data_key_whose_kek_is_not_configured(settings, blobs):
    settings.SITTER_KEK = base64.b64encode(os.urandom(32)).decode()
    with pytest.raises(CommandError, match="not configured"):
        call_command("rotate_kek")


def test_a_process_that_keeps_the_kek_file_in_memory_follows_a_rotation(
    kek_file, blobs, monkeypatch
):
    monkeypatch.setattr(keyfiles, "SETTLE_SECONDS", 0)  # keep the key file from its first read
    assert_every_blob_decrypts(blobs)
    rotate()
    assert kek_ids() == {kek_id(kek_file.read_bytes())}
    assert_every_blob_decrypts(blobs)
