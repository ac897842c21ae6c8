import pytest
from django.urls import reverse

from consent.models import ConsentRecord
from portrait.models import Photo, Subject
from tests.conftest import face_bytes
from tests.flow import upload, with_selfie


@pytest.fixture
def logged_in(client, consenting_user):
    client.force_login(consenting_user)
    return client


def test_welcome_page_for_visitors(client, db):
    response = client.get("/")
    assert response.status_code == 200
    assert b"Sign up" in response.content


def test_signup_logs_in_and_asks_for_consent(client, db, policy):
    response = client.post(
        reverse("signup"),
        {
            "username": "carla",
            "password1": "a-long-test-password-9",
            "password2": "a-long-test-password-9",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("consent:give")


@pytest.mark.parametrize(
    "name",
    [
        "portrait:photos",
        "portrait:clone",
        "portrait:styles",
        "portrait:gallery",
        "portrait:my_data",
        "consent:give",
    ],
)
def test_pages_need_login(client, db, name):
    response = client.get(reverse(name))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_consent_page_shows_the_policy_with_unticked_boxes(client, user, policy):
    client.force_login(user)
    response = client.get(reverse("consent:give"))
    assert response.status_code == 200
    assert policy.digest[:16].encode() in response.content
    assert response.content.count(b'type="checkbox"') == 4
    assert b"checked" not in response.content


def test_consent_form_records_each_purpose_and_the_selfie(client, user, policy):
    client.force_login(user)
    response = client.post(
        reverse("consent:give"),
        {
            "policy_version": policy.version,
            "policy_hash": policy.digest,
            "biometric": "on",
            "age_confirmed": "on",
            "selfie": upload("obama_1.jpg"),
        },
    )
    assert response.status_code == 302
    record = ConsentRecord.objects.get(user=user)
    assert record.purposes == ["biometric"]
    assert Subject.objects.get(user=user).selfie_blob


def test_consent_form_without_age_confirmation_stores_nothing(client, user, policy):
    client.force_login(user)
    response = client.post(
        reverse("consent:give"),
        {
            "policy_version": policy.version,
            "policy_hash": policy.digest,
            "biometric": "on",
            "selfie": upload("obama_1.jpg"),
        },
    )
    assert response.status_code == 400
    assert not ConsentRecord.objects.exists()


def test_upload_page_without_consent_sends_to_consent(client, user, policy):
    client.force_login(user)
    response = client.get(reverse("portrait:photos"))
    assert response["Location"] == reverse("consent:give")


def test_upload_page_checks_several_files_at_once(logged_in, consenting_user):
    with_selfie(consenting_user)
    response = logged_in.post(
        reverse("portrait:photos"),
        {
            "photos": [upload("obama_3.jpg"), upload("biden_1.jpg")],
        },
    )
    assert response.status_code == 200
    assert b"Photo #1 accepted" in response.content
    assert b"does not match your verification selfie" in response.content
    assert Photo.objects.count() == 1


def test_upload_page_with_only_refused_files_answers_422(logged_in, consenting_user):
    with_selfie(consenting_user)
    response = logged_in.post(
        reverse("portrait:photos"), {"photos": [upload("x.jpg", b"%PDF-1.4 not a photo")]}
    )
    assert response.status_code == 422
    assert not Photo.objects.exists()


def test_withdraw_button_withdraws_one_purpose(logged_in, consenting_user):
    response = logged_in.post(reverse("consent:withdraw", args=["render"]))
    assert response.status_code == 302
    assert ConsentRecord.objects.filter(action="withdraw").get().purposes == ["render"]


def test_consent_receipt_is_json_for_its_owner_only(client, consenting_user, other_user):
    record = ConsentRecord.objects.get(user=consenting_user)
    client.force_login(other_user)
    assert client.get(reverse("consent:receipt", args=[record.pk])).status_code == 404
    client.force_login(consenting_user)
    response = client.get(reverse("consent:receipt", args=[record.pk]))
    assert response.json()["policy_hash"] == record.policy_hash


def test_pages_speak_chinese_when_the_browser_prefers_it(client, db):
    response = client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})
    assert 'lang="zh-hans"' in response.content.decode()


def test_face_bytes_are_never_in_a_page(logged_in, consenting_user):
    with_selfie(consenting_user)
    response = logged_in.post(reverse("portrait:photos"), {"photos": [upload("obama_3.jpg")]})
    assert face_bytes("obama_3.jpg")[:64] not in response.content
