"""Metadata only: no admin page shows or links to decrypted content."""

from django.contrib import admin

from config.admin import ReadOnlyAdmin

from .models import Clone, Job, Output, Render


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "step", "total_steps", "queued_at", "finished_at"]
    list_filter = ["kind", "status"]
    exclude = ["task_id"]


@admin.register(Clone)
class CloneAdmin(ReadOnlyAdmin):
    list_display = ["id", "status", "base_model", "photo_count", "steps", "seconds", "created_at"]
    list_filter = ["status"]
    exclude = ["adapter_blob", "reference_blob", "checkpoint_blob"]


@admin.register(Render)
class RenderAdmin(ReadOnlyAdmin):
    list_display = ["id", "style", "created_at"]
    list_filter = ["style"]


@admin.register(Output)
class OutputAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "render",
        "rank",
        "mime",
        "width",
        "height",
        "face_found",
        "watermark_id",
        "created_at",
    ]
    exclude = ["blob"]
