import pytest

from audit.models import Action, AuditEvent
from portrait import services, vault
from portrait.errors import Refused
from portrait.models import Clone, Job, Photo
from tests.flow import with_photos, with_selfie


@pytest.fixture
def ready_to_clone(consenting_user, settings, tiny_model):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 4
    with_photos(with_selfie(consenting_user))
    return consenting_user


def test_clone_needs_enough_photos(consenting_user, settings):
    settings.SITTER_MIN_PHOTOS = 3
    with_selfie(consenting_user)
    with pytest.raises(Refused) as refused:
        services.start_clone(consenting_user)
    assert refused.value.code == "not_enough_photos"


def test_training_stores_an_encrypted_adapter(ready_to_clone, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        clone = services.start_clone(ready_to_clone)
    clone.refresh_from_db()
    assert clone.status == Clone.Status.READY
    assert clone.steps == 4
    assert clone.job.status == Job.Status.DONE
    adapter = vault.read(clone.adapter_blob)
    assert adapter[8:9] == b"{"  # safetensors: an 8-byte header length, then JSON


def test_uploads_are_destroyed_once_the_clone_is_stored(
    ready_to_clone, django_capture_on_commit_callbacks
):
    blobs = list(Photo.objects.values_list("blob", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        services.start_clone(ready_to_clone)
    assert not Photo.objects.exists()
    assert not any(vault.storage.exists(name) for name in blobs)
    event = AuditEvent.objects.get(action=Action.UPLOADS_DESTROYED)
    assert event.details["counts"] == {"photo": 3, "signature": 3}
    assert len(event.details["ciphertext_sha256"]) == 6


def test_training_emits_its_events_in_order(ready_to_clone, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.start_clone(ready_to_clone)
    actions = list(
        AuditEvent.objects.filter(action__startswith="clone.").values_list("action", flat=True)
    )
    assert actions == [Action.CLONE_QUEUED, Action.CLONE_STARTED, Action.CLONE_FINISHED]


def test_uploads_stay_when_training_fails(
    ready_to_clone, monkeypatch, django_capture_on_commit_callbacks
):
    import portrait.clone_job

    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(portrait.clone_job, "train_lora", broken)
    with django_capture_on_commit_callbacks(execute=True):
        clone = services.start_clone(ready_to_clone)
    clone.refresh_from_db()
    assert clone.status == Clone.Status.FAILED
    assert Photo.objects.count() == 3
    assert AuditEvent.objects.filter(action=Action.CLONE_FAILED).exists()


def test_starting_twice_queues_one_clone(ready_to_clone):
    first = services.start_clone(ready_to_clone)
    second = services.start_clone(ready_to_clone)
    assert first == second
    assert Clone.objects.count() == 1
