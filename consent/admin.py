from django.contrib import admin

from config.admin import ReadOnlyAdmin

from .models import ConsentRecord, Policy, PolicyText


class PolicyTextInline(admin.TabularInline):
    model = PolicyText
    fields = ["language", "digest"]
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Policy)
class PolicyAdmin(ReadOnlyAdmin):
    list_display = ["version", "active", "purposes", "digest", "published_at"]
    readonly_fields = ["version", "purposes", "purposes_digest", "digest", "active",
                       "published_at"]
    inlines = [PolicyTextInline]


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin):
    list_display = ["id", "action", "purposes", "policy_version", "method", "created_at"]
    list_filter = ["action", "method", "policy_version"]
    readonly_fields = [f.name for f in ConsentRecord._meta.fields]
