"""Undoing what a withdrawal no longer allows, and erasing a person's data.

Erasing everything destroys the person's data key first (crypto-shredding: every copy of their
blobs becomes unreadable at that moment), then their blobs and rows. What was destroyed is
logged as kinds, counts and ciphertext digests, never content.
"""

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action

from . import vault
from .destruction import destroy_training_data, destruction_details
from .models import DataKey, Job, Subject


def cancel_jobs(subject, kinds, *, reason):
    """Cancel queued jobs now; ask running ones to stop at their next step."""
    active = subject.jobs.filter(kind__in=kinds, status__in=Job.ACTIVE)
    cancelled = list(active.values_list("pk", flat=True))
    with transaction.atomic():
        active.filter(status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED, error_code=reason, finished_at=timezone.now(),
            cancel_requested=True,
        )
        active.filter(status=Job.Status.RUNNING).update(cancel_requested=True)
        for job_id in cancelled:
            audit(Action.JOB_CANCELLED, object_type="job", object_id=str(job_id),
                  details={"reason": reason})
    return cancelled


def erase_clones(subject, *, reason):
    """Destroy every clone of the person: adapters, reference descriptors, checkpoints."""
    destroyed = []
    for clone in subject.clones.all():
        for name in (clone.adapter_blob, clone.reference_blob, clone.checkpoint_blob):
            item = vault.destroy(name)
            if item is not None:
                destroyed.append(item)
        with transaction.atomic():
            clone.renders.update(clone=None)
            job = clone.job
            clone.delete()
            if not job.is_active:
                job.delete()
            audit(Action.CLONE_ERASED, object_type="clone", object_id=str(clone.pk),
                  details=destruction_details(destroyed, reason))
    return destroyed


def erase_subject(subject, *, reason):
    """Erase all of a person's personal data; returns what was destroyed."""
    cancel_jobs(subject, [Job.Kind.TRAIN, Job.Kind.RENDER], reason=reason)
    DataKey.objects.filter(subject=subject).delete()
    destroyed = destroy_training_data(subject, reason=reason)
    destroyed += erase_clones(subject, reason=reason)
    for output in subject.outputs.all():
        item = vault.destroy(output.blob)
        if item is not None:
            destroyed.append(item)
    if subject.selfie_blob:
        item = vault.destroy(subject.selfie_blob)
        if item is not None:
            destroyed.append(item)
    with transaction.atomic():
        Subject.objects.filter(pk=subject.pk).delete()
    return destroyed
