from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records that the admin may show but never add, change or delete: they are evidence, or
    they change only through the service's own flows (erasure, withdrawal)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
