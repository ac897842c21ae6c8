import json

import markdown
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.formats import date_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from portrait.errors import Refused
from portrait.services import record_selfie, subject_for

from . import erasure_requests, services
from .forms import ConsentForm, SelfieForm
from .gate import ConsentRequired, consent_required, granted_purposes
from .models import ConsentRecord, ErasureRequest, Purpose


def _policy_html(policy):
    text = policy.text(get_language())
    return markdown.markdown(text.body) if text else ""


@login_required
def give(request):
    policy = services.active_policy()
    subject = subject_for(request.user)
    form = ConsentForm(
        request.POST or None,
        request.FILES or None,
        policy=policy,
        needs_selfie=not subject.selfie_blob,
    )
    if request.method == "POST" and form.is_valid():
        try:
            services.grant(
                request.user,
                form.purposes(),
                policy_version=form.cleaned_data["policy_version"],
                policy_hash=form.cleaned_data["policy_hash"],
                age_confirmed=form.cleaned_data["age_confirmed"],
                method=ConsentRecord.Method.WEB,
                request=request,
            )
        except services.ConsentError as error:
            form.add_error(None, error.message)
        else:
            if form.cleaned_data.get("selfie"):
                try:
                    record_selfie(request.user, form.cleaned_data["selfie"], method="web")
                except Refused as refused:
                    messages.error(
                        request,
                        _("Your consent is recorded, but your selfie was not accepted: %(reason)s")
                        % {"reason": refused.message},
                    )
                    return redirect("consent:selfie")
            messages.success(request, _("Thank you: your consent is recorded."))
            return redirect("portrait:home")
    status = 400 if request.method == "POST" else 200
    return render(
        request,
        "consent/give.html",
        {
            "form": form,
            "policy": policy,
            "policy_html": _policy_html(policy),
            "granted": granted_purposes(request.user),
            "has_selfie": bool(subject.selfie_blob),
            "purposes": Purpose,
        },
        status=status,
    )


@login_required
@consent_required(Purpose.BIOMETRIC)
def selfie(request):
    form = SelfieForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            record_selfie(request.user, form.cleaned_data["selfie"], method="web")
        except ConsentRequired as missing:
            messages.warning(request, missing.message)
            return redirect("consent:give")
        except Refused as refused:
            form.add_error("selfie", refused.message)
        else:
            messages.success(request, _("Your selfie is recorded."))
            return redirect("portrait:home")
    status = 400 if request.method == "POST" else 200
    return render(request, "consent/selfie.html", {"form": form}, status=status)


@login_required
@require_POST
def withdraw(request, purpose):
    if purpose not in Purpose.values:
        return HttpResponse(status=404)
    services.withdraw(request.user, [purpose], method=ConsentRecord.Method.WEB, request=request)
    messages.success(request, _("Your consent is withdrawn."))
    return redirect("portrait:my_data")


@login_required
def receipt(request, record_id):
    record = get_object_or_404(ConsentRecord, pk=record_id, user=request.user)
    response = HttpResponse(json.dumps(record.receipt(), indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="consent-receipt-{record.pk}.json"'
    return response


@login_required
@require_POST
def erase(request):
    """File an erasure request for everything Sitter holds of the person: a right, so no
    purpose is needed."""
    filed, created = erasure_requests.file_request(request.user, channel=ErasureRequest.Channel.WEB)
    if created:
        messages.success(
            request,
            _(
                "Your erasure request is received. Everything will be erased "
                "by %(deadline)s, usually within minutes; the certificate "
                "appears below once it is done."
            )
            % {"deadline": date_format(filed.deadline, "DATE_FORMAT")},
        )
    else:
        messages.info(request, _("You already asked for this: its status is below."))
    return redirect("portrait:my_data")


@login_required
def erasure_certificate(request, request_id):
    erasure_request = get_object_or_404(ErasureRequest, pk=request_id, user=request.user)
    try:
        document = erasure_requests.certificate_document(erasure_request)
    except Refused as refused:
        messages.error(request, refused.message)
        return redirect("portrait:my_data")
    response = HttpResponse(json.dumps(document, indent=2), content_type="application/json")
    response["Content-Disposition"] = (
        f'attachment; filename="erasure-certificate-{erasure_request.pk}.json"'
    )
    return response
