import pytest

from audit.models import Action, AuditEvent
from portrait import services
from portrait.errors import Refused
from portrait.models import Photo
from tests.flow import upload, with_selfie


@pytest.fixture
def person(consenting_user):
    return with_selfie(consenting_user)


def test_a_photo_of_the_selfie_person_is_accepted_and_numbered(person):
    verdict = services.upload_photo(person, upload("obama_3.jpg"), method="web")
    assert verdict.accepted
    assert verdict.number == 1
    assert Photo.objects.get().number == 1


def test_accepted_photo_is_logged(person):
    services.upload_photo(person, upload("obama_3.jpg"), method="web")
    assert AuditEvent.objects.filter(action=Action.PHOTO_ACCEPTED).count() == 1


def test_another_persons_photo_is_refused_and_not_stored(person):
    verdict = services.upload_photo(person, upload("biden_1.jpg"), method="web")
    assert not verdict.accepted
    assert [r["code"] for r in verdict.reasons] == ["selfie_mismatch"]
    assert not Photo.objects.exists()
    assert AuditEvent.objects.filter(action=Action.PHOTO_REJECTED).count() == 1


def test_group_photo_is_refused_for_several_faces(person):
    verdict = services.upload_photo(person, upload("group_two_people.jpg"), method="web")
    assert [r["code"] for r in verdict.reasons] == ["several_faces"]


def test_same_photo_at_another_size_is_a_near_duplicate(person):
    services.upload_photo(person, upload("obama_2.jpg"), method="web")
    verdict = services.upload_photo(person, upload("obama_rgba.png"), method="web")
    assert [r["code"] for r in verdict.reasons] == ["near_duplicate"]
    assert "#1" in verdict.reasons[0]["message"]


def test_not_an_image_is_refused_with_a_reason(person):
    verdict = services.upload_photo(person, upload("x.jpg", b"<html>hello</html>"), method="web")
    assert [r["code"] for r in verdict.reasons] == ["not_an_image"]


def test_upload_needs_the_selfie_first(consenting_user):
    with pytest.raises(Refused) as refused:
        services.upload_photo(consenting_user, upload("obama_3.jpg"), method="web")
    assert refused.value.code == "no_selfie"


def test_stored_photo_is_ciphertext(person):
    from portrait import vault

    verdict = services.upload_photo(person, upload("obama_3.jpg"), method="web")
    with vault.storage.inner.open(verdict.photo.blob, "rb") as handle:
        stored = handle.read()
    assert not stored.startswith(b"\xff\xd8")
    assert vault.read(verdict.photo.blob).startswith(b"\xff\xd8")
