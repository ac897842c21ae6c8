"""The REST API for the person's flow; every view calls the same service functions as the
web pages and scopes every lookup to the caller."""

from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from consent.gate import HasConsent
from consent.models import Purpose

from . import services
from .models import Job, Output
from .serializers import (
    CloneSerializer,
    JobSerializer,
    OutputSerializer,
    PhotoSerializer,
    PhotoUploadSerializer,
    RenderRequestSerializer,
    RenderSerializer,
    StyleSerializer,
    UploadVerdictSerializer,
)


class PhotoListCreate(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC,)
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses=PhotoSerializer(many=True))
    def get(self, request):
        photos = services.subject_for(request.user).photos.all()
        return Response(PhotoSerializer(photos, many=True).data)

    @extend_schema(request=PhotoUploadSerializer,
                   responses={201: UploadVerdictSerializer, 422: UploadVerdictSerializer})
    def post(self, request):
        serializer = PhotoUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        verdict = services.upload_photo(request.user, serializer.validated_data["file"],
                                        method="api")
        code = status.HTTP_201_CREATED if verdict.accepted else 422
        return Response(verdict.as_dict(), status=code)


class SelfieUpload(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC,)
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(request=PhotoUploadSerializer, responses={201: None})
    def post(self, request):
        serializer = PhotoUploadSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.record_selfie(request.user, serializer.validated_data["file"], method="api")
        return Response({"recorded": True}, status=status.HTTP_201_CREATED)


class CloneCreate(APIView):
    permission_classes = [IsAuthenticated, HasConsent]
    required_purposes = (Purpose.BIOMETRIC, Purpose.KEEP_CLONE)

    @extend_schema(request=None, responses={202: CloneSerializer})
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

    @extend_schema(request=RenderRequestSerializer, responses={202: RenderSerializer})
    def post(self, request):
        serializer = RenderRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        render = services.request_render(
            request.user, serializer.validated_data["style"],
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
        return FileResponse(handle, content_type=output.mime, as_attachment=True,
                            filename=f"sitter-{output.render.style}-{output.rank}."
                                     f"{output.extension}")
