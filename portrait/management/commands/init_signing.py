"""Create the self-hosted C2PA signing chain: a root CA and an ES256 signing certificate."""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from portrait.signing import DEFAULT_ORG, init_signing


class Command(BaseCommand):
    help = (
        "Create a root CA and an ES256 signing certificate for C2PA manifests, unless a "
        "chain is already there (it is never overwritten)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--org",
            default=DEFAULT_ORG,
            help="organisation named in the certificates, and so in every "
            "manifest: never a person's name",
        )
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="folder to write to (default: the self-hosted chain's folder, "
            f"{settings.SITTER_SIGNING_DIR})",
        )

    def handle(self, *args, **options):
        org = options["org"].strip()
        if not org:
            raise CommandError("--org must name an organisation")
        try:
            files = init_signing(options["dir"], org=org)
        except OSError as error:
            raise CommandError(f"cannot write the signing chain: {error}") from error
        if files.created:
            self.stdout.write(f"Created a root CA and an ES256 signing certificate for {org!r}.")
        else:
            self.stdout.write("A signing chain is already there; nothing was written.")
        self.stdout.write(f"certificate chain: {files.chain}")
        self.stdout.write(f"signing key:       {files.key} (mode 0600: keep it secret)")
        if files.root is not None:
            self.stdout.write(f"trust anchor:      {files.root} (give this file to verifiers)")
        if Path(settings.SITTER_SIGNING_CERT).resolve() != files.chain.resolve():
            self.stdout.write(
                f"This site signs with {settings.SITTER_SIGNING_CERT}; to sign "
                f"with this chain set SITTER_SIGNING_CERT={files.chain} and "
                f"SITTER_SIGNING_KEY={files.key}."
            )
