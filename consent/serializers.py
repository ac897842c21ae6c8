from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from .models import ConsentRecord, ErasureRequest


class PolicySerializer(serializers.Serializer):
    version = serializers.IntegerField()
    hash = serializers.CharField()
    language = serializers.CharField()
    text = serializers.CharField()
    purposes = serializers.ListField(child=serializers.DictField())
    min_age = serializers.IntegerField()


class GrantSerializer(serializers.Serializer):
    policy_version = serializers.IntegerField()
    policy_hash = serializers.CharField(max_length=64)
    purposes = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=10
    )
    age_confirmed = serializers.BooleanField()


class WithdrawSerializer(serializers.Serializer):
    purposes = serializers.ListField(
        child=serializers.CharField(max_length=32), min_length=1, max_length=10
    )


class ConsentRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentRecord
        fields = [
            "id",
            "action",
            "purposes",
            "policy_version",
            "policy_hash",
            "language",
            "method",
            "age_confirmed",
            "created_at",
        ]


class ErasureRequestSerializer(serializers.ModelSerializer):
    days_left = serializers.SerializerMethodField(
        help_text=_("Whole days until the deadline; negative once it has passed.")
    )
    certificate = serializers.SerializerMethodField(
        help_text=_("Where the signed certificate is, once the erasure is completed.")
    )

    class Meta:
        model = ErasureRequest
        fields = [
            "id",
            "status",
            "channel",
            "requested_at",
            "deadline",
            "days_left",
            "extended",
            "extension_reason",
            "completed_at",
            "certificate",
        ]

    def get_days_left(self, erasure_request) -> int:
        return erasure_request.days_left()

    def get_certificate(self, erasure_request) -> str | None:
        if erasure_request.status != ErasureRequest.Status.COMPLETED:
            return None
        return reverse("api:erasure-certificate", args=[erasure_request.pk])


class CertificateSerializer(serializers.Serializer):
    """An erasure certificate: see consent/certificates.py for every member."""

    statement = serializers.DictField()
    signature = serializers.CharField(
        help_text=_("Base64 of the Ed25519 signature over the statement's canonical JSON encoding.")
    )
    algorithm = serializers.CharField()
    public_key = serializers.CharField(help_text=_("Base64 of the raw 32-byte public key."))
    key_id = serializers.CharField()
