"""Erasure requests by API: filed by the person with their token, processed on the queue, with
a status, a deadline an officer may extend once, and one signed certificate however often the
person files."""

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from consent import certificates, erasure_requests
from consent.gate import granted_purposes
from consent.models import ErasureRequest
from portrait import tasks, vault
from portrait.errors import Refused
from portrait.models import Job, Refinement, Subject
from tests.conftest import grant_all
from tests.test_crypto_shredding import blob_names, person_with_everything

URL = "/api/v1/erasure-requests/"


def api_for(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def person(consenting_user):
    return person_with_everything(consenting_user)


@pytest.fixture
def api(person):
    return api_for(person.user)


@pytest.fixture
def erased(api, django_capture_on_commit_callbacks):
    """The person's request, filed and processed (the queue runs inline in tests)."""
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(URL)
    return response.json()["id"]


def events(action):
    return AuditEvent.objects.filter(action=action).count()


def test_filing_answers_with_the_status_and_a_30_day_deadline(api):
    response = api.post(URL)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "received"
    filed = ErasureRequest.objects.get(pk=body["id"])
    assert filed.deadline - filed.requested_at == timedelta(days=30)
    assert body["days_left"] == 29
    assert body["certificate"] is None
    assert events(Action.ERASURE_REQUESTED) == 1


def test_filing_twice_returns_the_same_request(api):
    first = api.post(URL).json()
    second = api.post(URL)
    assert second.status_code == 200
    assert second.json()["id"] == first["id"]
    assert ErasureRequest.objects.count() == 1
    assert events(Action.ERASURE_REQUESTED) == 1


def test_processing_erases_everything_and_withdraws_consent(
    person, api, django_capture_on_commit_callbacks
):
    names = blob_names(person)
    with django_capture_on_commit_callbacks(execute=True):
        filed = api.post(URL).json()
    body = api.get(f"{URL}{filed['id']}/").json()
    assert body["status"] == "completed"
    assert body["completed_at"]
    assert body["certificate"] == f"{URL}{filed['id']}/certificate/"
    assert not Subject.objects.filter(pk=person.pk).exists()
    assert not any(vault.storage.exists(name) for name in names)
    assert granted_purposes(person.user) == set()


def test_erasure_twice_gives_one_certificate(erased, api, django_capture_on_commit_callbacks):
    certificate = api.get(f"{URL}{erased}/certificate/").json()
    with django_capture_on_commit_callbacks(execute=True):
        again = api.post(URL)
    assert (again.status_code, again.json()["id"]) == (200, erased)
    assert api.get(f"{URL}{erased}/certificate/").json() == certificate
    assert events(Action.ERASURE_COMPLETED) == 1
    assert ErasureRequest.objects.count() == 1


def test_the_person_can_list_their_requests(erased, api):
    assert [item["id"] for item in api.get(URL).json()] == [erased]


def test_another_person_gets_404_and_never_sees_the_request(erased, other_user):
    other = api_for(other_user)
    assert other.get(f"{URL}{erased}/").status_code == 404
    assert other.get(f"{URL}{erased}/certificate/").status_code == 404
    assert other.get(URL).json() == []


def test_no_certificate_before_completion(api):
    filed = api.post(URL).json()  # not processed: its task runs when the transaction commits
    response = api.get(f"{URL}{filed['id']}/certificate/")
    assert response.status_code == 409
    assert response.json()["code"] == "not_completed"


def test_the_api_needs_a_token(client, db):
    assert client.post(URL).status_code == 401


def test_filing_after_new_data_files_a_new_request(erased, person, policy, api):
    grant_all(person.user, policy)  # the person comes back
    response = api.post(URL)
    assert response.status_code == 201
    assert response.json()["id"] != erased


def test_a_person_with_renders_and_a_refinement_is_erased(
    person, api, django_capture_on_commit_callbacks
):
    clone = person.clones.get()
    Refinement.objects.create(
        subject=person,
        clone=clone,
        job=Job.objects.create(subject=person, kind=Job.Kind.REFINE, status=Job.Status.DONE),
    )
    with django_capture_on_commit_callbacks(execute=True):
        filed = api.post(URL).json()
    assert ErasureRequest.objects.get(pk=filed["id"]).status == "completed"
    assert not Job.objects.filter(subject_id=person.pk).exists()


def test_queued_and_running_work_is_cancelled(person, api, django_capture_on_commit_callbacks):
    queued = Job.objects.create(subject=person, kind=Job.Kind.RENDER)
    running = Job.objects.create(subject=person, kind=Job.Kind.REFINE, status=Job.Status.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        api.post(URL)
    cancelled = AuditEvent.objects.filter(action=Action.JOB_CANCELLED)
    assert cancelled.count() == 2
    assert not Job.objects.filter(pk__in=[queued.pk, running.pk]).exists()


def test_a_worker_whose_job_was_erased_mid_run_stops_quietly(person, monkeypatch):
    """The job's row goes with the person; the task must not fail on saving it."""
    import portrait.render_job

    job = Job.objects.create(subject=person, kind=Job.Kind.RENDER)
    person.renders.update(job=job)  # the person's render, now with a queued job

    def erased_meanwhile(running_job):
        erasure_requests.process_request(
            erasure_requests.file_request(person.user, channel="api")[0].pk
        )
        raise vault.KeyDestroyed("the person was erased")

    monkeypatch.setattr(portrait.render_job, "run_render", erased_meanwhile)
    assert tasks.render_portraits(str(job.pk)) == "erased"
    assert not Job.objects.filter(pk=job.pk).exists()


def test_a_failed_erasure_is_recorded_and_retried(person, monkeypatch):
    import consent.erasure_requests

    def broken(subject, *, reason):
        raise OSError("the blob store is down")

    monkeypatch.setattr(consent.erasure_requests, "erase_subject", broken)
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    assert erasure_requests.process_request(filed.pk) == "failed"
    filed.refresh_from_db()
    assert (filed.status, filed.error) == ("failed", "OSError")
    assert events(Action.ERASURE_FAILED) == 1
    monkeypatch.undo()
    assert erasure_requests.process_pending() == 1
    filed.refresh_from_db()
    assert filed.status == "completed"
    assert filed.attempts == 2


def test_a_request_whose_task_was_lost_is_processed_by_the_periodic_task(person):
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    assert erasure_requests.process_pending() == 0  # just filed: its task is on its way
    ErasureRequest.objects.filter(pk=filed.pk).update(
        requested_at=filed.requested_at - timedelta(hours=1)
    )
    assert erasure_requests.process_pending() == 1
    assert ErasureRequest.objects.get(pk=filed.pk).status == "completed"


def test_the_deadline_is_extended_once_with_a_reason(person, django_user_model):
    officer = django_user_model.objects.create_user("oli", is_staff=True)
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    extended = erasure_requests.extend_deadline(
        filed, reason="Backups on tape take a while.", officer=officer
    )
    assert extended.deadline - filed.deadline == timedelta(days=60)
    body = api_for(person.user).get(f"{URL}{filed.pk}/").json()
    assert (body["extended"], body["extension_reason"]) == (True, "Backups on tape take a while.")
    with pytest.raises(Refused) as refused:
        erasure_requests.extend_deadline(extended, reason="again", officer=officer)
    assert refused.value.code == "already_extended"
    event = AuditEvent.objects.get(action=Action.ERASURE_EXTENDED)
    assert "tape" not in str(event.details)


def test_an_extension_needs_a_reason(person, django_user_model):
    officer = django_user_model.objects.create_user("oli", is_staff=True)
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    with pytest.raises(Refused) as refused:
        erasure_requests.extend_deadline(filed, reason="  ", officer=officer)
    assert refused.value.code == "reason_required"


def test_my_data_says_what_erasing_does_before_the_button(person, client):
    client.force_login(person.user)
    html = client.get(reverse("portrait:my_data")).content.decode()
    assert html.index("for good") < html.index(reverse("consent:erase"))
    assert client.get(reverse("consent:erase")).status_code == 405


def test_erasing_from_my_data(person, client, other_user, django_capture_on_commit_callbacks):
    client.force_login(person.user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("consent:erase"), follow=True)
    assert "Your erasure request is received" in response.content.decode()
    filed = ErasureRequest.objects.get()
    assert (filed.channel, filed.status) == ("web", "completed")
    url = reverse("consent:erasure_certificate", args=[filed.pk])
    assert url in client.get(reverse("portrait:my_data")).content.decode()
    download = client.get(url)
    assert download["Content-Disposition"].startswith("attachment;")
    assert certificates.verify(download.content).valid
    client.force_login(other_user)
    assert client.get(url).status_code == 404
