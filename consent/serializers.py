from rest_framework import serializers

from .models import ConsentRecord


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
    purposes = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1,
                                     max_length=10)
    age_confirmed = serializers.BooleanField()


class WithdrawSerializer(serializers.Serializer):
    purposes = serializers.ListField(child=serializers.CharField(max_length=32), min_length=1,
                                     max_length=10)


class ConsentRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = ConsentRecord
        fields = ["id", "action", "purposes", "policy_version", "policy_hash", "language",
                  "method", "age_confirmed", "created_at"]
