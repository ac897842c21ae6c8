"""The admin: read-only everywhere, every staff login and every staff view of a record that
holds personal data audit-logged, and the audit log searchable by what an officer knows."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from audit.log import OFFICER_GROUP, record
from audit.models import Action, AuditEvent, Role
from audit.pseudonyms import actor_id, pseudonym
from consent.models import ConsentRecord
from tests.conftest import grant_all
from tests.staff import admin_login


@pytest.fixture
def staff(db, django_user_model):
    return django_user_model.objects.create_superuser("root", password="a-long-test-password-9")


@pytest.fixture
def officer(db, django_user_model):
    officer = django_user_model.objects.create_user(
        "oli", password="a-long-test-password-8", is_staff=True
    )
    officer.groups.add(Group.objects.create(name=OFFICER_GROUP))
    officer.user_permissions.add(*Permission.objects.filter(codename__startswith="view_"))
    return officer


@pytest.fixture
def consent(consenting_user):
    return ConsentRecord.objects.get(user=consenting_user)


@pytest.fixture
def admin_client(client, staff):
    assert admin_login(client, staff, "a-long-test-password-9").status_code == 302
    return client


def viewed():
    return list(AuditEvent.objects.filter(action=Action.STAFF_VIEWED))


def test_staff_login_is_logged(client, staff):
    response = admin_login(client, staff, "a-long-test-password-9")
    assert response.status_code == 302
    event = AuditEvent.objects.get(action=Action.STAFF_LOGIN)
    assert (event.actor, event.role) == (actor_id(staff), Role.STAFF)


def test_officer_login_is_logged_as_an_officer(client, officer):
    client.post(reverse("login"), {"username": "oli", "password": "a-long-test-password-8"})
    assert AuditEvent.objects.get(action=Action.STAFF_LOGIN).role == Role.OFFICER


def test_a_persons_login_is_not_a_staff_login(client, user):
    response = client.post(
        reverse("login"), {"username": "ada", "password": "a-long-test-password-1"}
    )
    assert response.status_code == 302
    assert not AuditEvent.objects.filter(action=Action.STAFF_LOGIN).exists()


@pytest.mark.parametrize(
    "model",
    [
        "audit/auditevent",
        "consent/consentrecord",
        "consent/policy",
        "portrait/clone",
        "portrait/render",
        "portrait/output",
        "portrait/job",
    ],
)
def test_nothing_can_be_added_changed_or_deleted(admin_client, model):
    assert admin_client.get(f"/admin/{model}/add/").status_code == 403
    assert admin_client.post(f"/admin/{model}/add/", {}).status_code == 403


def test_an_audit_event_cannot_be_changed_or_deleted(consent, admin_client):
    url = reverse("admin:audit_auditevent_change", args=[1])
    assert admin_client.get(url).status_code == 200
    assert admin_client.post(url, {"action": Action.STAFF_LOGIN}).status_code == 403
    delete = reverse("admin:audit_auditevent_delete", args=[1])
    assert admin_client.get(delete).status_code == 403
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(seq=1).action == Action.CONSENT_GRANTED


def test_viewing_a_consent_record_is_logged(admin_client, staff, consent):
    response = admin_client.get(reverse("admin:consent_consentrecord_change", args=[consent.pk]))
    assert response.status_code == 200
    [event] = viewed()
    assert (event.actor, event.role) == (actor_id(staff), Role.STAFF)
    assert (event.object_type, event.object_id) == (
        "consentrecord",
        pseudonym("consentrecord", consent.pk),
    )
    assert event.details == {"view": "change"}


def test_a_list_logs_the_records_it_shows(admin_client, consent):
    response = admin_client.get(reverse("admin:consent_consentrecord_changelist"))
    assert response.status_code == 200
    [event] = viewed()
    assert event.object_type == "consentrecord"
    assert event.details == {
        "view": "changelist",
        "objects": [pseudonym("consentrecord", consent.pk)],
    }


def test_an_officers_view_is_logged_as_an_officers(client, officer, consent):
    admin_login(client, officer, "a-long-test-password-8")
    url = reverse("admin:consent_consentrecord_history", args=[consent.pk])
    assert client.get(url).status_code == 200
    [event] = viewed()
    assert (event.role, event.details) == (Role.OFFICER, {"view": "history"})


def test_viewing_a_user_account_is_logged(admin_client, user):
    assert admin_client.get(reverse("admin:auth_user_change", args=[user.pk])).status_code == 200
    [event] = viewed()
    assert (event.object_type, event.object_id) == ("user", actor_id(user))


def test_pages_without_personal_data_are_not_logged(admin_client, consent):
    for name in (
        "admin:index",
        "admin:audit_auditevent_changelist",
        "admin:consent_policy_changelist",
    ):
        assert admin_client.get(reverse(name)).status_code == 200
    assert (
        admin_client.get(reverse("admin:consent_consentrecord_change", args=[999999])).status_code
        == 302
    )  # no such record
    assert viewed() == []


def test_someone_not_staff_sees_nothing_and_nothing_is_logged(client, user, consent):
    client.force_login(user)
    url = reverse("admin:consent_consentrecord_change", args=[consent.pk])
    assert client.get(url).status_code == 302
    assert viewed() == []


def search(client, term):
    response = client.get(reverse("admin:audit_auditevent_changelist"), {"q": term})
    assert response.status_code == 200
    return sorted(event.seq for event in response.context["cl"].result_list)


@pytest.fixture
def log(consenting_user, other_user, policy):
    grant_all(other_user, policy)  # seq 2; the consenting user's grant is seq 1
    record(
        Action.RENDER_QUEUED,
        actor=consenting_user,
        object_type="render",
        object_id="0b6f8cf2-4a4e-4c36-9d55-3b8e2a1c1f0e",
    )  # seq 3
    return consenting_user


def test_search_by_pseudonym_username_or_user_id(log, admin_client):
    assert search(admin_client, actor_id(log)) == [1, 3]
    assert search(admin_client, "ada") == [1, 3]
    assert search(admin_client, str(log.pk)) == [1, 3]


def test_search_by_object(log, admin_client):
    render_id = "0b6f8cf2-4a4e-4c36-9d55-3b8e2a1c1f0e"
    assert search(admin_client, f"render:{render_id}") == [3]
    assert search(admin_client, render_id.upper()) == [3]
    assert search(admin_client, pseudonym("render", render_id)) == [3]


def test_search_by_action_or_date(log, admin_client):
    assert search(admin_client, "consent.granted") == [1, 2]
    assert search(admin_client, "granted") == [1, 2]
    today = AuditEvent.objects.get(seq=1).at.date().isoformat()
    assert search(admin_client, today) == [1, 2, 3, 4]  # 4: the staff login
    assert search(admin_client, "1999-01-01") == []
    assert search(admin_client, "#2") == [2]
    assert search(admin_client, f"granted {actor_id(log)}") == [1]


def test_search_with_nothing_to_find(log, admin_client):
    assert search(admin_client, "nobody-at-all") == []
    assert search(admin_client, "#99999999999999999999999") == []


def test_filter_by_date(log, admin_client):
    at = AuditEvent.objects.get(seq=1).at
    response = admin_client.get(
        reverse("admin:audit_auditevent_changelist"),
        {"at__year": at.year, "at__month": at.month, "at__day": at.day},
    )
    assert response.status_code == 200
    assert response.context["cl"].result_count == 4
