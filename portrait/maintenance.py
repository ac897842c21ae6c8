"""The periodic sweep: uploads never outlive their time limit without a clone, or their clone;
blobs that no record points to are destroyed."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action

from . import vault
from .destruction import destroy_training_data, destruction_details
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
    now = now or timezone.now()
    cutoff = now - timedelta(hours=settings.SITTER_UPLOAD_TTL_HOURS)
    training = Job.objects.filter(kind=Job.Kind.TRAIN, status__in=Job.ACTIVE)
    with_clone = Clone.objects.filter(status=Clone.Status.READY)
    subjects = Subject.objects.filter(
        Q(photos__created_at__lt=cutoff) | Q(pk__in=with_clone.values("subject"))
    ).exclude(pk__in=training.values("subject")).distinct()
    count = 0
    for subject in subjects:
        clone = subject.current_clone()
        if clone is not None:
            destroyed = destroy_training_data(subject, clone, reason="clone_stored")
        else:
            expired = subject.photos.filter(created_at__lt=cutoff)
            destroyed = destroy_training_data(subject, reason="upload_ttl", photos=expired)
        count += len(destroyed)
    return count


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
    destroyed = []
    for name in names:
        if name in referenced or name.count("/") != 3:
            continue
        if now - inner.get_modified_time(name) < ORPHAN_GRACE:
            continue
        item = vault.destroy(name)
        if item is not None:
            destroyed.append(item)
    if destroyed:
        audit(Action.UPLOADS_DESTROYED, details=destruction_details(destroyed, "orphan"))
    return len(destroyed)
