from django.contrib import admin

from config.admin import ReadOnlyAdmin

from .models import AuditEvent


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["seq", "at", "action", "role", "actor", "object_type", "object_id"]
    list_filter = ["action", "role", "at"]
    search_fields = ["actor", "object_id", "action", "object_type"]
    date_hierarchy = "at"
    ordering = ["-seq"]
