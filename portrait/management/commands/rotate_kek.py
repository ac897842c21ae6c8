"""Re-wrap every data key under a new key-encryption key; blobs are not touched.

Safe to interrupt and run again: a rerun finishes the rotation it interrupted. The service keeps
running throughout. The procedure, with a key file and with SITTER_KEK, is in the README.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from portrait.vault import VaultError
from portrait.vault.keys import load_kek_file, rotate_kek


class Command(BaseCommand):
    help = (
        "Re-wrap every data key under a new key-encryption key (KEK) without touching a "
        "blob. With a key file the new KEK is random unless --new-kek-file gives it; with "
        "SITTER_KEK set, re-wrap under it the data keys that SITTER_KEK_PREVIOUS still holds."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--new-kek-file", help="file holding the new KEK (32 bytes, raw or base64)"
        )
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        try:
            new_kek = load_kek_file(options["new_kek_file"]) if options["new_kek_file"] else None
            rotation = rotate_kek(new_kek)
        except VaultError as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(rotation.as_details()))
            return
        if rotation.resumed:
            self.stdout.write("finished an interrupted rotation")
        self.stdout.write(
            f"data keys under key-encryption key {rotation.kek_id}: {rotation.rewrapped} "
            f"re-wrapped, {rotation.unchanged} already were"
        )
        if rotation.previous_kek_ids:
            self.stdout.write(f"re-wrapped from: {', '.join(rotation.previous_kek_ids)}")
        if rotation.retired_deleted:
            self.stdout.write(f"retired keys deleted: {', '.join(rotation.retired_deleted)}")
        if rotation.retired_kept:
            self.stdout.write(
                self.style.WARNING(
                    f"retired keys still needed, kept: {', '.join(rotation.retired_kept)}; "
                    "run rotate_kek again to finish"
                )
            )
        self.stdout.write(self.style.SUCCESS("done"))
