"""Erasure requests: filed by the person (API or web page) or for them by a compliance officer
(admin), processed on the task queue, answered with a signed certificate.

Processing is a queued task on the ``render`` queue, not part of the request that files it:
erasing deletes every blob of the person from the blob backend (one round trip each on S3),
which a web request should not wait for, and the ``render`` queue's tasks take minutes where
the ``train`` queue's take hours. The request's status says how far it got. A periodic task
(``process_pending``, scheduled by ``sitter_setup``) takes up any request whose task was lost:
a broker restarted, a worker killed half-way.

Processing withdraws every purpose the person granted (so the consent gate refuses any new
upload, training or render while it runs), then erases their data (``erase_subject``), then
appends the ``erasure.completed`` event and signs the certificate in one transaction. The
certificate quotes that event's sequence number and hash: it is the head of the log at that
moment, and every event it commits to before it (the ``clone.erased`` and ``data.erased``
events with their ciphertext digests) is evidence of the same erasure.
"""

import base64
import logging
from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_q.tasks import async_task

from audit.log import record as audit
from audit.models import Action, canonical_json, canonical_time
from audit.pseudonyms import actor_id
from portrait.erasure import Erasure, erase_subject, holds_anything_of
from portrait.errors import Refused
from portrait.models import Subject

from . import certificates
from .gate import granted_purposes
from .models import ConsentRecord, ErasureRequest
from .services import withdraw_for_erasure

log = logging.getLogger(__name__)

PROCESS_TASK = "consent.erasure_requests.process_request"
PENDING_FUNC = "consent.erasure_requests.process_pending"
QUEUE = "render"
# A request received this long ago and not yet started lost its task.
LOST_AFTER = timedelta(minutes=15)
# An erasure takes seconds to minutes; one in progress this long lost its worker.
STALE_AFTER = timedelta(hours=1)
# A request that failed this often waits for an officer to process it again.
MAX_AUTOMATIC_ATTEMPTS = 5


def file_request(user, *, channel, actor=None):
    """File an erasure request for ``user``; returns ``(request, created)``.

    Idempotent: while the person has an open request (received, in progress, or failed and
    waiting to be retried) filing returns it, a failed one queued again; after a completed one
    it returns that one as long as nothing of the person's has been held or granted since.
    ``actor`` is who filed it (an officer in the admin), the person if not given.
    """
    with transaction.atomic():
        # One filing per person at a time (on SQLite the transaction already holds the lock).
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        existing = user.erasure_requests.filter(status__in=ErasureRequest.OPEN).first()
        if existing is None and not holds_anything_of(user) and not granted_purposes(user):
            existing = user.erasure_requests.filter(status=ErasureRequest.Status.COMPLETED).first()
        if existing is not None:
            if existing.status == ErasureRequest.Status.FAILED:
                enqueue(existing)
            return existing, False
        now = timezone.now()
        filed = ErasureRequest.objects.create(
            user=user,
            subject_ref=actor_id(user),
            channel=channel,
            requested_at=now,
            deadline=now + timedelta(days=settings.SITTER_ERASURE_DAYS),
        )
        audit(
            Action.ERASURE_REQUESTED,
            actor=actor or user,
            obj=filed,
            details={"channel": channel, "deadline": canonical_time(filed.deadline)},
        )
        enqueue(filed)
    return filed, True


def enqueue(erasure_request):
    """Queue the processing of ``erasure_request`` once the current transaction commits."""
    request_id = str(erasure_request.pk)
    transaction.on_commit(
        lambda: async_task(
            PROCESS_TASK, request_id, cluster=QUEUE, task_name=f"erasure-{request_id}"
        )
    )


def process_request(request_id):
    """Erase the person's data and sign the certificate; returns the request's new status, or
    "skipped" when it is completed or another worker has it."""
    claimed = _claim(request_id)
    if claimed is None:
        return "skipped"
    try:
        erasure = _erase(claimed)
        _complete(claimed, erasure)
    except Exception as error:
        log.exception("erasure request %s failed", claimed.pk)
        with transaction.atomic():
            ErasureRequest.objects.filter(pk=claimed.pk).update(
                status=ErasureRequest.Status.FAILED, error=f"{type(error).__name__}"[:200]
            )
            audit(
                Action.ERASURE_FAILED,
                obj=claimed,
                details={"error": type(error).__name__, "attempt": claimed.attempts},
            )
        return ErasureRequest.Status.FAILED
    return ErasureRequest.Status.COMPLETED


def _claim(request_id):
    now = timezone.now()
    with transaction.atomic():
        claimed = ErasureRequest.objects.select_for_update().filter(pk=request_id).first()
        if claimed is None or claimed.status == ErasureRequest.Status.COMPLETED:
            return None
        if (
            claimed.status == ErasureRequest.Status.IN_PROGRESS
            and claimed.started_at > now - STALE_AFTER
        ):
            return None
        claimed.status = ErasureRequest.Status.IN_PROGRESS
        claimed.attempts += 1
        claimed.started_at = now
        claimed.error = ""
        claimed.save(update_fields=["status", "attempts", "started_at", "error"])
    return claimed


