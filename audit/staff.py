"""Audit events for what staff do: logging in, and every view of a record that holds personal
data (the admin site calls ``record_staff_view`` for each of its pages)."""

import functools

from django.contrib.admin.utils import unquote
from django.contrib.auth import get_user_model
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.dispatch import receiver

from .log import record, role_of
from .models import Action, Role
from .pseudonyms import pseudonym


@receiver(user_logged_in)
def record_staff_login(sender, request, user, **kwargs):
    role = role_of(user)
    if role in (Role.STAFF, Role.OFFICER):
        record(Action.STAFF_LOGIN, actor=user, role=role)


@functools.cache
def holds_personal_data(model):
    """A record holds personal data when it belongs to a person: it is a user account, or its
    foreign keys lead to one (a consent record, a clone, an output, a token...)."""
    return _leads_to_a_user(model, frozenset())


def _leads_to_a_user(model, seen):
    if model is get_user_model():
        return True
    seen = seen | {model}
    return any(
        field.related_model not in seen and _leads_to_a_user(field.related_model, seen)
        for field in model._meta.concrete_fields
        if field.many_to_one or field.one_to_one
    )


def record_staff_view(request, model, view, response, object_id=None):
    """Log a staff member's successful view of records of ``model`` that hold personal data:
    one record (``object_id`` from the URL) or the page of a list the response shows."""
    if response.status_code != 200 or not holds_personal_data(model):
        return
    object_type = model._meta.model_name
    if object_id is not None:
        try:
            pk = model._meta.pk.to_python(unquote(object_id))
        except ValidationError:
            return
        record(
            Action.STAFF_VIEWED,
            actor=request.user,
            object_type=object_type,
            object_id=str(pk),
            details={"view": view},
        )
        return
    changelist = (getattr(response, "context_data", None) or {}).get("cl")
    shown = [] if changelist is None else [obj.pk for obj in changelist.result_list]
    record(
        Action.STAFF_VIEWED,
        actor=request.user,
        object_type=object_type,
        details={"view": view, "objects": [pseudonym(object_type, pk) for pk in shown]},
    )
