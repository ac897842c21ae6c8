import io
import os
import uuid
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.models import Schedule

from audit.models import Action, AuditEvent
from portrait import maintenance, vault
from portrait.models import Clone, Job, Photo, Subject
from portrait.vault import Kind

TTL = timedelta(hours=72)


@pytest.fixture(autouse=True)
def own_blob_folder(settings, tmp_path):
    """Blobs of this test only (other tests' blobs outlive their rolled-back rows)."""
    settings.STORAGES = {
        **settings.STORAGES,
        "ciphertext": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "blobs")},
        },
    }


@pytest.fixture
def subject(user):
    return Subject.objects.create(user=user)


def upload(subject, number=None):
    number = number or subject.photos.count() + 1
    photo_id = uuid.uuid4()
    return Photo.objects.create(
        id=photo_id,
        subject=subject,
        number=number,
        width=1,
        height=1,
        blob=vault.put(subject, Kind.PHOTO, photo_id, os.urandom(500)),
        signature_blob=vault.put(subject, Kind.SIGNATURE, photo_id, os.urandom(100)),
    )


def clone_of(subject, status, job_status=Job.Status.DONE, finished_at=None):
    clone = Clone(
        subject=subject,
        status=status,
        base_model="tiny",
        job=Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, status=job_status),
        finished_at=finished_at or timezone.now(),
    )
    clone.checkpoint_blob = vault.put(subject, Kind.CHECKPOINT, clone.pk, os.urandom(300))
    if status == Clone.Status.READY:
        clone.adapter_blob = vault.put(subject, Kind.ADAPTER, clone.pk, os.urandom(300))
    clone.save()
    return clone


def blobs_of(photo):
    return [photo.blob, photo.signature_blob]


def gone(names):
    return not any(vault.storage.exists(name) for name in names)


def kept(names):
    return all(vault.storage.exists(name) for name in names)


def later(delta):
    return timezone.now() + delta


def test_uploads_without_a_clone_are_destroyed_after_the_time_limit(subject):
    photos = [upload(subject), upload(subject)]
    destroyed = maintenance.sweep_expired_uploads(now=later(TTL + timedelta(minutes=1)))
    assert destroyed == 4
    assert not subject.photos.exists()
    assert gone([name for photo in photos for name in blobs_of(photo)])
    event = AuditEvent.objects.get(action=Action.UPLOADS_DESTROYED)
    assert event.details["reason"] == "upload_ttl"
    assert event.details["counts"] == {"photo": 2, "signature": 2}


def test_uploads_stay_until_the_time_limit(subject):
    photo = upload(subject)
    assert maintenance.sweep_expired_uploads(now=later(TTL - timedelta(minutes=1))) == 0
    assert kept(blobs_of(photo))
    assert not AuditEvent.objects.filter(action=Action.UPLOADS_DESTROYED).exists()


def test_the_time_limit_is_a_setting(subject, settings):
    settings.SITTER_UPLOAD_TTL_HOURS = 2
    photo = upload(subject)
    maintenance.sweep_expired_uploads(now=later(timedelta(hours=3)))
    assert gone(blobs_of(photo))


def test_uploads_of_a_failed_training_go_at_the_time_limit(subject):
    photo = upload(subject)
    clone = clone_of(subject, Clone.Status.FAILED, Job.Status.FAILED)
    maintenance.sweep_expired_uploads(now=later(TTL + timedelta(minutes=1)))
    assert gone(blobs_of(photo))
    clone.refresh_from_db()
    assert clone.checkpoint_blob == ""


def test_uploads_stay_past_the_limit_while_their_training_runs(subject):
    photo = upload(subject)
    clone_of(subject, Clone.Status.TRAINING, Job.Status.RUNNING)
    assert maintenance.sweep_expired_uploads(now=later(TTL * 10)) == 0
    assert kept(blobs_of(photo))


def test_uploads_a_stored_clone_was_trained_on_are_destroyed(subject):
    """The worker may stop between storing the adapter and destroying the uploads."""
    photo = upload(subject)
    clone = clone_of(subject, Clone.Status.READY)
    checkpoint = clone.checkpoint_blob
    maintenance.sweep_expired_uploads()
    assert gone([*blobs_of(photo), checkpoint])
    assert kept([clone.adapter_blob])
    event = AuditEvent.objects.get(action=Action.UPLOADS_DESTROYED)
    assert event.details["reason"] == "clone_stored"


def test_uploads_after_the_clone_wait_for_their_own_time_limit(subject):
    clone_of(subject, Clone.Status.READY, finished_at=timezone.now() - timedelta(hours=1))
    photo = upload(subject)
    maintenance.sweep_expired_uploads()
    assert kept(blobs_of(photo))
    maintenance.sweep_expired_uploads(now=later(TTL + timedelta(minutes=1)))
    assert gone(blobs_of(photo))


def test_a_failed_clones_checkpoint_is_destroyed(subject):
    clone = clone_of(subject, Clone.Status.CANCELLED, Job.Status.CANCELLED)
    checkpoint = clone.checkpoint_blob
    maintenance.sweep_expired_uploads()
    assert gone([checkpoint])


def test_an_orphaned_blob_is_destroyed_and_logged(subject):
    referenced = upload(subject)
    orphan = vault.put(subject, Kind.OUTPUT, uuid.uuid4(), b"no row names this")
    assert maintenance.sweep_orphan_blobs(now=later(timedelta(hours=2))) == 1
    assert gone([orphan])
    assert kept(blobs_of(referenced))
    event = AuditEvent.objects.get(action=Action.UPLOADS_DESTROYED)
    assert event.details["reason"] == "orphan"
    assert event.details["counts"] == {"output": 1}


def test_a_blob_just_written_is_not_an_orphan_yet(subject):
    """A blob is stored just before the row naming it commits."""
    fresh = vault.put(subject, Kind.PHOTO, uuid.uuid4(), b"row not committed yet")
    assert maintenance.sweep_orphan_blobs() == 0
    assert kept([fresh])


def test_the_sweep_is_scheduled_on_setup(db, tiny_model, signing):
    call_command("sitter_setup", stdout=io.StringIO())
    schedule = Schedule.objects.get(func=maintenance.SWEEP_FUNC)
    assert schedule.repeats == -1
    assert import_string(schedule.func)() == {"expired_uploads": 0, "orphan_blobs": 0}
