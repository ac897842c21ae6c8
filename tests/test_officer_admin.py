"""Compliance officers in the admin: they log in with a TOTP code, see records and metadata,
file, process and extend erasure requests, read the dashboard, and never get a photo or an
output."""

import io
import re

import pytest
from django.contrib.auth.models import Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from audit.models import Action, AuditEvent, Role
from audit.pseudonyms import actor_id
from consent import erasure_requests
from consent import services as consent_services
from consent.models import ErasureRequest
from consent.officers import OFFICER_PERMISSIONS, ensure_officer_group
from tests.conftest import grant_all
from tests.staff import admin_login, enrol, totp_code
from tests.test_crypto_shredding import person_with_everything

PASSWORD = "a-long-test-password-8"


@pytest.fixture
def officer(db, django_user_model):
    officer = django_user_model.objects.create_user("oli", password=PASSWORD, is_staff=True)
    officer.groups.add(ensure_officer_group())
    return officer


@pytest.fixture
def person(consenting_user):
    return person_with_everything(consenting_user)


@pytest.fixture
def officer_client(client, officer):
    assert admin_login(client, officer, PASSWORD).status_code == 302
    return client


def test_the_group_has_exactly_its_permissions(officer):
    group = ensure_officer_group()
    group.permissions.add(Permission.objects.get(codename="delete_consentrecord"))
    group = ensure_officer_group()
    granted = {(p.content_type.app_label, p.codename) for p in group.permissions.all()}
    assert granted == {
        (app, codename) for app, codenames in OFFICER_PERMISSIONS.items() for codename in codenames
    }
    assert not any(
        codename.startswith(("delete_", "view_photo", "view_subject", "view_datakey"))
        for _app, codename in granted
    )


def test_a_password_alone_does_not_let_staff_in(client, officer):
    enrol(officer)
    response = client.post(reverse("admin:login"), {"username": "oli", "password": PASSWORD})
    assert response.status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_a_wrong_code_does_not_let_staff_in(client, officer):
    device = enrol(officer)
    wrong = f"{(int(totp_code(device)) + 1) % 10**6:06d}"
    response = client.post(
        reverse("admin:login"), {"username": "oli", "password": PASSWORD, "otp_token": wrong}
    )
    assert response.status_code == 200
    assert client.get(reverse("admin:index")).status_code == 302


def test_the_right_code_lets_staff_in(officer_client):
    assert officer_client.get(reverse("admin:index")).status_code == 200
    assert AuditEvent.objects.get(action=Action.STAFF_LOGIN).role == Role.OFFICER


def test_staff_without_a_device_are_told_how_to_get_one(client, officer):
    response = client.post(
        reverse("admin:login"), {"username": "oli", "password": PASSWORD, "otp_token": "123456"}
    )
    assert response.status_code == 200
    assert "enrol_totp oli" in response.content.decode()


def test_a_session_from_the_site_login_is_not_enough_for_the_admin(client, officer):
    enrol(officer)
    client.post(reverse("login"), {"username": "oli", "password": PASSWORD})
    response = client.get(reverse("admin:consent_consentrecord_changelist"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("admin:login"))


@pytest.mark.parametrize(
    "page",
    [
        "consent_consentrecord_changelist",
        "consent_policy_changelist",
        "consent_erasurerequest_changelist",
        "audit_auditevent_changelist",
        "portrait_clone_changelist",
        "portrait_render_changelist",
        "portrait_job_changelist",
        "portrait_output_changelist",
    ],
)
def test_an_officer_sees_records_and_metadata(officer_client, person, page):
    assert officer_client.get(reverse(f"admin:{page}")).status_code == 200


@pytest.mark.parametrize(
    "page",
    ["auth_user_changelist", "otp_totp_totpdevice_changelist", "authtoken_tokenproxy_changelist"],
)
def test_an_officer_sees_no_accounts_keys_or_tokens(officer_client, page):
    assert officer_client.get(reverse(f"admin:{page}")).status_code == 403


def test_an_officer_cannot_fetch_any_photo_or_output(officer, officer_client, person):
    output = person.outputs.first()
    for name in ("portrait:output_image", "portrait:output_download"):
        assert officer_client.get(reverse(name, args=[output.pk])).status_code == 404
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=officer).key}")
    assert api.get(f"/api/v1/outputs/{output.pk}/download/").status_code == 404
    assert api.get("/api/v1/outputs/").json() == []
    # No other view returns a photo's or an output's bytes; the export has only one's own.
    export = b"".join(officer_client.get(reverse("portrait:export")).streaming_content)
    assert b"portraits/" not in export and b"photos/0" not in export


def test_no_admin_page_shows_or_links_content(officer_client, person):
    output = person.outputs.first()
    clone = person.clones.get()
    pages = [
        reverse("admin:portrait_output_change", args=[output.pk]),
        reverse("admin:portrait_output_changelist"),
        reverse("admin:portrait_clone_change", args=[clone.pk]),
    ]
    blobs = [
        output.blob,
        clone.adapter_blob,
        clone.reference_blob,
        person.selfie_blob,
        *person.photos.values_list("blob", flat=True),
    ]
    for page in pages:
        html = officer_client.get(page).content.decode()
        assert not [blob for blob in blobs if blob in html], page
        assert "/image/" not in html and "/download/" not in html, page
    for model in ("photo", "subject", "datakey"):
        assert officer_client.get(f"/admin/portrait/{model}/").status_code == 404


