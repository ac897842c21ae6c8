from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent.gate import ConsentRequired, consent_required, granted_purposes
from consent.models import ConsentRecord, ErasureRequest, Purpose

from . import eta, services
from .errors import Refused
from .export import export_response
from .forms import RenderForm, UploadForm
from .models import Job, Output
from .ratelimit import client_address, hit, limited_message, too_many_requests
from .style_examples import example_for
from .templatetags.progress import panel_html, progress_context
from .thumbnails import SIZES, thumbnail


class LoginView(auth_views.LoginView):
    """Django's log-in page, within the log-in rate limit per address and per user name."""

    def post(self, request, *args, **kwargs):
        username = request.POST.get("username", "").strip().lower()
        retry_after = max(
            hit("login", f"ip:{client_address(request)}"), hit("login", f"user:{username}")
        )
        if retry_after:
            return too_many_requests(request, retry_after)
        return super().post(request, *args, **kwargs)


def signup(request):
    if request.method == "POST":
        retry_after = hit("login", f"ip:{client_address(request)}")
        if retry_after:
            return too_many_requests(request, retry_after)
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("consent:give")
    return render(
        request,
        "registration/signup.html",
        {"form": form},
        status=400 if request.method == "POST" else 200,
    )


def home(request):
    if not request.user.is_authenticated:
        return render(request, "portrait/welcome.html")
    subject = services.subject_for(request.user)
    clone_job = subject.jobs.filter(kind=Job.Kind.TRAIN).first()
    return render(
        request,
        "portrait/home.html",
        {
            "granted": granted_purposes(request.user),
            "has_selfie": bool(subject.selfie_blob),
            "photo_count": subject.photos.count(),
            "min_photos": settings.SITTER_MIN_PHOTOS,
            "clone": subject.current_clone(),
            "clone_job": clone_job,
            "output_count": subject.outputs.count(),
        },
    )


