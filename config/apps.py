from django.contrib.admin.apps import AdminConfig


class SitterAdminConfig(AdminConfig):
    """The admin, with the site that audit-logs staff views of personal data."""

    default_site = "config.admin.SitterAdminSite"
