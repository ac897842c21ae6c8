"""The hash-chained, append-only audit log.

Each row's hash is SHA-256 over a canonical encoding of the previous row's hash and this
row's own fields, so any edit, deletion, insertion or reordering breaks the chain from that
row on. Database triggers reject UPDATE and DELETE on the table (see the migrations).
Rows hold pseudonymous ids only, so erasing a person never has to touch the log.

The canonical encoding of a row is these nine fields, UTF-8, joined by a newline (0x0A):

    prev_hash     64 lowercase hex digits (the genesis row's: 64 zeros)
    seq           decimal, no leading zeros
    at            UTC time as YYYY-MM-DDTHH:MM:SS.ffffffZ (always six fraction digits)
    actor         32 lowercase hex digits, or empty for the system
    role          one of Role
    action        one of Action
    object_type   a model name: [a-z0-9_]*
    object_id     32 lowercase hex digits, or empty
    details       canonical JSON: keys sorted, no whitespace, UTF-8, no NaN or infinity

None of the first eight can hold a newline and canonical JSON escapes every control character,
so the encoding is unambiguous. The database keeps ``details`` as exactly that canonical text,
which lets ``verify_chain`` hash what it reads without parsing it.
"""

import hashlib
import json
from datetime import UTC

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

GENESIS_HASH = "0" * 64


class Action(models.TextChoices):
    CONSENT_GRANTED = "consent.granted", _("Consent granted")
    CONSENT_WITHDRAWN = "consent.withdrawn", _("Consent withdrawn")
    SELFIE_RECORDED = "selfie.recorded", _("Verification selfie recorded")
    PHOTO_ACCEPTED = "photo.accepted", _("Photo accepted")
    PHOTO_REJECTED = "photo.rejected", _("Photo rejected")
    CLONE_QUEUED = "clone.queued", _("Clone queued")
    CLONE_REFUSED = "clone.refused", _("Clone refused: the photos are not the selfie's person")
    CLONE_STARTED = "clone.started", _("Clone training started")
    CLONE_FINISHED = "clone.finished", _("Clone training finished")
    CLONE_FAILED = "clone.failed", _("Clone training failed")
    CLONE_CANCELLED = "clone.cancelled", _("Clone training cancelled")
    UPLOADS_DESTROYED = "uploads.destroyed", _("Uploads destroyed")
    CLONE_ERASED = "clone.erased", _("Clone erased")
    DATA_ERASED = "data.erased", _("Person's data erased")
    RENDER_QUEUED = "render.queued", _("Render queued")
    RENDER_STARTED = "render.started", _("Render started")
    RENDER_FINISHED = "render.finished", _("Render finished")
    RENDER_FAILED = "render.failed", _("Render failed")
    OUTPUT_SIGNED = "output.signed", _("Output signed")
    OUTPUT_DOWNLOADED = "output.downloaded", _("Output downloaded")
    EXPORT_DOWNLOADED = "export.downloaded", _("Data export downloaded")
    OUTPUT_FEEDBACK = "output.feedback", _("Output marked as looking like the person or not")
    REFINE_QUEUED = "refine.queued", _("Clone refinement queued")
    REFINE_STARTED = "refine.started", _("Clone refinement started")
    CLONE_REFINED = "clone.refined", _("Clone refinement finished")
    REFINE_FAILED = "refine.failed", _("Clone refinement failed or cancelled")
    JOB_CANCELLED = "job.cancelled", _("Job cancelled")
    ERASURE_REQUESTED = "erasure.requested", _("Erasure requested")
    ERASURE_COMPLETED = "erasure.completed", _("Erasure completed")
    ERASURE_FAILED = "erasure.failed", _("Erasure failed")
    ERASURE_EXTENDED = "erasure.extended", _("Erasure deadline extended")
    KEY_ROTATED = "key.rotated", _("Key-encryption key rotated")
    STAFF_LOGIN = "staff.login", _("Staff login")
    STAFF_VIEWED = "staff.viewed", _("Staff viewed a record")


class Role(models.TextChoices):
    PERSON = "person", _("Person")
    STAFF = "staff", _("Staff")
    OFFICER = "officer", _("Compliance officer")
    SYSTEM = "system", _("System")


def canonical_json(value):
    """The one text of a JSON value that the hash covers: sorted keys, no whitespace."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def canonical_time(at):
    """An aware datetime as the UTC text the hash covers."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_encoding(
    prev_hash, seq, at_text, actor, role, action, object_type, object_id, details_text
):
    """The bytes a row's hash covers (see the module's docstring)."""
    return (
        f"{prev_hash}\n{seq}\n{at_text}\n{actor}\n{role}\n{action}\n{object_type}\n"
        f"{object_id}\n{details_text}"
    ).encode()


def row_hash(prev_hash, seq, at, actor, role, action, object_type, object_id, details):
    """SHA-256 (hex) over the canonical encoding of the previous hash and a row's fields."""
    return hashlib.sha256(
        canonical_encoding(
            prev_hash,
            seq,
            canonical_time(at),
            actor,
            role,
            action,
            object_type,
            object_id,
            canonical_json(details),
        )
    ).hexdigest()


class CanonicalJSONField(models.TextField):
    """JSON stored as its canonical text on every database, so that the text the database
    returns is byte for byte the text the row's hash covers."""

    def from_db_value(self, value, expression, connection):
        return None if value is None else json.loads(value)

    def to_python(self, value):
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                raise ValidationError(_("Enter valid JSON."), code="invalid") from None
        return value

    def get_prep_value(self, value):
        return canonical_json(value)

    def value_to_string(self, obj):
        return canonical_json(self.value_from_object(obj))


class AuditEvent(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=64, db_index=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = CanonicalJSONField(default=dict)
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")

    def __str__(self):
        return f"#{self.seq} {self.action}"

    def compute_hash(self):
        return row_hash(
            self.prev_hash,
            self.seq,
            self.at,
            self.actor,
            self.role,
            self.action,
            self.object_type,
            self.object_id,
            self.details,
        )
