from django.conf import settings
from django.shortcuts import get_object_or_404
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import erasure_requests, services
from .models import ConsentRecord, ErasureRequest, Purpose
from .serializers import (
    CertificateSerializer,
    ConsentRecordSerializer,
    ErasureRequestSerializer,
    GrantSerializer,
    PolicySerializer,
    WithdrawSerializer,
)


class PolicyView(APIView):
    permission_classes = [AllowAny]

    @extend_schema(responses=PolicySerializer)
    def get(self, request):
        policy = services.active_policy()
        text = policy.text(get_language())
        return Response(
            PolicySerializer(
                {
                    "version": policy.version,
                    "hash": policy.digest,
                    "language": text.language,
                    "text": text.body,
                    "purposes": [
                        {"id": p, "label": str(Purpose(p).label)} for p in policy.purposes
                    ],
                    "min_age": settings.SITTER_MIN_AGE,
                }
            ).data
        )


class ConsentGrant(APIView):
    @extend_schema(request=GrantSerializer, responses={201: ConsentRecordSerializer})
    def post(self, request):
        serializer = GrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        record = services.grant(
            request.user,
            data["purposes"],
            policy_version=data["policy_version"],
            policy_hash=data["policy_hash"],
            age_confirmed=data["age_confirmed"],
            method=ConsentRecord.Method.API,
            request=request,
        )
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class ConsentWithdraw(APIView):
    @extend_schema(request=WithdrawSerializer, responses={201: ConsentRecordSerializer})
    def post(self, request):
        serializer = WithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.withdraw(
            request.user,
            serializer.validated_data["purposes"],
            method=ConsentRecord.Method.API,
            request=request,
        )
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class ErasureRequestListCreate(APIView):
    """Erasure requests: rights, not processing steps, so no purpose is needed."""

    @extend_schema(responses=ErasureRequestSerializer(many=True))
    def get(self, request):
        """The caller's erasure requests, newest first."""
        filed = ErasureRequest.objects.filter(user=request.user)
        return Response(ErasureRequestSerializer(filed, many=True).data)

    @extend_schema(
        request=None,
        responses={
            201: ErasureRequestSerializer,
            200: OpenApiResponse(
                ErasureRequestSerializer, description=_("Already filed: the same request again.")
            ),
        },
    )
    def post(self, request):
        """File a request to erase everything Sitter holds of the caller. Idempotent: while one
        is open, or completed with nothing held since, filing returns it (200)."""
        filed, created = erasure_requests.file_request(
            request.user, channel=ErasureRequest.Channel.API
        )
        return Response(
            ErasureRequestSerializer(filed).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


def _own_request(request, pk):
    return get_object_or_404(ErasureRequest, pk=pk, user=request.user)


class ErasureRequestDetail(APIView):
    @extend_schema(responses=ErasureRequestSerializer)
    def get(self, request, pk):
        """Status (received, in_progress, completed, failed) and deadline of one request."""
        return Response(ErasureRequestSerializer(_own_request(request, pk)).data)


class ErasureCertificate(APIView):
    @extend_schema(
        responses={
            200: CertificateSerializer,
            409: OpenApiResponse(description=_("The erasure is not completed yet.")),
        }
    )
    def get(self, request, pk):
        """The signed certificate of a completed erasure; check it with any Ed25519 library,
        or on the server with ``manage.py verify_certificate``."""
        document = erasure_requests.certificate_document(_own_request(request, pk))
        return Response(document)