@login_required
@consent_required(Purpose.BIOMETRIC)
def photos(request):
    subject = services.subject_for(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    verdicts = []
    status = 200
    if request.method == "POST":
        retry_after = hit(
            "upload", f"user:{request.user.pk}", cost=max(1, len(request.FILES.getlist("photos")))
        )
        if retry_after:
            return too_many_requests(request, retry_after)
        if form.is_valid():
            for upload in form.cleaned_data["photos"]:
                try:
                    verdict = services.upload_photo(request.user, upload, method="web")
                except Refused as refused:
                    messages.error(request, refused.message)
                    status = refused.status
                    break
                verdicts.append((upload.name, verdict))
            if verdicts and not any(v.accepted for _name, v in verdicts):
                status = 422
        else:
            status = 400
    return render(
        request,
        "portrait/photos.html",
        {
            "form": form,
            "verdicts": verdicts,
            "photos": subject.photos.all(),
            "min_photos": settings.SITTER_MIN_PHOTOS,
            "max_bytes": settings.SITTER_MAX_UPLOAD_BYTES,
        },
        status=status,
    )


@login_required
@require_POST
def upload_photo(request):
    """One photo from the upload page's script, answered with its verdict as soon as it is
    checked (JSON), so the page shows each photo's result while the others still travel."""
    upload = request.FILES.get("photo")
    if upload is None:
        return JsonResponse(
            {"code": "no_file", "detail": _("Choose a photo to upload.")}, status=400
        )
    retry_after = hit("upload", f"user:{request.user.pk}")
    if retry_after:
        return JsonResponse(
            {"code": "rate_limited", "detail": limited_message(retry_after)},
            status=429,
            headers={"Retry-After": str(retry_after)},
        )
    try:
        verdict = services.upload_photo(request.user, upload, method="web")
    except ConsentRequired as missing:
        return JsonResponse({"code": "consent_required", "detail": missing.message}, status=403)
    except Refused as refused:
        return JsonResponse(refused.as_dict(), status=refused.status)
    accepted = services.subject_for(request.user).photos.count()
    return JsonResponse(
        {
            **verdict.as_dict(),
            "accepted_count": accepted,
            "min_photos": settings.SITTER_MIN_PHOTOS,
            "ready": accepted >= settings.SITTER_MIN_PHOTOS,
        },
        status=201 if verdict.accepted else 422,
    )


@login_required
def job_progress(request, job_id):
    """A job's progress panel, which the page polls while the job waits or runs. Once it has
    ended, the page reloads to show the result."""
    job = eta.job_for(job_id, request.user)
    if job is None:
        raise Http404
    response = HttpResponse(panel_html(progress_context(job, style=job.style), request.path))
    if request.headers.get("HX-Request") and not job.is_active:
        response["HX-Refresh"] = "true"
    return response


def _clone_page(request, status=200):
    subject = services.subject_for(request.user)
    job = subject.jobs.filter(kind=Job.Kind.TRAIN).first()
    return render(
        request,
        "portrait/clone.html",
        {
            "job": job,
            "clone": job.clone if job else None,
            "photo_count": subject.photos.count(),
            "min_photos": settings.SITTER_MIN_PHOTOS,
            "refinement": subject.refinements.select_related("job").first(),
            "marked": subject.outputs.exclude(feedback=Output.Feedback.NONE).count(),
        },
        status=status,
    )


@login_required
def clone_status(request):
    return _clone_page(request)


@login_required
@require_POST
@consent_required(Purpose.BIOMETRIC, Purpose.KEEP_CLONE)
def start_clone(request):
    try:
        services.start_clone(request.user)
    except Refused as refused:
        messages.error(request, refused.message)
    return redirect("portrait:clone")


@login_required
@consent_required(Purpose.RENDER, Purpose.KEEP_CLONE)
def style_picker(request):
    subject = services.subject_for(request.user)
    form = RenderForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.request_render(request.user, form.cleaned_data["style"], form.options())
            except Refused as refused:
                messages.error(request, refused.message)
                status = refused.status
            else:
                messages.success(request, _("Your portraits are on their way."))
                return redirect("portrait:gallery")
        else:
            status = 400
    return render(
        request,
        "portrait/styles.html",
        {
            "styles": [
                {**services.style_summary(style), "example": example_for(style.slug)}
                for style in services.styles().values()
            ],
            "form": form,
            "clone": subject.current_clone(),
        },
        status=status,
    )


@login_required
@require_POST
@consent_required(Purpose.BIOMETRIC, Purpose.KEEP_CLONE)
def refine_clone(request):
    try:
        services.start_refinement(request.user)
    except Refused as refused:
        messages.error(request, refused.message)
        return _clone_page(request, status=refused.status)
    messages.success(request, _("Your clone is training further on the portraits you marked."))
    return redirect("portrait:clone")


def _gallery_page(request, status=200):
    subject = services.subject_for(request.user)
    return render(
        request,
        "portrait/gallery.html",
        {
            "outputs": subject.outputs.select_related("render"),
            "jobs": subject.jobs.filter(kind=Job.Kind.RENDER).select_related("render")[:20],
        },
        status=status,
    )


@login_required
def gallery(request):
    return _gallery_page(request)


@login_required
@require_POST
@consent_required(Purpose.BIOMETRIC)
def output_feedback(request, output_id):
    output = get_object_or_404(Output, pk=output_id, subject__user=request.user)
    try:
        services.mark_output(request.user, output, request.POST.get("feedback", ""))
    except Refused as refused:
        messages.error(request, refused.message)
        return _gallery_page(request, status=refused.status)
    return redirect(f"{reverse('portrait:gallery')}#output-{output.pk}")


@login_required
def output_file(request, output_id, download=False):
    output = get_object_or_404(Output, pk=output_id, subject__user=request.user)
    size = request.GET.get("size")
    if size is not None and not download:
        if size not in {str(width) for width in SIZES}:
            return HttpResponse(
                _("Thumbnails come in these widths: %(sizes)s.")
                % {"sizes": ", ".join(map(str, SIZES))},
                status=400,
                content_type="text/plain; charset=utf-8",
            )
        with services.open_output(request.user, output) as handle:
            preview = thumbnail(handle.read(), int(size))
        response = HttpResponse(preview, content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response
    handle = services.open_output(request.user, output)
    return FileResponse(
        handle,
        content_type=output.mime,
        as_attachment=download,
        filename=f"sitter-{output.render.style}-{output.rank}.{output.extension}",
    )


@login_required
def my_data(request):
    return render(
        request,
        "portrait/my_data.html",
        {
            "granted": granted_purposes(request.user),
            "records": ConsentRecord.objects.filter(user=request.user),
            "purposes": Purpose,
            "erasure_requests": ErasureRequest.objects.filter(user=request.user),
            "erasure_days": settings.SITTER_ERASURE_DAYS,
        },
    )


@login_required
def export_data(request):
    """The person's data as a ZIP: seeing one's own data is a right, not a processing step,
    so no purpose is needed."""
    return export_response(request.user)
