import json

from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain


class Command(BaseCommand):
    help = "Verify the audit log's hash chain; exits non-zero at the first bad row."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print one JSON object")

    def handle(self, *args, **options):
        report = verify_chain()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict()))
        elif report.intact:
            self.stdout.write(f"intact: {report.count} events, head {report.head_hash}")
        else:
            self.stdout.write(f"BROKEN at seq {report.first_bad_seq}: {report.problem}")
        if not report.intact:
            raise CommandError(f"audit chain broken at seq {report.first_bad_seq}",
                               returncode=2)
