from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.anchor import write_export


class Command(BaseCommand):
    help = (
        "Export the audit events after a sequence number, then the head hash, so that a "
        "copy kept elsewhere can later prove the log unchanged (audit_verify --anchor)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--since",
            type=int,
            default=0,
            metavar="SEQ",
            help="export the events after this sequence number (default: all)",
        )
        parser.add_argument(
            "--format",
            choices=["jsonl"],
            default="jsonl",
            help="JSON Lines: one event a line, then the head line",
        )
        parser.add_argument(
            "--output",
            metavar="FILE",
            help="write to this new file (never overwritten) instead of stdout",
        )

    def handle(self, *args, **options):
        if options["since"] < 0:
            raise CommandError("--since must be 0 or more")
        if not options["output"]:
            write_export(self.stdout, since=options["since"])
            return
        path = Path(options["output"])
        try:
            out = path.open("x", encoding="utf-8")
        except OSError as error:
            raise CommandError(f"cannot write {path}: {error}") from None
        try:
            with out:
                head = write_export(out, since=options["since"])
        except BaseException:
            path.unlink()  # half an export would fail as an anchor for the wrong reason
            raise
        self.stdout.write(
            f"{head['events']} events after seq {head['since']} written to "
            f"{path}; head seq {head['head_seq']}, hash {head['head_hash']}"
        )
