"""The periodic sweep: uploads never outlive their time limit without a clone, or their clone;
blobs that no record points to are destroyed."""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from . import vault
from .destruction import destroy_blobs, release_training_data
from .models import Clone, Job, Output, Photo, Subject

SWEEP_FUNC = "portrait.maintenance.sweep"
# A blob is written just before the row that names it is committed; give that a moment.
ORPHAN_GRACE = timedelta(hours=1)


def sweep():
    """Run every retention rule once; returns counts of what was destroyed."""
    return {
        "expired_uploads": sweep_expired_uploads(),
        "orphan_blobs": sweep_orphan_blobs(),
    }


def sweep_expired_uploads(now=None):
    """Destroy uploads older than ``SITTER_UPLOAD_TTL`` with no clone, uploads a stored clone
    was trained on (in case the worker stopped between storing it and destroying them), and
    the checkpoints of clones that failed or were cancelled. Returns how many blobs went."""
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.SITTER_UPLOAD_TTL_HOURS)
    candidates = {
        *Photo.objects.filter(created_at__lt=cutoff).values_list("subject", flat=True),
        *Clone.objects.filter(status=Clone.Status.READY, subject__photos__isnull=False).values_list(
            "subject", flat=True
        ),
        *_dead_clones().values_list("subject", flat=True),
    }
    return sum(len(_expire_training_data(pk, cutoff)) for pk in candidates)


def _dead_clones():
    return Clone.objects.filter(status__in=[Clone.Status.FAILED, Clone.Status.CANCELLED]).exclude(
        checkpoint_blob=""
    )


def _expire_training_data(subject_id, cutoff):
    # Under the subject's lock, which start_clone takes too: a training that starts now
    # either sees these uploads gone, or is seen here and keeps them.
    with transaction.atomic():
        subject = Subject.objects.select_for_update(no_key=True).filter(pk=subject_id).first()
        if (
            subject is None
            or subject.jobs.filter(kind=Job.Kind.TRAIN, status__in=Job.ACTIVE).exists()
        ):
            return []
        clone = subject.current_clone()
        expired = Q(created_at__lt=cutoff)
        if clone is not None:
            expired |= Q(created_at__lte=clone.finished_at)
        names = release_training_data(
            subject,
            clone,
            photos=subject.photos.filter(expired),
            clones=_dead_clones().filter(subject=subject),
        )
    if not names:
        return []
    return destroy_blobs(names, reason="clone_stored" if clone else "upload_ttl", obj=subject)


def referenced_blobs():
    names = set()
    names.update(Photo.objects.values_list("blob", flat=True))
    names.update(Photo.objects.values_list("signature_blob", flat=True))
    for field in ("adapter_blob", "reference_blob", "checkpoint_blob"):
        names.update(Clone.objects.values_list(field, flat=True))
    names.update(Output.objects.values_list("blob", flat=True))
    names.update(Subject.objects.values_list("selfie_blob", flat=True))
    names.discard("")
    return names


def _walk(storage, path=""):
    directories, files = storage.listdir(path)
    for name in files:
        yield f"{path}/{name}" if path else name
    for directory in directories:
        yield from _walk(storage, f"{path}/{directory}" if path else directory)


def sweep_orphan_blobs(now=None):
    now = now or timezone.now()
    inner = vault.storage.inner
    try:
        names = list(_walk(inner))
    except FileNotFoundError:
        return 0
    referenced = referenced_blobs()
    orphans = [
        name
        for name in names
        if name not in referenced
        and name.count("/") == 3
        and now - inner.get_modified_time(name) >= ORPHAN_GRACE
    ]
    if not orphans:
        return 0
    return len(destroy_blobs(orphans, reason="orphan"))
