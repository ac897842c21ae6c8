"""The key-encryption key (KEK) and the per-person data keys it wraps.

The KEK comes from ``SITTER_KEK`` (base64) or the file ``SITTER_KEK_FILE``, never from the
database. A process keeps a key file's bytes but checks the file on every use (one stat, see
``config.keyfiles.read_key_file``), so running processes follow a rotation without a restart.
The data key, on the other hand, is looked up in the database every time a blob is opened: that
lookup is what makes a destroyed (crypto-shredded) key final in every process at once.
Older KEKs that data keys may still be wrapped under come from ``SITTER_KEK_PREVIOUS`` (base64,
comma-separated), ``SITTER_KEK_PREVIOUS_FILES`` and the retired key files a rotation leaves.

Rotation with a key file (``rotate_kek``), each step leaving a state every process works with:

1. the new KEK is written beside the current one as ``<file>.next``, the pending key: from then
   on every process unwraps with it too, and wraps new data keys under it;
2. each data key is re-wrapped under the pending key in its own short transaction, skipping the
   ones already under it;
3. the current key is copied to ``<file>.retired-<kek id>`` and the pending key renamed over the
   current one (one atomic rename: a reader sees the old key or the new one, never neither);
4. data keys that are still under an older KEK (made by a process that read the old key just
   before step 1) are re-wrapped;
5. retired key files that no data key needs any more are deleted.

A rerun after an interruption continues: in steps 1-3 the pending key is still there and is the
target; after step 3 a retired key file is still there, and the rerun finishes steps 4-5.
"""

import base64
import binascii
import fcntl
import functools
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from django.conf import settings
from django.db import connections, router, transaction
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action
from config.keyfiles import read_key_file

from ..models import DataKey, Subject
from .crypto import (
    KEY_SIZE,
    KekMissing,
    KekWrong,
    KeyDestroyed,
    VaultError,
    kek_id,
    new_data_key,
    unwrap_key,
    wrap_key,
)

PENDING_SUFFIX = ".next"
RETIRED_SUFFIX = ".retired-"
_REWRAP_BATCH = 500


class RotationRefused(VaultError):
    """The rotation cannot start as asked; the message says what to do instead."""


