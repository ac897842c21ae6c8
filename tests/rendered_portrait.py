"""One portrait made by the real flow (consent, uploads, clone, render on the tiny model), made
once per test session, for the tests that verify outputs.

Training and rendering take a while, so the flow runs once, in a transaction that is rolled
back; its output's bytes and rows are kept, and each test that asks puts the rows back in its
own transaction. A test module loads the fixtures with
``pytest_plugins = ["tests.rendered_portrait"]``.
"""

import io
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.core import serializers
from django.db import transaction
from django.test import TestCase, override_settings
from PIL import Image

from consent.services import publish_policies
from portrait import services, vault
from portrait.models import Clone, Job, Output, Subject
from tests.conftest import face_bytes, grant_all
from tests.flow import with_photos, with_selfie

OWNER = "verify-owner"


@dataclass(frozen=True)
class RenderedPortrait:
    data: bytes
    rows: str  # the rows that make it one of this site's outputs, serialized as JSON


@pytest.fixture(scope="session")
def rendered_portrait(django_db_setup, django_db_blocker, tiny_model, signing):
    small = override_settings(
        SITTER_MIN_PHOTOS=3, SITTER_TRAIN_STEPS=2, SITTER_RENDER_STEPS=2, SITTER_RENDER_CANDIDATES=2
    )
    with django_db_blocker.unblock(), small, transaction.atomic():
        user = get_user_model().objects.create_user(OWNER)
        grant_all(user, publish_policies())
        with_photos(with_selfie(user))
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.start_clone(user)
        with TestCase.captureOnCommitCallbacks(execute=True):
            render = services.request_render(user, "business")
        output = Output.objects.get(render=render, rank=1)
        subject = Subject.objects.get(user=user)
        rows = serializers.serialize(
            "json",
            [
                subject,
                *Job.objects.filter(subject=subject),
                *Clone.objects.filter(subject=subject),
                render,
                output,
            ],
        )
        portrait = RenderedPortrait(data=vault.read(output.blob), rows=rows)
        transaction.set_rollback(True)
    return portrait


@pytest.fixture
def made_here(rendered_portrait, db, django_user_model):
    """The session's portrait as one of this site's outputs in this test's database."""
    owner = django_user_model.objects.create_user(OWNER)
    for row in serializers.deserialize("json", rendered_portrait.rows):
        if isinstance(row.object, Subject):
            row.object.user = owner
        row.save()
    return Output.objects.get(render__subject__user=owner)


@pytest.fixture(scope="session")
def reencoded_portrait(rendered_portrait):
    """The portrait saved again by Pillow, as a messenger would: JPEG quality 75, without its
    metadata and manifest."""
    buffer = io.BytesIO()
    Image.open(io.BytesIO(rendered_portrait.data)).convert("RGB").save(buffer, "JPEG", quality=75)
    return buffer.getvalue()


@pytest.fixture(scope="session")
def stranger_photo():
    """A photo Sitter never made."""
    return face_bytes("obama_1.jpg")
