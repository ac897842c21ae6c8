"""The key-encryption key (KEK) and the per-person data keys it wraps.

The KEK comes from ``SITTER_KEK`` (base64) or the file ``SITTER_KEK_FILE``, never from the
database. Keys that a rotation replaced may stay configured in ``SITTER_KEK_PREVIOUS_FILES``
while the rotation runs, so the service keeps working during it.
"""

import base64
import binascii
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction

from ..models import DataKey
from .crypto import (
    KEY_SIZE,
    KekMissing,
    KekWrong,
    KeyDestroyed,
    kek_id,
    new_data_key,
    unwrap_key,
    wrap_key,
)


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
    path = Path(path)
    if not path.exists():
        raise KekMissing(
            f"no key-encryption key: {path} does not exist. Set SITTER_KEK or SITTER_KEK_FILE, "
            "or run `python manage.py sitter_setup` to create one."
        )
    return _decode_kek(path.read_bytes(), str(path))


def current_kek():
    """The configured KEK's bytes; KekMissing names the settings to fix."""
    if settings.SITTER_KEK:
        return _decode_kek(settings.SITTER_KEK.encode(), "SITTER_KEK")
    return load_kek_file(settings.SITTER_KEK_FILE)


def keyring():
    """{kek id: kek} of the current KEK and any previous ones still configured."""
    current = current_kek()
    ring = {kek_id(current): current}
    for path in filter(None, os.environ.get("SITTER_KEK_PREVIOUS_FILES", "").split(",")):
        previous = load_kek_file(path.strip())
        ring.setdefault(kek_id(previous), previous)
    return ring


def data_key_for(subject, create=False):
    """(key id, key bytes) of ``subject``'s data key, unwrapped in memory only."""
    try:
        row = subject.data_key
    except DataKey.DoesNotExist:
        row = None
    if row is None:
        if not create:
            raise KeyDestroyed(f"{subject} has no data key: it was erased or never made")
        return _create_data_key(subject)
    ring = keyring()
    kek = ring.get(row.kek_id)
    if kek is None:
        raise KekWrong(
            f"{subject}'s data key is wrapped by key-encryption key {row.kek_id}, which is not "
            f"configured (configured: {', '.join(ring)}). Check SITTER_KEK / SITTER_KEK_FILE."
        )
    return row.id, unwrap_key(kek, bytes(row.wrapped), row.id, str(subject.pk))


def _create_data_key(subject):
    kek = current_kek()
    key = new_data_key()
    with transaction.atomic():
        row = DataKey(subject=subject, kek_id=kek_id(kek))
        row.wrapped = wrap_key(kek, key, row.id, str(subject.pk))
        row.save(force_insert=True)
    subject.data_key = row
    return row.id, key
