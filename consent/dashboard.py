"""The compliance officers' dashboard in the admin (``/admin/compliance/``): erasure requests by
status and days left, recent consent withdrawals, and uploads waiting to be destroyed with their
age. It shows pseudonyms, counts and times only, the same names the audit log uses."""

from datetime import timedelta

from django.conf import settings
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Min
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from audit.log import record
from audit.models import Action
from audit.pseudonyms import pseudonym
from portrait.models import Job, Photo

from .models import ConsentRecord, ErasureRequest

WITHDRAWALS_SINCE = timedelta(days=30)
SHOWN = 50


def compliance_dashboard(request):
    if not request.user.has_perm("consent.view_erasurerequest"):
        raise PermissionDenied
    now = timezone.now()
    counts = dict(ErasureRequest.objects.values_list("status").annotate(Count("pk")))
    open_requests = ErasureRequest.objects.filter(status__in=ErasureRequest.OPEN).order_by(
        "deadline"
    )[:SHOWN]
    withdrawals = ConsentRecord.objects.filter(
        action=ConsentRecord.Action.WITHDRAW, created_at__gte=now - WITHDRAWALS_SINCE
    )
    ttl = timedelta(hours=settings.SITTER_UPLOAD_TTL_HOURS)
    training = set(
        Job.objects.filter(kind=Job.Kind.TRAIN, status__in=Job.ACTIVE).values_list(
            "subject", flat=True
        )
    )
    uploads = (
        Photo.objects.values("subject", "subject__user")
        .annotate(count=Count("pk"), oldest=Min("created_at"))
        .order_by("oldest")
    )
    record(
        Action.STAFF_VIEWED,
        actor=request.user,
        object_type="erasurerequest",
        details={"view": "compliance_dashboard"},
    )
    return TemplateResponse(
        request,
        "admin/consent/compliance_dashboard.html",
        {
            **admin.site.each_context(request),
            "title": _("Compliance dashboard"),
            "statuses": [
                (label, counts.get(value, 0)) for value, label in ErasureRequest.Status.choices
            ],
            "open_requests": [
                {
                    "request": erasure_request,
                    "days_left": erasure_request.days_left(now),
                    "overdue": erasure_request.deadline < now,
                }
                for erasure_request in open_requests
            ],
            "withdrawal_count": withdrawals.count(),
            "withdrawals": [
                {
                    "at": consent.created_at,
                    "purposes": consent.purposes,
                    "method": consent.get_method_display(),
                    "person": pseudonym("user", consent.user_id),
                }
                for consent in withdrawals.order_by("-created_at")[:SHOWN]
            ],
            "withdrawals_days": WITHDRAWALS_SINCE.days,
            "uploads": [
                {
                    "person": pseudonym("user", row["subject__user"]),
                    "count": row["count"],
                    "age_hours": int((now - row["oldest"]).total_seconds() // 3600),
                    "due": row["oldest"] + ttl,
                    "overdue": row["oldest"] + ttl < now,
                    "training": row["subject"] in training,
                }
                for row in uploads[:SHOWN]
            ],
            "upload_ttl_hours": settings.SITTER_UPLOAD_TTL_HOURS,
        },
    )
