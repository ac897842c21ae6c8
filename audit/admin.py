import contextlib
import datetime
import re
import uuid

from django.apps import apps
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from config.admin import ReadOnlyAdmin

from .models import Action, AuditEvent
from .pseudonyms import pseudonym

_HEX_ID = re.compile(r"[0-9a-f]{32,64}")


def _as_id(text):
    """An object id as the service writes it: UUIDs in their canonical form."""
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text


def officer_search(word):
    """The events one search word finds. The log holds pseudonyms only, so a word is read as
    what an officer knows: a pseudonym (as actor, object, or in details); a username or user
    id (their events, and views of their account); an object as ``type:id`` or by its id
    alone; ``#N`` for a sequence number; a date as YYYY-MM-DD; or part of an action's name."""
    found = Q(actor=word) | Q(object_id=word)
    if _HEX_ID.fullmatch(word):
        found |= Q(details__contains=word)  # a listed pseudonym, a ciphertext digest
    user_ids = set(get_user_model().objects.filter(username=word).values_list("pk", flat=True))
    if word.isdigit():
        user_ids.add(word)
    for user_id in user_ids:
        person = pseudonym("user", user_id)
        found |= Q(actor=person) | Q(object_type="user", object_id=person)
    object_type, colon, object_id = word.partition(":")
    if colon and object_type and object_id:
        found |= Q(
            object_type=object_type.lower(),
            object_id=pseudonym(object_type.lower(), _as_id(object_id)),
        )
    elif not colon:
        found |= Q(
            object_id__in=[
                pseudonym(model._meta.model_name, _as_id(word)) for model in apps.get_models()
            ]
        )
    if word.startswith("#") and word[1:].isdigit() and int(word[1:]) < 2**63:
        found |= Q(seq=int(word[1:]))
    with contextlib.suppress(ValueError):
        found |= Q(at__date=datetime.date.fromisoformat(word))
    actions = [
        value
        for value, label in Action.choices
        if word.lower() in value or word.lower() in str(label).lower()
    ]
    if actions:
        found |= Q(action__in=actions)
    return found


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "action", "role", "actor", "object_type", "object_id"]
    list_filter = ["action", "role", "object_type", "at"]
    search_fields = ["actor", "object_id"]  # shows the search box; officer_search reads words
    search_help_text = _(
        "A pseudonymous id; a username or user id; an object as type:id (clone:3f2a…) or by "
        "its id alone; #N for an event number; a date as YYYY-MM-DD; an action. Several "
        "words find the events that match all of them."
    )
    date_hierarchy = "at"
    ordering = ["-seq"]

    def get_search_results(self, request, queryset, search_term):
        for word in search_term.split():
            queryset = queryset.filter(officer_search(word))
        return queryset, False
