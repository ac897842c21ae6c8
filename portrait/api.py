"""The REST API for the person's flow; every view calls the same service functions as the
web pages and scopes every lookup to the caller."""

from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.gate import HasConsent
from consent.models import Purpose

from . import services
from .export import export_response
from .models import Job, Output
from .serializers import (
    CloneSerializer,
    FeedbackSerializer,
    JobSerializer,
    OutputSerializer,
    PhotoSerializer,
    PhotoUploadSerializer,
    RefinementSerializer,
    RenderRequestSerializer,
    RenderSerializer,
    SelfieRecordedSerializer,
    StyleSerializer,
    UploadVerdictSerializer,
)

# Refusals a view declares for itself; portrait/api_schema.py gives each the error body.
NO_SELFIE = OpenApiResponse(
    description=_("No verification selfie yet, or the most photos allowed are uploaded.")
)
NOT_READY = OpenApiResponse(description=_("The clone is not ready (or too few photos)."))


class PhotoListCreate(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC,)
    # A photo comes as a file: a urlencoded form cannot carry one.
    parser_classes = [MultiPartParser]

    @extend_schema(responses=PhotoSerializer(many=True))
    def get(self, request):
        photos = services.subject_for(request.user).photos.all()
        return Response(PhotoSerializer(photos, many=True).data)

    @extend_schema(
        request=PhotoUploadSerializer,
        responses={201: UploadVerdictSerializer, 409: NO_SELFIE, 422: UploadVerdictSerializer},
    )
    def post(self, request):
        serializer = PhotoUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        verdict = services.upload_photo(
            request.user, serializer.validated_data["file"], method="api"
        )
        code = status.HTTP_201_CREATED if verdict.accepted else 422
        return Response(verdict.as_dict(), status=code)


class SelfieUpload(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC,)
    parser_classes = [MultiPartParser]

    @extend_schema(
        request=PhotoUploadSerializer,
        responses={
            201: SelfieRecordedSerializer,
            422: OpenApiResponse(description=_("The selfie was refused: see reasons.")),
        },
    )
    def post(self, request):
        serializer = PhotoUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_selfie(request.user, serializer.validated_data["file"], method="api")
        return Response({"recorded": True}, status=status.HTTP_201_CREATED)


class CloneCreate(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC, Purpose.KEEP_CLONE)

    @extend_schema(
        responses={
            200: CloneSerializer,
            404: OpenApiResponse(description=_("No clone of yours is ready.")),
        }
    )
    def get(self, request):
        """The person's ready clone, with its latest refinement."""
        clone = services.subject_for(request.user).current_clone()
        if clone is None:
            raise Http404
        return Response(CloneSerializer(clone).data)

    @extend_schema(
        request=None,
        responses={
            202: CloneSerializer,
            409: NOT_READY,
            422: OpenApiResponse(description=_("The photos are not all the selfie's person.")),
        },
    )
    def post(self, request):
        clone = services.start_clone(request.user)
        return Response(CloneSerializer(clone).data, status=status.HTTP_202_ACCEPTED)


class JobDetail(generics.RetrieveAPIView):
    serializer_class = JobSerializer

    def get_object(self):
        return get_object_or_404(Job, pk=self.kwargs["pk"], subject__user=self.request.user)


class StyleList(APIView):
    @extend_schema(responses=StyleSerializer(many=True))
    def get(self, request):
        data = [services.style_summary(style) for style in services.styles().values()]
        return Response(StyleSerializer(data, many=True).data)


class RenderCreate(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.RENDER, Purpose.KEEP_CLONE)

    @extend_schema(
        request=RenderRequestSerializer,
        responses={
            202: RenderSerializer,
            404: OpenApiResponse(description=_("There is no such style.")),
            409: NOT_READY,
        },
    )
    def post(self, request):
        serializer = RenderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        render = services.request_render(
            request.user,
            serializer.validated_data["style"],
            serializer.validated_data.get("options"),
        )
        return Response(RenderSerializer(render).data, status=status.HTTP_202_ACCEPTED)


class OutputList(generics.ListAPIView):
    serializer_class = OutputSerializer

    def get_queryset(self):
        return Output.objects.filter(subject__user=self.request.user).select_related("render")


class OutputDownload(APIView):
    @extend_schema(responses={(200, "image/*"): bytes})
    def get(self, request, pk):
        output = get_object_or_404(Output, pk=pk, subject__user=request.user)
        handle = services.open_output(request.user, output)
        return FileResponse(
            handle,
            content_type=output.mime,
            as_attachment=True,
            filename=f"sitter-{output.render.style}-{output.rank}.{output.extension}",
        )


class DataExport(APIView):
    """The caller's data as a ZIP: consent receipts, metadata, portraits and any uploads still
    held. A right, not a processing step: no purpose is needed."""

    @extend_schema(responses={(200, "application/zip"): OpenApiTypes.BINARY})
    def get(self, request):
        return export_response(request.user)


class OutputFeedback(APIView):
    """Mark one of the person's outputs as looking like them ("like") or not ("unlike")."""

    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC,)

    @extend_schema(request=FeedbackSerializer, responses=OutputSerializer)
    def post(self, request, pk):
        output = get_object_or_404(
            Output.objects.select_related("render", "subject"), pk=pk, subject__user=request.user
        )
        serializer = FeedbackSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.mark_output(request.user, output, serializer.validated_data["feedback"])
        return Response(OutputSerializer(output).data)


class CloneRefine(APIView):
    """Train the clone further on the marked outputs; follow it through ``jobs/{id}/``."""

    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC, Purpose.KEEP_CLONE)

    @extend_schema(
        request=None,
        responses={
            202: RefinementSerializer,
            409: OpenApiResponse(description=_("No ready clone, or no portrait marked yet.")),
        },
    )
    def post(self, request):
        refinement = services.start_refinement(request.user)
        return Response(RefinementSerializer(refinement).data, status=status.HTTP_202_ACCEPTED)
