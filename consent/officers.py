"""The "Compliance officer" group and what it may do in the admin.

Officers see records and metadata: consent records and policies, erasure requests (which they
may also file for a person, process and extend), the audit log, and the metadata of jobs,
clones, renders and outputs. No admin page shows or links decrypted content, and no view
that returns a photo or an output serves anyone but its owner, officers included.
"""

from django.contrib.auth.models import Group, Permission

from audit.log import OFFICER_GROUP

OFFICER_PERMISSIONS = {
    "consent": [
        "view_policy",
        "view_policytext",
        "view_consentrecord",
        "view_erasurerequest",
        "add_erasurerequest",
        "change_erasurerequest",
    ],
    "audit": ["view_auditevent"],
    "portrait": ["view_job", "view_clone", "view_render", "view_output"],
}


def ensure_officer_group():
    """Create the group if needed and give it exactly ``OFFICER_PERMISSIONS``: permissions
    added to it by hand are taken away again, so that what officers may do is what this module
    says."""
    group, _created = Group.objects.get_or_create(name=OFFICER_GROUP)
    permissions = []
    for app_label, codenames in OFFICER_PERMISSIONS.items():
        found = list(
            Permission.objects.filter(content_type__app_label=app_label, codename__in=codenames)
        )
        missing = set(codenames) - {permission.codename for permission in found}
        if missing:
            raise LookupError(f"permissions missing (run `manage.py migrate`): {sorted(missing)}")
        permissions += found
    group.permissions.set(permissions)
    return group
