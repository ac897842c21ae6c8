import hashlib
import json
import os
import uuid

import pytest
from django.core.files.base import ContentFile

from audit.models import Action, AuditEvent
from portrait import vault
from portrait.erasure import erase_subject
from portrait.models import Clone, DataKey, Job, Output, Photo, Render, Subject
from portrait.vault import Kind
from tests.flow import finished_render


def put(subject, kind, record):
    return vault.put(subject, kind, record, os.urandom(2000))


def person_with_everything(user):
    """A person with a selfie, two uploads, a ready clone with a checkpoint, and two outputs."""
    subject = Subject.objects.create(user=user)
    subject.selfie_blob = put(subject, Kind.SELFIE, subject.pk)
    subject.save()
    for number in (1, 2):
        photo_id = uuid.uuid4()
        Photo.objects.create(
            id=photo_id,
            subject=subject,
            number=number,
            width=1,
            height=1,
            blob=put(subject, Kind.PHOTO, photo_id),
            signature_blob=put(subject, Kind.SIGNATURE, photo_id),
        )
    clone = Clone(
        subject=subject,
        status=Clone.Status.READY,
        base_model="tiny",
        job=Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, status=Job.Status.DONE),
    )
    clone.adapter_blob = put(subject, Kind.ADAPTER, clone.pk)
    clone.reference_blob = put(subject, Kind.REFERENCE, clone.pk)
    clone.checkpoint_blob = put(subject, Kind.CHECKPOINT, clone.pk)
    clone.save()
    render = finished_render(subject, clone)
    for rank in (1, 2):
        output = Output(
            subject=subject,
            render=render,
            rank=rank,
            mime="image/jpeg",
            width=1,
            height=1,
            seed=rank,
            watermark_id=int(uuid.uuid4().int % 2**31),
        )
        output.blob = put(subject, Kind.OUTPUT, output.pk)
        output.save()
    return subject


@pytest.fixture
def person(user):
    return person_with_everything(user)


def blob_names(subject):
    clone = subject.clones.get()
    return [
        subject.selfie_blob,
        *[name for photo in subject.photos.all() for name in (photo.blob, photo.signature_blob)],
        clone.adapter_blob,
        clone.reference_blob,
        clone.checkpoint_blob,
        *subject.outputs.values_list("blob", flat=True),
    ]


def ciphertext(name):
    with vault.storage.inner.open(name, "rb") as handle:
        return handle.read()


def test_erasure_destroys_every_blob_and_row_of_the_person(person):
    names = blob_names(person)
    erase_subject(person, reason="test")
    assert not any(vault.storage.exists(name) for name in names)
    assert not Subject.objects.filter(pk=person.pk).exists()
    for model in (DataKey, Photo, Clone, Render, Output, Job):
        assert not model.objects.filter(subject_id=person.pk).exists(), model


def test_erasure_returns_what_it_destroyed(person):
    names = blob_names(person)
    digests = {hashlib.sha256(ciphertext(name)).hexdigest() for name in names}
    destroyed = erase_subject(person, reason="test").destroyed
    assert {item.name for item in destroyed} == set(names)
    assert {item.ciphertext_sha256 for item in destroyed} == digests


def test_a_copy_taken_before_erasure_no_longer_decrypts(person):
    copies = {name: ciphertext(name) for name in blob_names(person)}
    erase_subject(person, reason="test")
    for name, data in copies.items():
        vault.storage.inner.save(name, ContentFile(data))
        with pytest.raises(vault.KeyDestroyed):
            vault.read(name)


def test_a_copy_does_not_decrypt_even_if_its_owner_id_comes_back(person):
    """Restoring the person's row (not their key) makes a new data key, not the old one."""
    copies = {name: ciphertext(name) for name in blob_names(person)}
    user = person.user
    erase_subject(person, reason="test")
    returned = Subject.objects.create(id=person.pk, user=user)
    vault.put(returned, Kind.PHOTO, uuid.uuid4(), b"new data, new key")
    for name, data in copies.items():
        vault.storage.inner.save(name, ContentFile(data))
        with pytest.raises(vault.WrongOwner):
            vault.read(name)


def test_the_data_key_is_destroyed_before_any_blob(person, monkeypatch):
    key_present_at_each_destroy = []
    real_destroy = vault.destroy

    def watching(name):
        key_present_at_each_destroy.append(DataKey.objects.filter(subject=person).exists())
        return real_destroy(name)

    monkeypatch.setattr(vault, "destroy", watching)
    erase_subject(person, reason="test")
    assert key_present_at_each_destroy
    assert not any(key_present_at_each_destroy)


def test_erasure_logs_kinds_counts_and_digests_never_content(person):
    names = blob_names(person)
    digests = {name: hashlib.sha256(ciphertext(name)).hexdigest() for name in names}
    first = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    erase_subject(person, reason="erasure_request")
    events = list(AuditEvent.objects.filter(seq__gt=first))

    clone_event = next(e for e in events if e.action == Action.CLONE_ERASED)
    assert clone_event.details["counts"] == {"adapter": 1, "reference": 1, "checkpoint": 1}
    rest = next(e for e in events if e.action == Action.DATA_ERASED)
    assert rest.details["counts"] == {"photo": 2, "signature": 2, "selfie": 1, "output": 2}
    assert rest.details["data_keys"] == 1
    assert rest.details["records"] == {
        "clone": 1,
        "job": 2,
        "output": 2,
        "photo": 2,
        "render": 1,
        "subject": 1,
    }
    assert rest.details["reason"] == "erasure_request"
    logged = set(clone_event.details["ciphertext_sha256"] + rest.details["ciphertext_sha256"])
    assert logged == set(digests.values())
    text = json.dumps([e.details for e in events]) + "".join(e.object_id for e in events)
    assert str(person.pk) not in text
    assert not any(name in text for name in names)


def test_other_people_keep_their_data(person, other_user):
    other = Subject.objects.create(user=other_user)
    name = vault.put(other, Kind.PHOTO, uuid.uuid4(), b"someone else's photo")
    erase_subject(person, reason="test")
    assert vault.read(name) == b"someone else's photo"
