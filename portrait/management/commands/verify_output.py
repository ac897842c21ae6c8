"""Check an image's provenance: its C2PA manifest, XMP label and watermark, and which render
of this site it is (the command line is the operator's tool)."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from portrait.verification import NotAnImage, verify_output

SIGNATURE_STATES = {
    "Trusted": "Trusted: intact, signed with this site's certificate",
    "Valid": "Valid: intact, but signed with a certificate this site does not know",
    "Invalid": "Invalid: the image or its manifest was changed after signing",
    "absent": "absent: no C2PA manifest",
}


def report(answer):
    """The command's JSON form: C2PA state and summary, XMP label, watermark and render."""
    c2pa, mark = answer["c2pa"], answer["watermark"]
    return {
        "c2pa": {key: c2pa[key] for key in ("state", "generator", "source_type")},
        "xmp_label": answer["xmp_label"],
        "watermark": {key: mark[key] for key in ("found", "payload", "render")},
    }


class Command(BaseCommand):
    help = "Check an image's C2PA manifest, XMP AI label and watermark; name its render."

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path)
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, file, **options):
        try:
            data = file.read_bytes()
        except OSError as error:
            raise CommandError(f"cannot read {file}: {error}") from error
        try:
            answer = verify_output(data, include_render=True)
        except NotAnImage as error:
            raise CommandError(f"{file}: {error}") from error
        if options["json"]:
            self.stdout.write(json.dumps(report(answer)))
            return
        c2pa, mark = answer["c2pa"], answer["watermark"]
        self.stdout.write(f"C2PA:       {SIGNATURE_STATES.get(c2pa['state'], c2pa['state'])}")
        for label, key in (
            ("generator", "generator"),
            ("source type", "source_type"),
            ("style", "style"),
            ("base model", "base_model"),
        ):
            if c2pa[key]:
                self.stdout.write(f"  {label + ':':<13}{c2pa[key]}")
        self.stdout.write(f"XMP label:  {'present' if answer['xmp_label'] else 'absent'}")
        if not mark["found"]:
            self.stdout.write("watermark:  not found")
            return
        self.stdout.write(f"watermark:  found, payload {mark['payload']}")
        self.stdout.write(f"render:     {mark['render'] or 'none of this site'}")
