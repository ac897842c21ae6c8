import json
import os

from django.core.management.base import BaseCommand, CommandError

from audit.anchor import check_anchor
from audit.chain import verify_chain


class Command(BaseCommand):
    help = (
        "Verify the audit log's hash chain, and optionally that it still holds a kept "
        "export (audit_export); exits non-zero with the first bad sequence number."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--anchor",
            metavar="FILE",
            help="an earlier audit_export file whose events and head the log must still hold",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=min(4, os.cpu_count() or 1),
            help="processes that walk a long log at once (default: %(default)s)",
        )

    def handle(self, *args, **options):
        report = verify_chain(workers=options["workers"])
        result = report.as_dict()
        bad_seqs = [report.first_bad_seq] if not report.intact else []
        lines = [
            f"intact: {report.count} events, head {report.head_hash}"
            if report.intact
            else f"BROKEN at seq {report.first_bad_seq}: {report.problem}"
        ]
        if options["anchor"]:
            try:
                with open(options["anchor"], encoding="utf-8") as export:
                    anchor = check_anchor(export)
            except OSError as error:
                raise CommandError(f"cannot read {options['anchor']}: {error}") from None
            result["anchor"] = anchor.as_dict()
            if anchor.matches:
                lines.append(f"anchor holds: seq {anchor.head_seq}, head {anchor.head_hash}")
            else:
                bad_seqs.append(anchor.first_bad_seq)
                at = f" at seq {anchor.first_bad_seq}" if anchor.first_bad_seq else ""
                lines.append(f"ANCHOR FAILS{at}: {anchor.problem}")
        self.stdout.write(json.dumps(result) if options["json"] else "\n".join(lines))
        if bad_seqs:
            known = [seq for seq in bad_seqs if seq is not None]
            where = f" at seq {min(known)}" if known else ""
            raise CommandError(f"audit log check failed{where}", returncode=2)
