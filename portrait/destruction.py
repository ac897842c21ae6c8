"""Destroying blobs and saying what was destroyed: kinds, counts and ciphertext digests, never
content."""

from django.db import transaction

from audit.log import record as audit
from audit.models import Action

from . import vault


def destroy_training_data(subject, clone=None, *, reason, photos=None):
    """Destroy the uploads (all, or ``photos``) and the clone's training checkpoint; log the
    digests of what was destroyed."""
    destroyed = []
    photos = list(subject.photos.all() if photos is None else photos)
    for photo in photos:
        destroyed += filter(None, [vault.destroy(photo.blob), vault.destroy(photo.signature_blob)])
    if clone is not None and clone.checkpoint_blob:
        destroyed.append(vault.destroy(clone.checkpoint_blob))
        clone.checkpoint_blob = ""
        type(clone).objects.filter(pk=clone.pk).update(checkpoint_blob="")
    destroyed = [d for d in destroyed if d is not None]
    with transaction.atomic():
        subject.photos.filter(pk__in=[p.pk for p in photos]).delete()
        if destroyed:
            audit(Action.UPLOADS_DESTROYED, obj=subject, details=destruction_details(destroyed,
                                                                                   reason))
    return destroyed


def destruction_details(destroyed, reason):
    """What an audit event or certificate says of destroyed blobs: kinds, counts, digests."""
    kinds = {}
    for item in destroyed:
        kinds[item.kind] = kinds.get(item.kind, 0) + 1
    return {
        "reason": reason,
        "counts": kinds,
        "ciphertext_sha256": sorted(item.ciphertext_sha256 for item in destroyed),
    }
