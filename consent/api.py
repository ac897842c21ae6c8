from django.conf import settings
from django.utils.translation import get_language
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from . import services
from .models import ConsentRecord, Purpose
from .serializers import (
    ConsentRecordSerializer,
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
        return Response(PolicySerializer({
            "version": policy.version,
            "hash": policy.digest,
            "language": text.language,
            "text": text.body,
            "purposes": [{"id": p, "label": str(Purpose(p).label)} for p in policy.purposes],
            "min_age": settings.SITTER_MIN_AGE,
        }).data)


class ConsentGrant(APIView):
    @extend_schema(request=GrantSerializer, responses={201: ConsentRecordSerializer})
    def post(self, request):
        serializer = GrantSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        record = services.grant(
            request.user, data["purposes"], policy_version=data["policy_version"],
            policy_hash=data["policy_hash"], age_confirmed=data["age_confirmed"],
            method=ConsentRecord.Method.API, request=request,
        )
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class ConsentWithdraw(APIView):
    @extend_schema(request=WithdrawSerializer, responses={201: ConsentRecordSerializer})
    def post(self, request):
        serializer = WithdrawSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        record = services.withdraw(request.user, serializer.validated_data["purposes"],
                                   method=ConsentRecord.Method.API, request=request)
        return Response(ConsentRecordSerializer(record).data, status=status.HTTP_201_CREATED)
