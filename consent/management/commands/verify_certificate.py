"""Check an erasure certificate: its signature, that this service's key made it, and that the
audit log still holds the event it quotes. Exits 0 when it is valid, 1 when it is not."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from consent.certificates import verify


class Command(BaseCommand):
    help = "Check an erasure certificate (exit status 0: valid, 1: not valid)."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="the certificate, a JSON file")
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, file, **options):
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from error
        found = verify(data)
        if options["json"]:
            self.stdout.write(json.dumps(found.as_dict()))
        else:
            self._describe(found)
        if not found.valid:
            raise CommandError(f"{file}: the certificate is not valid", returncode=1)

    def _describe(self, found):
        yes_no = {True: "yes", False: "no", None: "not checked"}
        self.stdout.write(f"certificate:   {'VALID' if found.valid else 'NOT VALID'}")
        self.stdout.write(f"signature:     {'intact' if found.signature else 'not intact'}")
        self.stdout.write(
            f"signed by us:  {yes_no[found.our_key]}"
            + (f" (key {found.key_id})" if found.key_id else "")
        )
        self.stdout.write(f"in audit log:  {yes_no[found.log_holds_event]}")
        statement = found.statement or {}
        for label, key in (("request", "request"), ("completed at", "completed_at")):
            if statement.get(key):
                self.stdout.write(f"{label + ':':<15}{statement[key]}")
        for problem in found.problems:
            self.stdout.write(f"problem:       {problem}")
