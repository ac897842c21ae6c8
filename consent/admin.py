from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from config.admin import ReadOnlyAdmin
from portrait.errors import Refused

from . import erasure_requests
from .models import ConsentRecord, ErasureRequest, Policy, PolicyText


class PolicyTextInline(admin.TabularInline):
    model = PolicyText
    fields = ["language", "digest"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "active", "purposes", "digest", "published_at"]
    readonly_fields = ["version", "purposes", "purposes_digest", "digest", "active", "published_at"]
    inlines = [PolicyTextInline]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "action", "purposes", "policy_version", "method", "created_at"]
    list_filter = ["action", "method", "policy_version"]
    readonly_fields = [f.name for f in ConsentRecord._meta.fields]


class FileForPersonForm(forms.Form):
    person = forms.CharField(label=_("The person's username"), max_length=150)

    def clean_person(self):
        user = (
            get_user_model()
            .objects.filter(**{get_user_model().USERNAME_FIELD: self.cleaned_data["person"]})
            .first()
        )
        if user is None:
            raise forms.ValidationError(_("There is no account with this username."))
        return user


class ExtendForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (the person is shown it)"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4, "cols": 60}),
    )


@admin.register(ErasureRequest)
class ErasureRequestAdmin(ReadOnlyAdmin):
    """Officers see every request, file one for a person, process open ones and extend a
    deadline once, with a reason; no field of a request is ever edited by hand."""

    list_display = [
        "id",
        "subject_ref",
        "status",
        "channel",
        "requested_at",
        "deadline",
        "days_left",
        "extended",
        "completed_at",
    ]
    list_filter = ["status", "channel", "extended"]
    search_fields = ["subject_ref"]
    readonly_fields = [f.name for f in ErasureRequest._meta.fields]
    actions = ["process", "extend_deadline"]
    change_list_template = "admin/consent/erasurerequest/change_list.html"

    def has_change_permission(self, request, obj=None):
        # The change permission allows the actions on the list, never editing one request.
        return obj is None and request.user.has_perm("consent.change_erasurerequest")

    @admin.display(description=_("days left"))
    def days_left(self, erasure_request):
        return erasure_request.days_left() if erasure_request.is_open else "—"

    @admin.action(description=_("Process the selected requests now"), permissions=["change"])
    def process(self, request, queryset):
        open_requests = list(queryset.filter(status__in=ErasureRequest.OPEN))
        for erasure_request in open_requests:
            erasure_requests.enqueue(erasure_request)
        self.message_user(
            request,
            ngettext(
                "%(count)d request is queued for processing.",
                "%(count)d requests are queued for processing.",
                len(open_requests),
            )
            % {"count": len(open_requests)},
        )

    @admin.action(
        description=_("Extend the deadline (once, with a reason)"), permissions=["change"]
    )
    def extend_deadline(self, request, queryset):
        form = ExtendForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            for erasure_request in queryset:
                try:
                    erasure_requests.extend_deadline(
                        erasure_request, reason=form.cleaned_data["reason"], officer=request.user
                    )
                except Refused as refused:
                    self.message_user(
                        request, f"{erasure_request}: {refused.message}", messages.ERROR
                    )
                else:
                    self.message_user(
                        request,
                        _("%(request)s: the deadline is extended.") % {"request": erasure_request},
                    )
            return None
        return TemplateResponse(
            request,
            "admin/consent/erasurerequest/extend.html",
            {
                **self.admin_site.each_context(request),
                "title": _("Extend the deadline"),
                "opts": self.opts,
                "form": form,
                "requests": queryset,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
                "extension_days": settings.SITTER_ERASURE_EXTENSION_DAYS,
            },
        )

    def get_urls(self):
        return [
            path(
                "file/",
                self.admin_site.admin_view(self.file_view),
                name="consent_erasurerequest_file",
            ),
            *super().get_urls(),
        ]

    def file_view(self, request):
        """An officer files an erasure request for a person, as the person could themself."""
        if not request.user.has_perm("consent.add_erasurerequest"):
            raise PermissionDenied
        form = FileForPersonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            filed, created = erasure_requests.file_request(
                form.cleaned_data["person"],
                channel=ErasureRequest.Channel.ADMIN,
                actor=request.user,
            )
            self.message_user(
                request,
                _("The erasure request is filed and queued.")
                if created
                else _("This person already has this request: here it is."),
            )
            return redirect("admin:consent_erasurerequest_change", filed.pk)
        return TemplateResponse(
            request,
            "admin/consent/erasurerequest/file.html",
            {
                **self.admin_site.each_context(request),
                "title": _("File an erasure request for a person"),
                "opts": self.opts,
                "form": form,
                "erasure_days": settings.SITTER_ERASURE_DAYS,
            },
            status=400 if request.method == "POST" else 200,
        )