def _erase(erasure_request):
    certificates.ensure_signing_key()  # a key problem fails the request before it destroys
    user = erasure_request.user
    if user is None:  # the account was deleted, and everything of it with it
        return Erasure()
    withdraw_for_erasure(user)
    subject = Subject.objects.filter(user=user).first()
    if subject is None:
        return Erasure()
    return erase_subject(subject, reason="erasure_request")


def _complete(erasure_request, erasure):
    blobs = defaultdict(list)
    for item in erasure.destroyed:
        blobs[item.kind].append(item.ciphertext_sha256)
    destroyed = {
        "data_keys": erasure.data_keys,
        "blobs": {
            kind: {"count": len(digests), "ciphertext_sha256": sorted(digests)}
            for kind, digests in sorted(blobs.items())
        },
        "records": dict(sorted(erasure.records.items())),
    }
    with transaction.atomic():
        event = audit(
            Action.ERASURE_COMPLETED,
            obj=erasure_request,
            details={
                "data_keys": erasure.data_keys,
                "blobs": {kind: entry["count"] for kind, entry in destroyed["blobs"].items()},
                "records": destroyed["records"],
            },
        )
        statement = {
            "type": certificates.STATEMENT_TYPE,
            "version": 1,
            "issuer": settings.SITTER_PRODUCER,
            "request": str(erasure_request.pk),
            "subject": erasure_request.subject_ref,
            "requested_at": canonical_time(erasure_request.requested_at),
            "deadline": canonical_time(erasure_request.deadline),
            "completed_at": canonical_time(event.at),
            "destroyed": destroyed,
            "consent_withdrawn": _withdrawn_purposes(erasure_request),
            "audit": {"seq": event.seq, "hash": event.hash},
        }
        document = certificates.sign(statement)
        erasure_request.status = ErasureRequest.Status.COMPLETED
        erasure_request.completed_at = event.at
        erasure_request.certificate = canonical_json(statement)
        erasure_request.signature = document["signature"]
        erasure_request.public_key = document["public_key"]
        erasure_request.save(
            update_fields=["status", "completed_at", "certificate", "signature", "public_key"]
        )


def _withdrawn_purposes(erasure_request):
    """The purposes this request withdrew, over all its attempts."""
    if erasure_request.user_id is None:
        return []
    records = ConsentRecord.objects.filter(
        user_id=erasure_request.user_id,
        action=ConsentRecord.Action.WITHDRAW,
        method=ConsentRecord.Method.ERASURE,
        created_at__gte=erasure_request.requested_at,
    )
    return sorted({purpose for record in records for purpose in record.purposes})


def certificate_document(erasure_request):
    """The signed certificate of a completed request, as the JSON document a person keeps."""
    if erasure_request.status != ErasureRequest.Status.COMPLETED:
        raise Refused(
            "not_completed",
            _(
                "The erasure is not completed yet, so there is no certificate. "
                "Its status is: %(status)s."
            )
            % {"status": erasure_request.get_status_display()},
            status=409,
        )
    raw = base64.b64decode(erasure_request.public_key)
    return {
        "statement": erasure_request.certificate_statement(),
        "signature": erasure_request.signature,
        "algorithm": certificates.ALGORITHM,
        "public_key": erasure_request.public_key,
        "key_id": certificates.key_id(raw),
    }


def extend_deadline(erasure_request, *, reason, officer):
    """Extend an open request's deadline once, by ``SITTER_ERASURE_EXTENSION_DAYS``, with a
    reason the person is shown. The reason stays on the request, out of the audit log (free
    text may name people)."""
    reason = reason.strip()
    if not reason:
        raise Refused(
            "reason_required", _("Give the reason for the extension: the person is shown it.")
        )
    with transaction.atomic():
        locked = ErasureRequest.objects.select_for_update().get(pk=erasure_request.pk)
        if not locked.is_open:
            raise Refused(
                "not_open",
                _("This request is completed: there is no deadline left to extend."),
                status=409,
            )
        if locked.extended:
            raise Refused(
                "already_extended",
                _(
                    "This request's deadline was extended once "
                    "already; it cannot be extended again."
                ),
                status=409,
            )
        days = settings.SITTER_ERASURE_EXTENSION_DAYS
        locked.deadline += timedelta(days=days)
        locked.extended = True
        locked.extension_reason = reason
        locked.save(update_fields=["deadline", "extended", "extension_reason"])
        audit(
            Action.ERASURE_EXTENDED,
            actor=officer,
            obj=locked,
            details={"days": days, "deadline": canonical_time(locked.deadline)},
        )
    return locked


def process_pending():
    """Process the requests whose task was lost or failed (the periodic task). Returns how
    many were processed."""
    now = timezone.now()
    pending = ErasureRequest.objects.filter(
        Q(status=ErasureRequest.Status.RECEIVED, requested_at__lt=now - LOST_AFTER)
        | Q(status=ErasureRequest.Status.FAILED, attempts__lt=MAX_AUTOMATIC_ATTEMPTS)
        | Q(status=ErasureRequest.Status.IN_PROGRESS, started_at__lt=now - STALE_AFTER)
    ).values_list("pk", flat=True)
    return sum(process_request(pk) != "skipped" for pk in list(pending))
