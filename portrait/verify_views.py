"""Anyone may check an image: the public verify page and its API twin give the same answer.

Neither needs a login, and neither keeps the upload: the upload handler holds it in memory and
the verifier reads it from there.
"""

from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from .errors import Refused
from .forms import VerifyForm
from .verification import verify_upload


@require_http_methods(["GET", "POST"])
def verify_page(request):
    posted = request.method == "POST"
    form = VerifyForm(request.POST if posted else None, request.FILES if posted else None)
    answer = None
    status = 200
    if posted:
        if form.is_valid():
            try:
                # The page shows nobody the render, officers included: they have the API.
                answer = verify_upload(form.cleaned_data["file"])
            except Refused as refused:
                form.add_error("file", refused.message)
                status = refused.status
        else:
            status = 400
    return render(request, "portrait/verify.html", {"form": form, "answer": answer}, status=status)


class VerifyUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=_("A JPEG or PNG image."))


class VerifyC2paSerializer(serializers.Serializer):
    state = serializers.ChoiceField(
        choices=["Trusted", "Valid", "Invalid", "absent"],
        help_text=_(
            "Trusted: intact and signed with this site's certificate; Valid: intact, "
            "signer unknown here; Invalid: changed after signing; absent: no manifest."
        ),
    )
    generator = serializers.CharField(allow_null=True)
    source_type = serializers.CharField(allow_null=True)
    style = serializers.CharField(allow_null=True)
    base_model = serializers.CharField(allow_null=True)


class VerifyWatermarkSerializer(serializers.Serializer):
    found = serializers.BooleanField()
    payload = serializers.CharField(allow_null=True)
    render = serializers.UUIDField(
        allow_null=True,
        required=False,
        help_text=_("Compliance officers only: the render this output belongs to."),
    )


class VerifyAnswerSerializer(serializers.Serializer):
    made_here = serializers.BooleanField()
    c2pa = VerifyC2paSerializer()
    xmp_label = serializers.BooleanField()
    watermark = VerifyWatermarkSerializer()


class VerifyApi(APIView):
    permission_classes = [AllowAny]
    parser_classes = [MultiPartParser]

    @extend_schema(
        summary=_("Check whether this instance made an image"),
        request=VerifyUploadSerializer,
        responses={
            200: VerifyAnswerSerializer,
            400: OpenApiResponse(description=_("No file, an empty one, or not a JPEG or PNG.")),
            413: OpenApiResponse(description=_("The file is over the upload size limit.")),
        },
    )
    def post(self, request):
        serializer = VerifyUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(verify_upload(serializer.validated_data["file"], viewer=request.user))
