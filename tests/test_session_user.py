"""The session's user, looked up by SQL on every logged-in request (portrait/auth.py): the same
user the ORM would give, and no user once the account is gone, deactivated, or its password
has changed elsewhere."""

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from portrait.auth import ModelBackend

PAGE = reverse("portrait:my_data")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def is_logged_out(response):
    return response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_a_logged_in_person_is_recognised_on_later_requests(logged_in, user):
    response = logged_in.get(PAGE)

    assert response.status_code == 200
    assert response.wsgi_request.user == user


def test_the_user_carries_every_stored_field_as_the_orm_reads_it(user):
    user.last_login = timezone.now()
    user.save()
    stored = get_user_model().objects.get(pk=user.pk)

    found = ModelBackend().get_user(user.pk)

    fields = [field.attname for field in get_user_model()._meta.concrete_fields]
    assert [getattr(found, name) for name in fields] == [getattr(stored, name) for name in fields]


def test_an_account_that_is_gone_has_no_session_user(user):
    assert ModelBackend().get_user(get_user_model().objects.latest("pk").pk + 1) is None


def test_a_deactivated_account_is_logged_out(logged_in, user):
    user.is_active = False
    user.save()

    assert is_logged_out(logged_in.get(PAGE))


def test_a_password_changed_elsewhere_logs_the_session_out(logged_in, user):
    user.set_password("a-new-password-1234")
    user.save()

    assert is_logged_out(logged_in.get(PAGE))
