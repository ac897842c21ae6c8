"""Policies and the consent records given against them.

Consent is kept as an append-only list of grant and withdrawal records, each tied to the policy
version and hash the person saw; the current state of a purpose is its latest record.
"""

import hashlib
import json
import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Purpose(models.TextChoices):
    BIOMETRIC = "biometric", _("Process my photos' biometric data to build my clone")
    KEEP_CLONE = "keep_clone", _("Keep my clone so I can render portraits later")
    RENDER = "render", _("Render portraits of me with my clone")


class Policy(models.Model):
    version = models.PositiveIntegerField(unique=True)
    purposes = models.JSONField(help_text=_("The purposes this version asks consent for."))
    purposes_digest = models.CharField(max_length=64)
    digest = models.CharField(max_length=64, help_text=_("SHA-256 over the texts and purposes."))
    active = models.BooleanField(default=False)
    published_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-version"]
        verbose_name = _("policy")
        verbose_name_plural = _("policies")
        constraints = [
            models.UniqueConstraint(
                fields=["active"], condition=models.Q(active=True), name="one_active_policy"
            )
        ]

    def __str__(self):
        return f"v{self.version}"

    def text(self, language):
        texts = {t.language: t for t in self.texts.all()}
        return texts.get(language) or texts.get("en")

    @staticmethod
    def compute_digests(purposes, texts):
        """(purposes digest, policy digest) for purposes and {language: markdown} texts."""
        purposes_digest = hashlib.sha256(json.dumps(sorted(purposes)).encode()).hexdigest()
        body = json.dumps(
            {
                "purposes": sorted(purposes),
                "texts": {
                    lang: hashlib.sha256(t.encode()).hexdigest() for lang, t in texts.items()
                },
            },
            sort_keys=True,
        )
        return purposes_digest, hashlib.sha256(body.encode()).hexdigest()


class PolicyText(models.Model):
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="texts")
    language = models.CharField(max_length=16)
    body = models.TextField()
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "language"], name="one_text_per_language")
        ]

    def __str__(self):
        return f"{self.policy} ({self.language})"


class ConsentRecord(models.Model):
    class Action(models.TextChoices):
        GRANT = "grant", _("Granted")
        WITHDRAW = "withdraw", _("Withdrawn")

    class Method(models.TextChoices):
        WEB = "web", _("Web form")
        API = "api", _("API")
        DEMO = "demo", _("Demo command")
        ERASURE = "erasure", _("Erasure request")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="consent_records"
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    purposes = models.JSONField()
    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="records")
    policy_version = models.PositiveIntegerField()
    policy_hash = models.CharField(max_length=64)
    language = models.CharField(max_length=16)
    method = models.CharField(max_length=16, choices=Method.choices)
    client_fingerprint = models.CharField(max_length=64, blank=True)
    age_confirmed = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")

    def __str__(self):
        return f"{self.get_action_display()} {', '.join(self.purposes)}"

    def receipt(self):
        """The JSON receipt the person can download for this grant or withdrawal."""
        return {
            "receipt_id": str(self.id),
            "action": self.action,
            "purposes": self.purposes,
            "policy_version": self.policy_version,
            "policy_hash": self.policy_hash,
            "language": self.language,
            "method": self.method,
            "age_confirmed": self.age_confirmed,
            "client_fingerprint": self.client_fingerprint,
            "at": self.created_at.isoformat(),
        }


class ErasureRequest(models.Model):
    """A request to erase everything Sitter holds of a person (GDPR Art. 17, PIPL Art. 47).

    The record outlives what it erases: it names the person by ``subject_ref``, the pseudonym
    the audit log gives them, so it can still be shown, and its certificate checked, after the
    erasure and even after the account itself is deleted (``user`` then becomes empty). The
    erasure keeps the account and its consent records, which prove what the person agreed to
    and withdrew; deleting the account is a separate step.

    ``certificate`` is the statement, as the canonical JSON text that ``signature`` (Ed25519,
    base64, by ``public_key``) signs: see ``consent/certificates.py``.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Received")
        IN_PROGRESS = "in_progress", _("In progress")
        COMPLETED = "completed", _("Completed")
        FAILED = "failed", _("Failed")

    # A failed request is still open: it is retried, never filed again.
    OPEN = (Status.RECEIVED, Status.IN_PROGRESS, Status.FAILED)

    class Channel(models.TextChoices):
        API = "api", _("API")
        WEB = "web", _("Web page")
        ADMIN = "admin", _("Compliance officer, in the admin")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="erasure_requests",
    )
    subject_ref = models.CharField(
        _("person (pseudonym)"),
        max_length=32,
        db_index=True,
        help_text=_("The pseudonym the audit log uses for this person."),
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    status = models.CharField(
        max_length=16, choices=Status.choices, default=Status.RECEIVED, db_index=True
    )
    requested_at = models.DateTimeField(default=timezone.now, db_index=True)
    deadline = models.DateTimeField()
    extended = models.BooleanField(default=False, help_text=_("The deadline may be extended once."))
    extension_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    certificate = models.TextField(blank=True)
    signature = models.CharField(max_length=200, blank=True)
    public_key = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-requested_at"]
        verbose_name = _("erasure request")
        verbose_name_plural = _("erasure requests")
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=models.Q(status__in=["received", "in_progress", "failed"]),
                name="one_open_erasure_request_per_person",
            )
        ]

    def __str__(self):
        return f"erasure request {self.pk}"

    @property
    def is_open(self):
        return self.status in self.OPEN

    def certificate_statement(self):
        return json.loads(self.certificate) if self.certificate else None

    def days_left(self, now=None):
        """Whole days until the deadline; negative once it has passed."""
        return (self.deadline - (now or timezone.now())).days
