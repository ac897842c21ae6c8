"""Granting and withdrawing consent, and publishing policy versions.

The web form, the API and the demo command all call these functions, so every path keeps the
same records and checks.
"""

import hashlib
import json
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.dispatch import Signal
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from audit.log import record as audit
from audit.models import Action
from audit.pseudonyms import pseudonym

from .gate import granted_purposes
from .models import ConsentRecord, Policy, PolicyText

POLICIES_DIR = Path(__file__).resolve().parent / "policies"

# Sent after a withdrawal is stored: receivers cancel work and erase what it no longer allows.
consent_withdrawn = Signal()  # kwargs: user, purposes


class ConsentError(Exception):
    """A grant or withdrawal that cannot be recorded, with a message for the person."""

    def __init__(self, code, message):
        self.code = code
        self.message = message
        super().__init__(f"{code}: {message}")


def publish_policies(directory=POLICIES_DIR):
    """Store every policy version found on disk; the highest becomes the active one.

    Each version is a folder holding ``policy.json`` (``{"version", "purposes"}``) and one
    Markdown text per language. Idempotent; a stored version is never changed.
    """
    versions = []
    for folder in sorted(Path(directory).iterdir()):
        meta_file = folder / "policy.json"
        if not meta_file.is_file():
            continue
        meta = json.loads(meta_file.read_text())
        texts = {p.stem: p.read_text() for p in sorted(folder.glob("*.md"))}
        versions.append((meta["version"], meta["purposes"], texts))
    if not versions:
        raise FileNotFoundError(f"no policy versions in {directory}")
    with transaction.atomic():
        for version, purposes, texts in versions:
            if Policy.objects.filter(version=version).exists():
                continue
            purposes_digest, digest = Policy.compute_digests(purposes, texts)
            policy = Policy.objects.create(
                version=version, purposes=purposes, purposes_digest=purposes_digest, digest=digest
            )
            for language, body in texts.items():
                PolicyText.objects.create(
                    policy=policy,
                    language=language,
                    body=body,
                    digest=hashlib.sha256(body.encode()).hexdigest(),
                )
        newest = max(version for version, _purposes, _texts in versions)
        Policy.objects.filter(active=True).exclude(version=newest).update(active=False)
        Policy.objects.filter(version=newest).update(active=True)
    return Policy.objects.get(version=newest)


def active_policy():
    policy = Policy.objects.filter(active=True).prefetch_related("texts").first()
    if policy is None:
        raise ConsentError(
            "no_policy", _("No consent policy is published. Run `python manage.py sitter_setup`.")
        )
    return policy


def client_fingerprint(request):
    """A pseudonymous fingerprint of the client: never the address or user agent in clear."""
    if request is None:
        return ""
    address = request.META.get("REMOTE_ADDR", "")
    agent = request.META.get("HTTP_USER_AGENT", "")
    return pseudonym("client", f"{address}|{agent}")


def _validate_purposes(purposes, policy):
    purposes = list(dict.fromkeys(purposes))
    if not purposes:
        raise ConsentError("no_purposes", _("Tick at least one purpose."))
    unknown = [p for p in purposes if p not in policy.purposes]
    if unknown:
        raise ConsentError(
            "unknown_purpose",
            _("Unknown purpose: %(purposes)s.") % {"purposes": ", ".join(map(str, unknown))},
        )
    return purposes


def _record(user, action, purposes, policy, method, request, age_confirmed=False):
    """Store one grant or withdrawal and its audit event together."""
    with transaction.atomic():
        consent = ConsentRecord.objects.create(
            user=user,
            action=action,
            purposes=purposes,
            policy=policy,
            policy_version=policy.version,
            policy_hash=policy.digest,
            language=get_language() or settings.LANGUAGE_CODE,
            method=method,
            client_fingerprint=client_fingerprint(request),
            age_confirmed=age_confirmed,
        )
        audit(
            Action.CONSENT_GRANTED
            if action == ConsentRecord.Action.GRANT
            else Action.CONSENT_WITHDRAWN,
            actor=user,
            obj=consent,
            details={"purposes": purposes, "policy_version": policy.version, "method": method},
        )
    return consent


def grant(user, purposes, *, policy_version, policy_hash, age_confirmed, method, request=None):
    """Record a grant of ``purposes`` against the policy version and hash the person saw."""
    policy = active_policy()
    if policy_version != policy.version or policy_hash != policy.digest:
        raise ConsentError(
            "stale_policy",
            _("The policy changed since you read it. Please read the current version again."),
        )
    purposes = _validate_purposes(purposes, policy)
    if not age_confirmed:
        raise ConsentError(
            "age_not_confirmed",
            _("Please confirm that you are at least %(age)s years old.")
            % {"age": settings.SITTER_MIN_AGE},
        )
    return _record(
        user, ConsentRecord.Action.GRANT, purposes, policy, method, request, age_confirmed=True
    )


def withdraw(user, purposes, *, method, request=None):
    """Record a withdrawal; receivers of ``consent_withdrawn`` then undo what it covered."""
    policy = active_policy()
    purposes = _validate_purposes(purposes, policy)
    consent = _record(user, ConsentRecord.Action.WITHDRAW, purposes, policy, method, request)
    consent_withdrawn.send(sender=ConsentRecord, user=user, purposes=purposes)
    return consent


def withdraw_for_erasure(user):
    """Withdraw every purpose the person has granted, as part of erasing their data; returns
    the record, or None when nothing was granted.

    ``consent_withdrawn`` is not sent: the erasure that follows destroys everything, and lists
    it in its certificate. Withdrawing first means the gate refuses any new upload, training or
    render while the erasure runs.
    """
    granted = granted_purposes(user)
    if not granted:
        return None
    policy = active_policy()
    granted = [purpose for purpose in policy.purposes if purpose in granted]
    return _record(
        user, ConsentRecord.Action.WITHDRAW, granted, policy, ConsentRecord.Method.ERASURE, None
    )
