"""Destroying blobs and saying what was destroyed: kinds, counts and ciphertext digests, never
content.

Rows go first, in a committed transaction, then their blobs: a row never names a missing blob,
and a blob left behind by a crash is an orphan that the periodic sweep destroys.
"""

from django.db import transaction

from audit.log import record as audit
from audit.models import Action

from . import vault
from .models import Clone, Photo


def destroy_training_data(subject, clone=None, *, reason, photos=None, clones=()):
    """Destroy the uploads (all, or ``photos``) and the training checkpoints of ``clone`` and
    ``clones``; one audit event lists what was destroyed. Returns the list."""
    with transaction.atomic():
        names = release_training_data(subject, clone, photos=photos, clones=clones)
    if not names:
        return []
    return destroy_blobs(names, reason=reason, obj=subject)


def release_training_data(subject, clone=None, *, photos=None, clones=()):
    """Delete the upload rows and clear the checkpoints; returns the blob names to destroy
    once the caller's transaction committed."""
    photos = list(subject.photos.all() if photos is None else photos)
    names = [name for photo in photos for name in (photo.blob, photo.signature_blob)]
    Photo.objects.filter(pk__in=[photo.pk for photo in photos]).delete()
    for holder in (clone, *clones):
        if holder is not None and holder.checkpoint_blob:
            names.append(holder.checkpoint_blob)
            Clone.objects.filter(pk=holder.pk).update(checkpoint_blob="")
            holder.checkpoint_blob = ""
    return names


def destroy_blobs(names, *, reason, action=Action.UPLOADS_DESTROYED, details=None, **target):
    """Destroy the named blobs and log one event (``target``: the audit ``obj`` or
    ``object_type``/``object_id``) with the kinds, counts and digests of what was destroyed."""
    destroyed = [item for item in map(vault.destroy, filter(None, names)) if item is not None]
    audit(action, details={**destruction_details(destroyed, reason), **(details or {})}, **target)
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
