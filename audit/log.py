"""Appending to the audit log.

Appends are serialised per database so the chain never forks: PostgreSQL takes a
transaction-scoped advisory lock, SQLite's IMMEDIATE transactions already hold the write lock.
Unique constraints on both hashes make a fork impossible even if that ever failed.
"""

import re

from django.db import connection, transaction
from django.utils import timezone

from .models import GENESIS_HASH, Action, AuditEvent, Role
from .pseudonyms import actor_id, pseudonym

OFFICER_GROUP = "Compliance officer"
_ADVISORY_LOCK_KEY = 0x5177_4175  # any constant shared by every process of this site
_OBJECT_TYPE = re.compile(r"[a-z0-9_]*")


def role_of(user):
    """The role a user acts in: officer (by group), staff (staff or superuser), or person."""
    if user is None:
        return Role.SYSTEM
    if user.groups.filter(name=OFFICER_GROUP).exists():
        return Role.OFFICER
    if user.is_staff or user.is_superuser:
        return Role.STAFF
    return Role.PERSON


def record(action, *, actor=None, role=None, obj=None, object_type="", object_id="", details=None):
    """Append one event; returns it. ``obj`` (a model instance) names the object.

    Call it last inside the transaction that makes the change it describes, so the event and
    the change are stored together or not at all, and the log's lock is held only briefly.
    ``details`` must say nothing that identifies a person: codes, counts, digests, versions.
    """
    if obj is not None:
        object_type = obj._meta.model_name
        object_id = str(obj.pk)
    action = Action(action)
    role = Role(role or role_of(actor))
    if not _OBJECT_TYPE.fullmatch(object_type):
        raise ValueError(f"object type must be a model name, not {object_type!r}")
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # This transaction's deferred foreign keys are checked now, before the log's
                # lock is taken: checked at COMMIT, they would wait for rows that another
                # transaction holds while it waits for this lock (a deadlock).
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        last_seq, prev_hash = head()
        event = AuditEvent(
            seq=last_seq + 1,
            at=timezone.now(),
            actor=actor_id(actor),
            role=role,
            action=action,
            object_type=object_type,
            object_id=pseudonym(object_type, object_id) if object_id else "",
            details={} if details is None else details,
            prev_hash=prev_hash,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    return event


def head():
    """(seq, hash) of the newest event: the log's length and the hash that commits to all of
    it; (0, the genesis hash) while the log is empty."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)
