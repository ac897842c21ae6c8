"""Appending to the audit log.

Appends are serialised per database so the chain never forks: PostgreSQL takes a
transaction-scoped advisory lock, SQLite's IMMEDIATE transactions already hold the write lock.
Unique constraints on both hashes make a fork impossible even if that ever failed.
"""

from django.db import connection, transaction
from django.utils import timezone

from .models import GENESIS_HASH, AuditEvent, Role
from .pseudonyms import actor_id, pseudonym

_ADVISORY_LOCK_KEY = 0x5177_4175  # any constant shared by every process of this site


def role_of(user):
    if user is None:
        return Role.SYSTEM
    if user.is_staff or user.is_superuser:
        if user.groups.filter(name="Compliance officer").exists():
            return Role.OFFICER
        return Role.STAFF
    return Role.PERSON


def record(action, *, actor=None, role=None, obj=None, object_type="", object_id="", details=None):
    """Append one event; returns it. ``obj`` (a model instance) names the object.

    Call it inside the transaction that makes the change it describes, so the event and the
    change are stored together or not at all.
    """
    if obj is not None:
        object_type = obj._meta.model_name
        object_id = str(obj.pk)
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_ADVISORY_LOCK_KEY])
        head = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
        seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
        event = AuditEvent(
            seq=seq,
            at=timezone.now(),
            actor=actor_id(actor),
            role=role or role_of(actor),
            action=action,
            object_type=object_type,
            object_id=pseudonym(object_type, object_id) if object_id else "",
            details=details or {},
            prev_hash=prev_hash,
        )
        event.hash = event.compute_hash()
        event.save(force_insert=True)
    return event


def head():
    """(count, head hash) of the log as it stands."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "hash").first()
    return (last[0], last[1]) if last else (0, GENESIS_HASH)
