"""Create, on first start, what the service needs; safe to run on every start."""

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django_q.models import Schedule

from config.keyfiles import ensure_key_file
from consent.certificates import ensure_signing_key, service_key_id
from consent.erasure_requests import PENDING_FUNC
from consent.officers import ensure_officer_group
from consent.services import publish_policies
from portrait.base_model import TINY, ensure_tiny_model
from portrait.maintenance import SWEEP_FUNC
from portrait.recovery import RECOVER_FUNC
from portrait.signing import ensure_signing_material

# (name, task, every so many minutes), run by the render queue's cluster.
SCHEDULES = [
    ("sitter-sweep", SWEEP_FUNC, 15),
    ("sitter-erasure-requests", PENDING_FUNC, 15),
    # Jobs that a stopped worker left are put back on their queue (portrait/recovery.py);
    # every worker also does it when it starts.
    ("sitter-recover-jobs", RECOVER_FUNC, 1),
]


class Command(BaseCommand):
    help = "Create keys, the signing certificate chain, the tiny model, policies and schedules."

    def handle(self, *args, **options):
        if not settings.SITTER_KEK:
            ensure_key_file(settings.SITTER_KEK_FILE)
            self.stdout.write(f"key-encryption key: {settings.SITTER_KEK_FILE} (0600)")
        ensure_key_file(settings.SITTER_PSEUDONYM_KEY_FILE)
        ensure_signing_key()
        self.stdout.write(
            f"erasure certificate key: {settings.SITTER_CERTIFICATE_KEY_FILE} "
            f"(Ed25519, key id {service_key_id()})"
        )
        signing = ensure_signing_material()
        if signing is None:
            self.stdout.write(f"signing certificate chain: {settings.SITTER_SIGNING_CERT} (yours)")
        else:
            self.stdout.write(f"signing certificate chain: {signing.chain}")
            if signing.root is not None:
                self.stdout.write(f"trust anchor for verifiers: {signing.root}")
        if settings.SITTER_BASE_MODEL == TINY:
            self.stdout.write(f"tiny base model: {ensure_tiny_model()}")
        # The shared cache (rate limits, queue stats) is a database table unless Redis is set.
        call_command("createcachetable", verbosity=0)
        policy = publish_policies()
        self.stdout.write(f"active policy: v{policy.version} {policy.digest[:16]}")
        for name, func, minutes in SCHEDULES:
            Schedule.objects.update_or_create(
                name=name,
                defaults={
                    "func": func,
                    "schedule_type": Schedule.MINUTES,
                    "minutes": minutes,
                    "cluster": "render",
                    "repeats": -1,
                },
            )
        group = ensure_officer_group()
        self.stdout.write(f"group {group.name!r}: {group.permissions.count()} permissions")
        self.stdout.write(self.style.SUCCESS("Sitter is set up."))
