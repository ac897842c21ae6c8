"""Undoing what a withdrawal no longer allows, and erasing a person's data.

Erasing everything destroys the person's data key first (crypto-shredding: every copy of their
blobs becomes unreadable at that moment), then their rows and blobs. What was destroyed is
logged as kinds, counts and ciphertext digests, never content.
"""

from collections import Counter
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action

from .destruction import destroy_blobs
from .models import DataKey, Job, Subject


@dataclass
class Erasure:
    """What an erasure destroyed: the blobs (``vault.Destroyed``), the rows deleted by model
    name, and the number of data keys."""

    destroyed: list = field(default_factory=list)
    records: Counter = field(default_factory=Counter)
    data_keys: int = 0

    def count(self, by_label):
        """Add the rows a ``QuerySet.delete()`` reports ({"app.Model": n})."""
        for label, rows in by_label.items():
            if rows:
                self.records[label.rsplit(".", 1)[-1].lower()] += rows


def cancel_jobs(subject, kinds, *, reason):
    """Cancel queued jobs now; ask running ones to stop at their next step."""
    active = subject.jobs.filter(kind__in=kinds, status__in=Job.ACTIVE)
    cancelled = list(active.values_list("pk", flat=True))
    with transaction.atomic():
        active.filter(status=Job.Status.QUEUED).update(
            status=Job.Status.CANCELLED,
            error_code=reason,
            finished_at=timezone.now(),
            cancel_requested=True,
        )
        active.filter(status=Job.Status.RUNNING).update(cancel_requested=True)
        for job_id in cancelled:
            audit(
                Action.JOB_CANCELLED,
                object_type="job",
                object_id=str(job_id),
                details={"reason": reason},
            )
    return cancelled


def erase_clones(subject, *, reason):
    """Destroy every clone of the person: adapters, reference descriptors, checkpoints; one
    ``clone.erased`` event each, with what was destroyed. Returns an ``Erasure``."""
    erased = Erasure()
    for clone in subject.clones.all():
        clone_id = str(clone.pk)
        with transaction.atomic():
            names = [clone.adapter_blob, clone.reference_blob, clone.checkpoint_blob]
            clone.renders.update(clone=None)
            job = clone.job
            erased.count(clone.delete()[1])
            if not job.is_active:
                erased.count(job.delete()[1])
        erased.destroyed += destroy_blobs(
            names,
            reason=reason,
            action=Action.CLONE_ERASED,
            object_type="clone",
            object_id=clone_id,
        )
    return erased


def erase_subject(subject, *, reason):
    """Erase all of a person's personal data; returns an ``Erasure`` of what was destroyed.

    Queued and running work is cancelled first, then the data key goes (crypto-shredding):
    from then on no copy of the person's blobs, wherever it was kept, decrypts. Then the clones
    (one ``clone.erased`` event each), then every other row and blob in one ``data.erased``
    event that lists the kinds, counts and ciphertext digests of uploads, selfie and outputs,
    the rows deleted and the number of data keys destroyed. A job running meanwhile finds its
    row gone and stops (``portrait.tasks``).
    """
    cancel_jobs(subject, Job.Kind.values, reason=reason)
    erased = Erasure()
    with transaction.atomic():
        erased.data_keys = DataKey.objects.filter(subject=subject).delete()[0]
    clones = erase_clones(subject, reason=reason)
    erased.destroyed += clones.destroyed
    erased.records += clones.records
    with transaction.atomic():
        # The subject's lock, which uploads take too: none is stored half-way through this.
        locked = Subject.objects.select_for_update().filter(pk=subject.pk).first()
        if locked is None:
            return erased
        names = [locked.selfie_blob]
        for photo in locked.photos.all():
            names += [photo.blob, photo.signature_blob]
        names += locked.outputs.values_list("blob", flat=True)
        for clone in locked.clones.all():  # a clone made since erase_clones
            names += [clone.adapter_blob, clone.reference_blob, clone.checkpoint_blob]
        subject_id = str(locked.pk)
        erased.count(Subject.objects.filter(pk=locked.pk).delete()[1])
    erased.destroyed += destroy_blobs(
        names,
        reason=reason,
        action=Action.DATA_ERASED,
        details={"data_keys": erased.data_keys, "records": dict(sorted(erased.records.items()))},
        object_type="subject",
        object_id=subject_id,
    )
    return erased


def holds_anything_of(user):
    """Whether Sitter holds anything of ``user``'s beyond their account and consent records."""
    return (
        Subject.objects.filter(user=user)
        .filter(
            ~Q(selfie_blob="")
            | Q(photos__isnull=False)
            | Q(jobs__isnull=False)
            | Q(outputs__isnull=False)
            | Q(data_key__isnull=False)
        )
        .exists()
    )
