"""The hash-chained, append-only audit log.

Each row's hash is SHA-256 over a canonical encoding of the previous row's hash and this
row's own fields, so any edit, deletion, insertion or reordering breaks the chain from that
row on. Database triggers reject UPDATE and DELETE on the table (see the migrations).
Rows hold pseudonymous ids only, so erasing a person never has to touch the log.
"""

import hashlib
import json

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
    CLONE_STARTED = "clone.started", _("Clone training started")
    CLONE_FINISHED = "clone.finished", _("Clone training finished")
    CLONE_FAILED = "clone.failed", _("Clone training failed")
    CLONE_CANCELLED = "clone.cancelled", _("Clone training cancelled")
    UPLOADS_DESTROYED = "uploads.destroyed", _("Uploads destroyed")
    CLONE_ERASED = "clone.erased", _("Clone erased")
    RENDER_QUEUED = "render.queued", _("Render queued")
    RENDER_STARTED = "render.started", _("Render started")
    RENDER_FINISHED = "render.finished", _("Render finished")
    RENDER_FAILED = "render.failed", _("Render failed")
    OUTPUT_SIGNED = "output.signed", _("Output signed")
    OUTPUT_DOWNLOADED = "output.downloaded", _("Output downloaded")
    JOB_CANCELLED = "job.cancelled", _("Job cancelled")
    ERASURE_REQUESTED = "erasure.requested", _("Erasure requested")
    ERASURE_COMPLETED = "erasure.completed", _("Erasure completed")
    KEY_ROTATED = "key.rotated", _("Key-encryption key rotated")
    STAFF_LOGIN = "staff.login", _("Staff login")
    STAFF_VIEWED = "staff.viewed", _("Staff viewed a record")


class Role(models.TextChoices):
    PERSON = "person", _("Person")
    STAFF = "staff", _("Staff")
    OFFICER = "officer", _("Compliance officer")
    SYSTEM = "system", _("System")


class AuditEvent(models.Model):
    seq = models.BigIntegerField(primary_key=True)
    at = models.DateTimeField(db_index=True)
    actor = models.CharField(max_length=64, db_index=True, blank=True)
    role = models.CharField(max_length=16, choices=Role.choices)
    action = models.CharField(max_length=32, choices=Action.choices, db_index=True)
    object_type = models.CharField(max_length=32, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    details = models.JSONField(default=dict)
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
            self.prev_hash, self.seq, self.at, self.actor, self.role, self.action,
            self.object_type, self.object_id, self.details,
        )


def row_hash(prev_hash, seq, at, actor, role, action, object_type, object_id, details):
    """SHA-256 over the canonical encoding of the previous hash and a row's fields."""
    fields = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "details": details,
    }
    return hashlib.sha256(canonical_encoding(prev_hash, fields)).hexdigest()


def canonical_encoding(prev_hash, fields):
    """The bytes a row's hash covers: stable key order, no whitespace, UTF-8."""
    body = json.dumps(
        {"prev": prev_hash, **fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return body.encode()
