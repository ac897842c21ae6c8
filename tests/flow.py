"""Helpers that take a test person through the flow with the real services."""

import io
import secrets
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from portrait import services, vault
from portrait.models import Clone, Job, Output, Render
from tests.conftest import face_bytes

# Obama in three distinct photos, and a fourth as the selfie (faces/README.md).
SELFIE = "obama_1.jpg"
SET = ["obama_2.jpg", "obama_3.jpg", "obama_4.jpg"]


def upload(name, data=None):
    return SimpleUploadedFile(name, face_bytes(name) if data is None else data)


def with_selfie(user, name=SELFIE):
    services.record_selfie(user, upload(name), method="web")
    return user


def with_photos(user, names=SET):
    verdicts = [services.upload_photo(user, upload(name), method="web") for name in names]
    assert all(v.accepted for v in verdicts), [v.reasons for v in verdicts]
    return verdicts


def finished_render(subject, clone=None):
    """A done render of the business style by ``clone``, or by a ready clone made for it, with
    no output yet: for tests that need the rows, not training or rendering."""
    if clone is None:
        clone = Clone.objects.create(
            subject=subject,
            job=Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, status=Job.Status.DONE),
            status=Clone.Status.READY,
            base_model="sitter-tiny-sd15",
            finished_at=timezone.now(),
        )
    return Render.objects.create(
        subject=subject,
        clone=clone,
        style="business",
        seed=1,
        job=Job.objects.create(subject=subject, kind=Job.Kind.RENDER, status=Job.Status.DONE),
    )


def stored_output(user, image):
    """A ready clone's render with one stored output holding ``image`` (PNG), encrypted."""
    subject = services.subject_for(user)
    render = finished_render(subject)
    data = io.BytesIO()
    image.save(data, "PNG")
    output_id = uuid.uuid4()
    return Output.objects.create(
        id=output_id,
        subject=subject,
        render=render,
        rank=1,
        blob=vault.put(subject, vault.Kind.OUTPUT, output_id, data.getvalue()),
        mime="image/png",
        width=image.width,
        height=image.height,
        seed=1,
        watermark_id=secrets.randbits(32),
    )
