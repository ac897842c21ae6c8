"""Nobody clones someone else: each upload must match the verification selfie, and when the
clone is started the whole set must be one person, the selfie's. A refusal says why and is
audit-logged."""

import pytest
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent
from portrait import services
from portrait.errors import Refused
from portrait.models import Clone, Job
from tests.flow import SET, upload, with_photos, with_selfie

BIDEN = ["biden_1.jpg", "biden_2.jpg"]
# Looser than any real deployment: lets another person's photos in, as photos uploaded under
# an operator's old thresholds, or before the selfie was replaced, would be.
ANYONE = {"selfie_match_distance": 2.0}


@pytest.fixture
def person(consenting_user, settings):
    settings.SITTER_MIN_PHOTOS = 2
    return with_selfie(consenting_user)  # Obama


def test_a_photo_of_another_person_is_refused_with_a_reason(person):
    verdict = services.upload_photo(person, upload("biden_1.jpg"), method="web")
    assert not verdict.accepted
    assert [reason["code"] for reason in verdict.reasons] == ["selfie_mismatch"]
    assert verdict.reasons[0]["message"]
    event = AuditEvent.objects.get(action=Action.PHOTO_REJECTED)
    assert event.details["reasons"] == ["selfie_mismatch"]


def test_a_set_of_another_persons_photos_is_refused_through_the_api(person):
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
    for name in BIDEN:
        response = api.post("/api/v1/photos/", {"file": upload(name)})
        assert response.status_code == 422
        assert response.json()["reasons"][0]["code"] == "selfie_mismatch"
    assert AuditEvent.objects.filter(action=Action.PHOTO_REJECTED).count() == 2


def test_a_set_of_another_person_is_refused_when_the_clone_starts(person, settings):
    settings.SITTER_FACE_THRESHOLDS = ANYONE
    with_photos(person, BIDEN)
    settings.SITTER_FACE_THRESHOLDS = {}
    with pytest.raises(Refused) as refused:
        services.start_clone(person)
    assert (refused.value.code, refused.value.status) == ("set_mismatch", 422)
    assert "verification selfie" in str(refused.value.message)
    assert not Clone.objects.exists() and not Job.objects.exists()
    event = AuditEvent.objects.get(action=Action.CLONE_REFUSED)
    assert event.details == {"reasons": ["set_mismatch"], "photos": []}


def test_the_odd_photos_of_a_mixed_set_are_named(person, settings):
    settings.SITTER_FACE_THRESHOLDS = ANYONE
    with_photos(person, [*SET, "biden_1.jpg"])
    settings.SITTER_FACE_THRESHOLDS = {}
    with pytest.raises(Refused) as refused:
        services.start_clone(person)
    assert "#4" in str(refused.value.message)
    assert AuditEvent.objects.get(action=Action.CLONE_REFUSED).details["photos"] == [4]


def test_a_selfie_replaced_after_the_uploads_is_checked_against_them(person):
    with_photos(person, SET)
    with_selfie(person, "biden_1.jpg")
    with pytest.raises(Refused) as refused:
        services.start_clone(person)
    assert refused.value.code == "set_mismatch"


def test_the_selfies_own_set_starts_a_clone(person):
    with_photos(person, SET)
    clone = services.start_clone(person)
    assert clone.job.status == Job.Status.QUEUED
    assert not AuditEvent.objects.filter(action=Action.CLONE_REFUSED).exists()


def test_the_web_page_and_the_api_say_why(person, client):
    with_photos(person, SET)
    with_selfie(person, "biden_1.jpg")
    client.force_login(person)
    page = client.post(reverse("portrait:start_clone"), follow=True)
    assert "do not show the person in your verification selfie" in page.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=person).key}")
    response = api.post("/api/v1/clones/")
    assert response.status_code == 422
    assert response.json()["code"] == "set_mismatch"
    assert not Clone.objects.exists()
