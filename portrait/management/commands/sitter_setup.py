"""Create, on first start, what the service needs; safe to run on every start."""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django_q.models import Schedule

from config.keyfiles import ensure_key_file
from consent.services import publish_policies
from portrait.base_model import TINY, ensure_tiny_model
from portrait.maintenance import SWEEP_FUNC
from portrait.signing import ensure_signing_material


class Command(BaseCommand):
    help = "Create keys, the signing certificate chain, the tiny model, policies and schedules."

    def handle(self, *args, **options):
        if not settings.SITTER_KEK:
            ensure_key_file(settings.SITTER_KEK_FILE)
            self.stdout.write(f"key-encryption key: {settings.SITTER_KEK_FILE} (0600)")
        ensure_key_file(settings.SITTER_PSEUDONYM_KEY_FILE)
        chain = ensure_signing_material()
        self.stdout.write(f"signing certificate chain: {chain}")
        if settings.SITTER_BASE_MODEL == TINY:
            self.stdout.write(f"tiny base model: {ensure_tiny_model()}")
        policy = publish_policies()
        self.stdout.write(f"active policy: v{policy.version} {policy.digest[:16]}")
        Schedule.objects.update_or_create(
            name="sitter-sweep",
            defaults={"func": SWEEP_FUNC, "schedule_type": Schedule.MINUTES, "minutes": 15,
                      "cluster": "render", "repeats": -1},
        )
        Group.objects.get_or_create(name="Compliance officer")
        self.stdout.write(self.style.SUCCESS("Sitter is set up."))
