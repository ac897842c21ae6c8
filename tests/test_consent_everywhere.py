"""Every web view, API view and task that touches personal data refuses without the purposes it
needs (the table in consent/gate.py). The URL configuration is walked, so a new URL fails here
until it is placed in GATED or in NO_PURPOSE with the reason it needs none."""

import uuid

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.urls.converters import UUIDConverter
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from consent import services as consent_services
from consent.models import Purpose
from portrait import services, tasks, vault
from portrait.models import Clone, Job, Photo
from tests.conftest import grant_all
from tests.flow import upload, with_photos, with_selfie

BIOMETRIC, KEEP_CLONE, RENDER = Purpose.BIOMETRIC, Purpose.KEEP_CLONE, Purpose.RENDER

GATED = {
    "portrait:photos": {BIOMETRIC},
    "portrait:upload_photo": {BIOMETRIC},
    "portrait:start_clone": {BIOMETRIC, KEEP_CLONE},
    "portrait:refine_clone": {BIOMETRIC, KEEP_CLONE},
    "portrait:styles": {RENDER, KEEP_CLONE},
    "portrait:output_feedback": {BIOMETRIC},
    "consent:selfie": {BIOMETRIC},
    "api:selfie": {BIOMETRIC},
    "api:photos": {BIOMETRIC},
    "api:clones": {BIOMETRIC, KEEP_CLONE},
    "api:clone-refine": {BIOMETRIC, KEEP_CLONE},
    "api:renders": {RENDER, KEEP_CLONE},
    "api:output-feedback": {BIOMETRIC},
}
RIGHT = "the person's own data: seeing, taking or erasing it is a right, not processing"
NO_PERSONAL_DATA = "holds no personal data"
CONSENTING = "consenting itself"
NO_PURPOSE = {
    "portrait:home": "counts of the person's things only",
    "portrait:clone": RIGHT,
    "portrait:job_progress": RIGHT,
    "portrait:gallery": RIGHT,
    "portrait:output_image": RIGHT,
    "portrait:output_download": RIGHT,
    "portrait:my_data": RIGHT,
    "portrait:export": RIGHT,
    "portrait:verify": "public: checks an uploaded image in memory, keeps nothing",
    "consent:give": CONSENTING,
    "consent:withdraw": CONSENTING,
    "consent:receipt": RIGHT,
    "consent:erase": RIGHT,
    "consent:erasure_certificate": RIGHT,
    "api:token": NO_PERSONAL_DATA,
    "api:policy": NO_PERSONAL_DATA,
    "api:consent-grant": CONSENTING,
    "api:consent-withdraw": CONSENTING,
    "api:job": RIGHT,
    "api:styles": NO_PERSONAL_DATA,
    "api:outputs": RIGHT,
    "api:output-download": RIGHT,
    "api:verify": "public: checks an uploaded image in memory, keeps nothing",
    "api:export": RIGHT,
    "api:erasure-requests": RIGHT,
    "api:erasure-request": RIGHT,
    "api:erasure-certificate": RIGHT,
    "login": NO_PERSONAL_DATA,
    "logout": NO_PERSONAL_DATA,
    "signup": NO_PERSONAL_DATA,
    "set_language": NO_PERSONAL_DATA,
    "schema": NO_PERSONAL_DATA,
    "api-docs": NO_PERSONAL_DATA,
    "compliance-dashboard": "staff only: tests/test_officer_admin.py",
}


def url_patterns(resolver=None, namespace=""):
    """(name, pattern) of every named URL outside the admin, namespaced like ``reverse``'s."""
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # staff only: tests/test_officer_admin.py, tests/test_audit_admin.py
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from url_patterns(entry, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            yield f"{namespace}{entry.name}", entry


def some_url(name, pattern):
    kwargs = {
        key: uuid.uuid4() if isinstance(converter, UUIDConverter) else "render"
        for key, converter in pattern.pattern.converters.items()
    }
    return reverse(name, kwargs=kwargs)


PATTERNS = dict(url_patterns())


def test_every_url_is_placed_in_the_gate_table():
    assert set(GATED) | set(NO_PURPOSE) == set(PATTERNS)
    assert not set(GATED) & set(NO_PURPOSE)


def without(user, policy, purpose):
    grant_all(user, policy)
    consent_services.withdraw(user, [purpose], method="web")
    return user


def refusals(client, url):
    """The answers to GET and POST (with a photo, for the views that take one) that are not
    "method not allowed"."""
    photo = upload("obama_2.jpg")
    answers = [client.get(url), client.post(url, {"photo": photo, "file": photo})]
    answers = [answer for answer in answers if answer.status_code != 405]
    assert answers, url
    return answers


@pytest.mark.parametrize(
    "name, purpose",
    [(name, purpose) for name, purposes in GATED.items() for purpose in sorted(purposes)],
)
def test_a_gated_view_refuses_without_each_purpose_it_needs(name, purpose, user, policy, client):
    without(user, policy, purpose)
    url = some_url(name, PATTERNS[name])
    if name.startswith("api:"):
        api = APIClient()
        api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
        for answer in refusals(api, url):
            assert answer.status_code == 403, (url, answer.status_code)
            assert "consent" in answer.json()["detail"]
    else:
        client.force_login(user)
        for answer in refusals(client, url):
            if answer["Content-Type"] == "application/json":  # a page's script asked
                assert answer.status_code == 403, url
                assert answer.json()["code"] == "consent_required"
            else:
                assert (answer.status_code, answer.url) == (302, reverse("consent:give")), url


@pytest.mark.parametrize(
    "task, kind, purposes",
    [
        (tasks.train_clone, Job.Kind.TRAIN, {BIOMETRIC, KEEP_CLONE}),
        (tasks.refine_clone, Job.Kind.REFINE, {BIOMETRIC, KEEP_CLONE}),
        (tasks.render_portraits, Job.Kind.RENDER, {RENDER, KEEP_CLONE}),
    ],
)
def test_a_task_refuses_without_each_purpose_it_needs(task, kind, purposes, user, policy):
    for purpose in purposes:
        without(user, policy, purpose)
        job = Job.objects.create(subject=services.subject_for(user), kind=kind)
        assert task(str(job.pk)) == "skipped"
        job.refresh_from_db()
        assert (job.status, job.error_code) == (Job.Status.CANCELLED, "consent_missing")


@pytest.fixture
def ready_to_clone(consenting_user, settings, tiny_model):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 4
    with_photos(with_selfie(consenting_user))
    return consenting_user


@pytest.mark.slow
def test_withdrawal_during_training_cancels_it_and_erases(
    ready_to_clone, monkeypatch, django_capture_on_commit_callbacks
):
    import portrait.clone_job

    real_train_lora = portrait.clone_job.train_lora
    withdrawn = []

    def train_and_withdraw(*args, progress, **kwargs):
        def on_step(step, total, loss=None):
            if not withdrawn:
                withdrawn.append(step)
                consent_services.withdraw(ready_to_clone, [BIOMETRIC], method="web")
            progress(step, total, loss)

        return real_train_lora(*args, progress=on_step, **kwargs)

    monkeypatch.setattr(portrait.clone_job, "train_lora", train_and_withdraw)
    photo_blobs = list(Photo.objects.values_list("blob", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        clone = services.start_clone(ready_to_clone)
    assert withdrawn == [1]
    job = Job.objects.get(pk=clone.job_id)
    assert job.status == Job.Status.CANCELLED
    assert not Clone.objects.exists()
    assert not Photo.objects.exists()
    assert not any(vault.storage.exists(name) for name in photo_blobs)