def test_an_officer_files_a_request_for_a_person(officer, officer_client, person):
    url = reverse("admin:consent_erasurerequest_file")
    assert officer_client.get(url).status_code == 200
    response = officer_client.post(url, {"person": person.user.username})
    filed = ErasureRequest.objects.get()
    assert response.url == reverse("admin:consent_erasurerequest_change", args=[filed.pk])
    assert (filed.user, filed.channel, filed.status) == (person.user, "admin", "received")
    event = AuditEvent.objects.get(action=Action.ERASURE_REQUESTED)
    assert (event.actor, event.role) == (actor_id(officer), Role.OFFICER)
    officer_client.post(url, {"person": person.user.username})
    assert ErasureRequest.objects.count() == 1


def test_filing_for_nobody_is_a_400_with_a_message(officer_client):
    response = officer_client.post(
        reverse("admin:consent_erasurerequest_file"), {"person": "nobody"}
    )
    assert response.status_code == 400
    assert "no account" in response.content.decode()


def action(client, name, requests, **extra):
    return client.post(
        reverse("admin:consent_erasurerequest_changelist"),
        {"action": name, "_selected_action": [str(r.pk) for r in requests], **extra},
    )


def test_an_officer_processes_a_request(officer_client, person, django_capture_on_commit_callbacks):
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    with django_capture_on_commit_callbacks(execute=True):
        assert action(officer_client, "process", [filed]).status_code == 302
    filed.refresh_from_db()
    assert filed.status == "completed"


def test_an_officer_extends_a_deadline_once_with_a_reason(officer_client, person):
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    asked = action(officer_client, "extend_deadline", [filed])
    assert asked.status_code == 200 and b"reason" in asked.content
    assert (
        action(officer_client, "extend_deadline", [filed], apply="1", reason="").status_code == 200
    )  # no reason: asked again
    assert (
        action(
            officer_client, "extend_deadline", [filed], apply="1", reason="Restoring an archive"
        ).status_code
        == 302
    )
    filed.refresh_from_db()
    assert (filed.extended, filed.extension_reason) == (True, "Restoring an archive")
    deadline = filed.deadline
    again = action(officer_client, "extend_deadline", [filed], apply="1", reason="more")
    assert "extended once already" in officer_client.get(again.url).content.decode()
    filed.refresh_from_db()
    assert filed.deadline == deadline
    assert AuditEvent.objects.get(action=Action.ERASURE_EXTENDED).role == Role.OFFICER


def test_a_request_is_never_edited_by_hand(officer_client, person):
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    url = reverse("admin:consent_erasurerequest_change", args=[filed.pk])
    assert officer_client.get(url).status_code == 200
    assert officer_client.post(url, {"status": "completed"}).status_code == 403
    assert officer_client.get(reverse("admin:consent_erasurerequest_add")).status_code == 403


def test_the_dashboard_shows_requests_withdrawals_and_uploads(
    officer_client, person, policy, other_user
):
    filed, _created = erasure_requests.file_request(person.user, channel="api")
    grant_all(other_user, policy)
    consent_services.withdraw(other_user, ["render"], method="web")
    response = officer_client.get(reverse("compliance-dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert filed.subject_ref in html
    assert actor_id(other_user) in html  # the withdrawal, by pseudonym
    for username in (person.user.username, other_user.username):
        assert not re.search(rf"\b{username}\b", html)  # a word, not part of a hex id
    uploads = response.context["uploads"]
    assert [(row["person"], row["count"]) for row in uploads] == [(actor_id(person.user), 2)]
    assert response.context["withdrawal_count"] == 1
    assert dict(response.context["statuses"])["Received"] == 1
    assert [row["days_left"] for row in response.context["open_requests"]] == [29]
    assert AuditEvent.objects.filter(
        action=Action.STAFF_VIEWED, details={"view": "compliance_dashboard"}
    ).exists()


def test_the_dashboard_is_for_officers(client, django_user_model):
    staff = django_user_model.objects.create_user("sam", password=PASSWORD, is_staff=True)
    assert client.get(reverse("compliance-dashboard")).status_code == 302
    admin_login(client, staff, PASSWORD)
    assert client.get(reverse("compliance-dashboard")).status_code == 403


def test_enrolling_a_device_prints_its_link(officer):
    out = io.StringIO()
    call_command("enrol_totp", "oli", stdout=out)
    device = TOTPDevice.objects.get(user=officer)
    assert device.confirmed
    assert re.search(r"otpauth://totp/Sitter%3Aoli\?secret=", out.getvalue())


def test_enrolling_replaces_a_lost_device(officer):
    call_command("enrol_totp", "oli", stdout=io.StringIO())
    call_command("enrol_totp", "oli", "--replace", stdout=io.StringIO())
    assert TOTPDevice.objects.filter(user=officer).count() == 1


def test_only_staff_enrol(user):
    with pytest.raises(CommandError, match="not staff"):
        call_command("enrol_totp", "ada", stdout=io.StringIO())
