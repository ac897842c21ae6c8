from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import FileResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from consent.gate import consent_required, granted_purposes
from consent.models import ConsentRecord, Purpose

from . import services
from .errors import Refused
from .forms import RenderForm, UploadForm
from .models import Job, Output


def signup(request):
    form = UserCreationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user)
        return redirect("consent:give")
    return render(request, "registration/signup.html", {"form": form},
                  status=400 if request.method == "POST" else 200)


def home(request):
    if not request.user.is_authenticated:
        return render(request, "portrait/welcome.html")
    subject = services.subject_for(request.user)
    clone_job = subject.jobs.filter(kind=Job.Kind.TRAIN).first()
    return render(request, "portrait/home.html", {
        "granted": granted_purposes(request.user),
        "has_selfie": bool(subject.selfie_blob),
        "photo_count": subject.photos.count(),
        "min_photos": settings.SITTER_MIN_PHOTOS,
        "clone": subject.current_clone(),
        "clone_job": clone_job,
        "output_count": subject.outputs.count(),
    })


@login_required
@consent_required(Purpose.BIOMETRIC)
def photos(request):
    subject = services.subject_for(request.user)
    form = UploadForm(request.POST or None, request.FILES or None)
    verdicts = []
    status = 200
    if request.method == "POST":
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
    return render(request, "portrait/photos.html", {
        "form": form, "verdicts": verdicts, "photos": subject.photos.all(),
        "min_photos": settings.SITTER_MIN_PHOTOS,
    }, status=status)


@login_required
def clone_status(request):
    subject = services.subject_for(request.user)
    job = subject.jobs.filter(kind=Job.Kind.TRAIN).first()
    return render(request, "portrait/clone.html", {
        "job": job, "clone": job.clone if job else None,
        "photo_count": subject.photos.count(),
        "min_photos": settings.SITTER_MIN_PHOTOS,
    })


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
    return render(request, "portrait/styles.html", {
        "styles": [services.style_summary(style) for style in services.styles().values()],
        "form": form,
        "clone": subject.current_clone(),
    }, status=status)


@login_required
def gallery(request):
    subject = services.subject_for(request.user)
    return render(request, "portrait/gallery.html", {
        "outputs": subject.outputs.select_related("render"),
        "jobs": subject.jobs.filter(kind=Job.Kind.RENDER).select_related("render")[:20],
    })


@login_required
def output_file(request, output_id, download=False):
    output = get_object_or_404(Output, pk=output_id, subject__user=request.user)
    handle = services.open_output(request.user, output)
    return FileResponse(handle, content_type=output.mime, as_attachment=download,
                        filename=f"sitter-{output.render.style}-{output.rank}.{output.extension}")


@login_required
def my_data(request):
    return render(request, "portrait/my_data.html", {
        "granted": granted_purposes(request.user),
        "records": ConsentRecord.objects.filter(user=request.user),
        "purposes": Purpose,
    })
