from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from .models import Clone, Job, Output, Photo, Refinement


class PhotoUploadSerializer(serializers.Serializer):
    # An empty file is refused by the upload checks, with the reason code the web page gives.
    file = serializers.FileField(allow_empty_file=True)


class SelfieRecordedSerializer(serializers.Serializer):
    recorded = serializers.BooleanField()


class ReasonSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class UploadVerdictSerializer(serializers.Serializer):
    accepted = serializers.BooleanField()
    number = serializers.IntegerField(allow_null=True)
    reasons = ReasonSerializer(many=True)


class PhotoSerializer(serializers.ModelSerializer):
    class Meta:
        model = Photo
        fields = ["id", "number", "width", "height", "created_at"]


class JobSerializer(serializers.ModelSerializer):
    queue_position = serializers.SerializerMethodField()

    class Meta:
        model = Job
        fields = [
            "id",
            "kind",
            "status",
            "step",
            "total_steps",
            "loss",
            "queue_position",
            "error_code",
            "error_message",
            "queued_at",
            "started_at",
            "finished_at",
        ]

    def get_queue_position(self, job) -> int:
        return job.queue_position()


class RefinementSerializer(serializers.ModelSerializer):
    """A "make it look more like me" run. Likeness is the median face-descriptor distance of
    fresh renders to the person's reference face: lower is closer; null once finished means no
    face was found in most renders. ``kept`` says whether the refined adapter replaced the old
    one (null until the run has finished)."""

    job = JobSerializer()

    class Meta:
        model = Refinement
        fields = [
            "id",
            "liked",
            "unliked",
            "steps",
            "likeness_before",
            "likeness_after",
            "kept",
            "created_at",
            "finished_at",
            "job",
        ]


class CloneSerializer(serializers.ModelSerializer):
    job = JobSerializer()
    refinement = serializers.SerializerMethodField()

    class Meta:
        model = Clone
        fields = [
            "id",
            "status",
            "base_model",
            "photo_count",
            "steps",
            "seconds",
            "final_loss",
            "created_at",
            "finished_at",
            "job",
            "refinement",
        ]

    @extend_schema_field(RefinementSerializer(allow_null=True))
    def get_refinement(self, clone):
        """The clone's latest refinement, or null."""
        latest = clone.refinements.select_related("job").first()
        return None if latest is None else RefinementSerializer(latest).data


class FeedbackSerializer(serializers.Serializer):
    feedback = serializers.ChoiceField(choices=Output.Feedback.choices)


class RenderRequestSerializer(serializers.Serializer):
    style = serializers.SlugField()
    options = serializers.DictField(child=serializers.CharField(), required=False)


class RenderSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    style = serializers.CharField()
    options = serializers.DictField()
    job = JobSerializer()


class OutputSerializer(serializers.ModelSerializer):
    style = serializers.CharField(source="render.style")
    render = serializers.UUIDField(source="render_id")

    class Meta:
        model = Output
        fields = [
            "id",
            "render",
            "style",
            "rank",
            "mime",
            "width",
            "height",
            "seed",
            "likeness_distance",
            "face_found",
            "feedback",
            "created_at",
        ]


class StyleSerializer(serializers.Serializer):
    slug = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    id_photo = serializers.DictField(allow_null=True)