def _decode_kek(raw, source):
    if len(raw) == KEY_SIZE:
        return raw
    try:
        decoded = base64.b64decode(raw.strip(), validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != KEY_SIZE:
        raise KekWrong(f"{source} must hold 32 random bytes, raw or base64")
    return decoded


def load_kek_file(path):
    try:
        raw = read_key_file(path)
    except FileNotFoundError:
        raise KekMissing(
            f"no key-encryption key: {path} does not exist. Set SITTER_KEK or SITTER_KEK_FILE, "
            "or run `python manage.py sitter_setup` to create one."
        ) from None
    return _decode_kek(raw, str(path))


def kek_file():
    return Path(settings.SITTER_KEK_FILE)


def pending_kek_path():
    path = kek_file()
    return path.with_name(path.name + PENDING_SUFFIX)


def retired_kek_path(retired_id):
    path = kek_file()
    return path.with_name(f"{path.name}{RETIRED_SUFFIX}{retired_id}")


def retired_kek_paths():
    path = kek_file()
    return sorted(path.parent.glob(f"{path.name}{RETIRED_SUFFIX}*"))


def current_kek():
    """The configured KEK's bytes; KekMissing names the settings to fix."""
    if settings.SITTER_KEK:
        return _decode_kek(settings.SITTER_KEK.encode(), "SITTER_KEK")
    return load_kek_file(settings.SITTER_KEK_FILE)


def pending_kek():
    """The KEK a rotation is moving to, or None (only key files rotate in place)."""
    if settings.SITTER_KEK:
        return None
    try:
        return load_kek_file(pending_kek_path())
    except KekMissing:
        return None


def _older_keks():
    for index, value in enumerate(settings.SITTER_KEK_PREVIOUS):
        yield _decode_kek(value.encode(), f"SITTER_KEK_PREVIOUS #{index + 1}")
    for path in settings.SITTER_KEK_PREVIOUS_FILES:
        yield load_kek_file(path)
    if not settings.SITTER_KEK:
        for path in retired_kek_paths():
            yield load_kek_file(path)


def wrapping_kek():
    """The KEK new data keys are wrapped under: the pending one while a rotation runs."""
    return pending_kek() or current_kek()


def _configured_keks():
    """Every KEK a data key may be wrapped under here, the likeliest first: the current one,
    the pending one, then older ones. Lazy, so a lookup reads no further than it needs."""
    yield current_kek()
    pending = pending_kek()
    if pending is not None:
        yield pending
    yield from _older_keks()


def keyring():
    """{kek id: kek} of every KEK a data key may be wrapped under here."""
    ring = {}
    for kek in _configured_keks():
        ring.setdefault(_kek_id(kek), kek)
    return ring


# The id is an HMAC of the key: worth computing once per key rather than once per blob.
_kek_id = functools.lru_cache(maxsize=16)(kek_id)


class _KeyRow(NamedTuple):
    """The columns of a DataKey row that unwrapping needs."""

    id: object
    subject_id: object
    kek_id: str
    wrapped: bytes


def data_key_for(owner):
    """(key id, key bytes) of the data key for writing the blobs of the subject whose id is
    ``owner``, made on first use; unwrapped in memory only."""
    row = _data_key_row(owner)
    if row is None:
        return _create_data_key(owner)
    return row.id, _unwrap(row)


def data_key_of(owner):
    """(key id, key bytes) of the data key of the subject whose id is ``owner``, for reading,
    where the key must exist."""
    row = _data_key_row(owner)
    if row is None:
        raise KeyDestroyed(f"subject {owner} has no data key: it was erased")
    return row.id, _unwrap(row)


def _data_key_row(owner):
    """The data key row of subject ``owner``, or None: one lookup on the unique subject index.

    The ORM's SQL for it is compiled once per database vendor: building the query each time
    cost ten times the lookup itself (measured on this project's 2-core machines: 0.4 ms a
    blob through ``DataKey.objects.get``, 0.04 ms with the compiled SQL).
    """
    subject_field = DataKey._meta.get_field("subject")
    subject_id = subject_field.target_field.to_python(owner)
    connection = connections[router.db_for_read(DataKey)]
    with connection.cursor() as cursor:
        cursor.execute(
            _data_key_sql(connection), [subject_field.get_db_prep_value(subject_id, connection)]
        )
        found = cursor.fetchone()
    if found is None:
        return None
    key_id, kek, wrapped = found
    return _KeyRow(DataKey._meta.pk.to_python(key_id), subject_id, kek, bytes(wrapped))


_data_key_sql_by_vendor = {}


def _data_key_sql(connection):
    sql = _data_key_sql_by_vendor.get(connection.vendor)
    if sql is None:
        query = DataKey.objects.filter(subject_id=uuid.UUID(int=0)).values_list(
            "id", "kek_id", "wrapped"
        )
        sql, _params = query.query.get_compiler(connection=connection).as_sql()
        _data_key_sql_by_vendor[connection.vendor] = sql
    return sql


def _unwrap(row, ring=None):
    """The data key of ``row``, unwrapped with its KEK: taken from ``ring`` where given (a
    rotation unwraps many rows with one), else looked for among the configured KEKs."""
    if ring is None:
        kek = next((k for k in _configured_keks() if _kek_id(k) == row.kek_id), None)
    else:
        kek = ring.get(row.kek_id)
    if kek is None:
        raise KekWrong(
            f"data key {row.id} is wrapped by key-encryption key {row.kek_id}, which is not "
            f"configured (configured: {', '.join(ring or keyring())}). Check SITTER_KEK / "
            "SITTER_KEK_FILE, and SITTER_KEK_PREVIOUS / SITTER_KEK_PREVIOUS_FILES during a "
            "rotation."
        )
    return unwrap_key(kek, bytes(row.wrapped), row.id, str(row.subject_id))


def _create_data_key(owner):
    try:
        subject = Subject.objects.get(pk=owner)
    except Subject.DoesNotExist:
        raise KeyDestroyed(f"no subject {owner}: erased") from None
    kek = wrapping_kek()
    key = new_data_key()
    with transaction.atomic():
        row = DataKey(subject=subject, kek_id=_kek_id(kek))
        row.wrapped = wrap_key(kek, key, row.id, str(subject.pk))
        row.save(force_insert=True)
    return row.id, key


# --- rotation ---


@dataclass
class Rotation:
    """What one run of ``rotate_kek`` did; ids only, never key material."""

    kek_id: str
    previous_kek_ids: list = field(default_factory=list)
    rewrapped: int = 0
    unchanged: int = 0
    switched: bool = False
    resumed: bool = False
    retired_deleted: list = field(default_factory=list)
    retired_kept: list = field(default_factory=list)

    def as_details(self):
        return {
            "from": self.previous_kek_ids,
            "to": self.kek_id,
            "rewrapped": self.rewrapped,
            "unchanged": self.unchanged,
            "switched": self.switched,
            "resumed": self.resumed,
            "retired_deleted": self.retired_deleted,
            "retired_kept": self.retired_kept,
        }


def rotate_kek(new_kek=None):
    """Re-wrap every data key under a new KEK without touching a blob; see the module's text.

    With a key file, ``new_kek`` (bytes) is the key to move to, or None for a random one. With
    ``SITTER_KEK`` the environment holds the new key already (the old one in
    ``SITTER_KEK_PREVIOUS``), so this only re-wraps every data key under it. Each completed run
    is audit-logged with its counts and KEK ids.
    """
    rotation = _rotate(new_kek)
    audit(
        Action.KEY_ROTATED,
        object_type="kek",
        object_id=rotation.kek_id,
        details=rotation.as_details(),
    )
    return rotation


def _rotate(new_kek):
    if settings.SITTER_KEK:
        if new_kek is not None:
            raise RotationRefused(
                "SITTER_KEK is set, so the key-encryption key lives in the environment: set the "
                "new key as SITTER_KEK and the old one as SITTER_KEK_PREVIOUS in every process, "
                "restart them, then run rotate_kek without --new-kek-file."
            )
        return _rewrap_to(current_kek())
    with _rotation_lock():
        current = current_kek()
        if pending_kek() is None and retired_kek_paths():
            # Interrupted after the switch: finish that rotation rather than start another.
            rotation = _rewrap_to(current)
            rotation.resumed = True
            _delete_unneeded_retired_keys(rotation)
            return rotation
        target, resumed = _pending_target(current, new_kek)
        rotation = _rewrap_to(target)
        rotation.resumed = resumed
        _switch_to_pending(current)
        rotation.switched = True
        straggled = _rewrap_to(target)
        rotation.rewrapped += straggled.rewrapped
        rotation.previous_kek_ids = sorted(
            {*rotation.previous_kek_ids, *straggled.previous_kek_ids}
        )
        _delete_unneeded_retired_keys(rotation)
        return rotation


def _pending_target(current, new_kek):
    """The pending KEK, written now unless an interrupted run left one; (kek, resumed)."""
    pending = pending_kek()
    if pending is not None:
        if new_kek is not None and new_kek != pending:
            raise RotationRefused(
                f"a rotation to key-encryption key {kek_id(pending)} was interrupted; run "
                "rotate_kek without --new-kek-file to finish it first."
            )
        return pending, True
    target = new_kek if new_kek is not None else new_data_key()
    if target == current:
        raise RotationRefused("the new key-encryption key is the current one")
    _write_key_file(pending_kek_path(), target)
    return target, False


def _rewrap_to(target):
    """Re-wrap, one row per transaction, every data key not yet under ``target``."""
    target_id = kek_id(target)
    rotation = Rotation(kek_id=target_id)
    rotation.unchanged = DataKey.objects.filter(kek_id=target_id).count()
    previous = set()
    last_pk = None
    while True:
        pending = DataKey.objects.exclude(kek_id=target_id).order_by("pk")
        if last_pk is not None:
            pending = pending.filter(pk__gt=last_pk)
        batch = list(pending.values_list("pk", flat=True)[:_REWRAP_BATCH])
        if not batch:
            break
        ring = keyring()
        for pk in batch:
            from_id = _rewrap_one(pk, ring, target_id, target)
            if from_id is not None:
                previous.add(from_id)
                rotation.rewrapped += 1
        last_pk = batch[-1]
    rotation.previous_kek_ids = sorted(previous)
    return rotation


def _rewrap_one(pk, ring, target_id, target):
    """Re-wrap one data key under ``target``; the id of the KEK it was under, or None."""
    with transaction.atomic():
        row = DataKey.objects.select_for_update().filter(pk=pk).first()
        if row is None or row.kek_id == target_id:
            return None  # erased meanwhile, or re-wrapped by a concurrent run
        from_id = row.kek_id
        key = _unwrap(row, ring)
        row.wrapped = wrap_key(target, key, row.id, str(row.subject_id))
        row.kek_id = target_id
        row.rewrapped_at = timezone.now()
        row.save(update_fields=["wrapped", "kek_id", "rewrapped_at"])
    return from_id


def _switch_to_pending(current):
    """Keep the current key as retired, then make the pending key current in one rename."""
    _write_key_file(retired_kek_path(kek_id(current)), current)
    os.replace(pending_kek_path(), kek_file())
    _sync_directory(kek_file().parent)


def _delete_unneeded_retired_keys(rotation):
    for path in retired_kek_paths():
        retired_id = path.name.rsplit(RETIRED_SUFFIX, 1)[1]
        if DataKey.objects.filter(kek_id=retired_id).exists():
            rotation.retired_kept.append(retired_id)
        else:
            path.unlink()
            rotation.retired_deleted.append(retired_id)
    _sync_directory(kek_file().parent)


def _write_key_file(path, key):
    """Write a key file whole or not at all (0600), and make it durable."""
    partial = path.with_name(path.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(partial, path)
    _sync_directory(path.parent)


def _sync_directory(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def _rotation_lock():
    path = kek_file().with_name(kek_file().name + ".lock")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RotationRefused("another rotate_kek is running") from None
        yield
    finally:
        os.close(fd)
