"""The one consent gate: every view, API view and queued task that touches personal data asks
it before doing so: ``consent_required`` for web views, ``HasConsent`` for API views,
``require`` in the service functions and in every task when it starts.

A purpose is granted when its latest record is a grant made under a policy whose purposes are
those of the active policy; a policy change that alters purposes therefore asks again.

What needs which purpose (``tests/test_consent_everywhere.py`` checks this table against the
URL configuration, so a new URL must be placed in it):

=================================================  ==============================
web view, API view or task                         purposes
=================================================  ==============================
``photos/``, ``photos/upload/`` (web)              biometric
``api/v1/photos/`` (GET, POST)                     biometric
``consent/selfie/``, ``api/v1/selfie/``            biometric
``clone/start/``, ``api/v1/clones/`` (GET, POST)   biometric, keep_clone
``clone/refine/``, ``api/v1/clones/refine/``       biometric, keep_clone
``outputs/{id}/feedback/`` (web and API)           biometric (a refinement trains on it)
``styles/`` (web: the render form)                 render, keep_clone
``api/v1/renders/``                                render, keep_clone
task ``train_clone``, ``refine_clone``             biometric, keep_clone
task ``render_portraits``                          render, keep_clone
=================================================  ==============================

These touch a person's data but need no purpose, because they are the person's rights, not
processing: seeing their own data (``clone/``, ``jobs/{id}/progress/``, ``gallery/``,
``outputs/{id}/image|download/``, ``api/v1/outputs/``, ``api/v1/jobs/{id}/``, ``my-data/``),
taking it away (``my-data/export/``, ``api/v1/export/``), erasing it (``consent/erase/``,
``api/v1/erasure-requests/...``), and consenting itself (``consent/...``,
``api/v1/consents/...``, receipts). Erasure, withdrawal and the periodic sweep destroy data and
so never wait for a consent. The rest holds no personal data: the home page's counts, styles,
the policy, the public verify page and API, log in and out, sign up, language, the API schema
and docs. The admin is for staff, and shows compliance officers metadata, never decrypted
content.
"""

from functools import wraps

from django.contrib import messages
from django.shortcuts import redirect
from django.utils.translation import gettext_lazy as _
from rest_framework.permissions import BasePermission

from .models import ConsentRecord, Policy, Purpose


class ConsentRequired(Exception):
    """Raised when a step needs a purpose the person has not granted (or has withdrawn)."""

    def __init__(self, purposes):
        self.purposes = list(purposes)
        super().__init__(f"consent required for: {', '.join(self.purposes)}")

    @property
    def message(self):
        labels = [str(Purpose(purpose).label) for purpose in self.purposes]
        return _("This step needs your consent first: %(purposes)s.") % {
            "purposes": "; ".join(labels)
        }


def granted_purposes(user):
    """The set of purposes the user has granted under the active policy's purposes."""
    if user is None or not user.is_authenticated:
        return set()
    active = Policy.objects.filter(active=True).only("purposes_digest").first()
    if active is None:
        return set()
    latest = {}
    records = (
        ConsentRecord.objects.filter(user=user).select_related("policy").order_by("created_at")
    )
    for record in records:
        for purpose in record.purposes:
            latest[purpose] = record
    return {
        purpose
        for purpose, record in latest.items()
        if record.action == ConsentRecord.Action.GRANT
        and record.policy.purposes_digest == active.purposes_digest
    }


def missing_purposes(user, purposes):
    granted = granted_purposes(user)
    return [purpose for purpose in purposes if purpose not in granted]


def require(user, *purposes):
    """Raise ConsentRequired unless ``user`` has granted every one of ``purposes``."""
    missing = missing_purposes(user, purposes)
    if missing:
        raise ConsentRequired(missing)


def consent_required(*purposes):
    """Web view decorator: without the purposes, send the person to the consent page."""

    def decorator(view):
        @wraps(view)
        def wrapped(request, *args, **kwargs):
            missing = missing_purposes(request.user, purposes)
            if missing:
                messages.warning(request, ConsentRequired(missing).message)
                return redirect("consent:give")
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


class HasConsent(BasePermission):
    """DRF permission: the view's ``required_purposes`` must all be granted."""

    message = _("This step needs your consent first.")

    def has_permission(self, request, view):
        purposes = getattr(view, "required_purposes", ())
        missing = missing_purposes(request.user, purposes)
        if missing:
            self.message = ConsentRequired(missing).message
            return False
        return True
