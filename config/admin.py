from functools import update_wrapper

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from django_otp import devices_for_user
from django_otp.admin import OTPAdminAuthenticationForm, OTPAdminSite

from audit.staff import record_staff_view

# The admin pages that show records, by the suffix of their URL name.
_RECORD_VIEWS = ("changelist", "change", "history", "delete")


class StaffLoginForm(OTPAdminAuthenticationForm):
    """Password and TOTP code on one page: a staff member with one device need not pick it."""

    def _chosen_device(self, user):
        device = super()._chosen_device(user)
        if device is None:
            devices = list(devices_for_user(user, for_verify=True))
            if not devices:
                raise forms.ValidationError(
                    _(
                        "Staff accounts log in with a second factor, and this one has none yet. "
                        "Ask the operator to run: python manage.py enrol_totp %(username)s"
                    )
                    % {"username": user.get_username()},
                    code="no_device",
                )
            if len(devices) == 1:
                device = devices[0]
        return device


class SitterAdminSite(OTPAdminSite):
    """The admin site: staff log in with a password and a TOTP code (django-otp), and every
    page that shows records holding personal data is audit-logged here, once for every model
    admin, present or future."""

    login_form = StaffLoginForm

    def __init__(self, name="admin"):
        super().__init__(name)

    def admin_view(self, view, cacheable=False):
        inner = super().admin_view(view, cacheable)

        def logged(request, *args, **kwargs):
            response = inner(request, *args, **kwargs)
            match = request.resolver_match
            shown = self._record_views().get(match.url_name if match else None)
            if shown is not None:
                model, kind = shown
                record_staff_view(request, model, kind, response, kwargs.get("object_id"))
            return response

        return update_wrapper(logged, inner)

    def _record_views(self):
        """{admin URL name: (model, view)} for the pages that show records."""
        return {
            f"{model._meta.app_label}_{model._meta.model_name}_{kind}": (model, kind)
            for model in self._registry
            for kind in _RECORD_VIEWS
        }


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that the admin may show but never add, change or delete: they are evidence, or
    they change only through the service's own flows (erasure, withdrawal)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
