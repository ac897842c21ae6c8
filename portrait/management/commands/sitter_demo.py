"""One person's whole flow, headless: consent, uploads, clone, one render per style, verify."""

import json
import secrets
import subprocess
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_chain
from consent import services as consent_services
from consent.models import ConsentRecord
from portrait import services, vault
from portrait.errors import Refused
from portrait.management.commands.sitter_run import QUEUES, worker_command
from portrait.models import Job
from portrait.verification import verify_output

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".heic", ".heif"}


def as_upload(path):
    return SimpleUploadedFile(path.name, path.read_bytes())


class Workers:
    """Queue workers for the demo's own run (none when the queue runs tasks inline)."""

    def __init__(self, enabled):
        self.enabled = enabled
        self.children = []

    def __enter__(self):
        if self.enabled:
            for queue in QUEUES:
                command, env = worker_command(queue)
                self.children.append(
                    subprocess.Popen(
                        command,
                        env=env,
                        cwd=settings.BASE_DIR,
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                )
        return self

    def __exit__(self, *exc):
        for child in self.children:
            child.terminate()
        for child in self.children:
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                child.kill()


class Command(BaseCommand):
    help = (
        "Create a person, record consent, upload every photo in --photos, train the clone "
        "through the task queue, render one image per style, verify and write the outputs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--photos", type=Path, required=True)
        parser.add_argument("--selfie", type=Path, required=True)
        parser.add_argument("--out", type=Path, required=True)
        parser.add_argument("--json", action="store_true", help="print one JSON object")
        parser.add_argument(
            "--timeout", type=float, default=3600, help="seconds to wait for each job"
        )
        parser.add_argument(
            "--no-workers", action="store_true", help="use queue workers that are already running"
        )

    def log(self, message):
        if not self.json:
            self.stdout.write(message)

    def handle(self, *args, **options):
        self.json = options["json"]
        photos = sorted(
            p for p in options["photos"].iterdir() if p.suffix.lower() in IMAGE_SUFFIXES
        )
        if not photos:
            raise CommandError(f"no photos in {options['photos']}")
        if not options["selfie"].is_file():
            raise CommandError(f"no selfie at {options['selfie']}")
        options["out"].mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        user = get_user_model().objects.create_user(f"demo-{secrets.token_hex(4)}")
        policy = consent_services.active_policy()
        consent_services.grant(
            user,
            policy.purposes,
            policy_version=policy.version,
            policy_hash=policy.digest,
            age_confirmed=True,
            method=ConsentRecord.Method.DEMO,
        )
        self.log(
            f"person {user.username}: consent v{policy.version} for {', '.join(policy.purposes)}"
        )
        try:
            services.record_selfie(user, as_upload(options["selfie"]), method="demo")
        except Refused as refused:
            raise CommandError(f"selfie refused: {refused.message}") from None

        verdicts = []
        for path in photos:
            verdict = services.upload_photo(user, as_upload(path), method="demo")
            verdicts.append({"file": path.name, **verdict.as_dict()})
            self.log(
                f"  {path.name}: "
                + (
                    f"accepted as #{verdict.number}"
                    if verdict.accepted
                    else "refused: " + "; ".join(r["message"] for r in verdict.reasons)
                )
            )

        use_workers = not options["no_workers"] and not settings.SITTER_QUEUE_SYNC
        with Workers(use_workers):
            try:
                clone = services.start_clone(user)
            except Refused as refused:
                raise CommandError(str(refused.message)) from None
            self.log(f"clone {clone.pk} queued on the train queue")
            job = self.wait(clone.job, options["timeout"])
            clone.refresh_from_db()
            if job.status != Job.Status.DONE:
                raise CommandError(f"training {job.status}: {job.error_message}")
            self.log(f"clone trained: {clone.steps} steps in {clone.seconds:.1f} s")

            renders = []
            for style in services.styles().values():
                renders.append(services.request_render(user, style.slug))
            for render in renders:
                job = self.wait(render.job, options["timeout"])
                if job.status != Job.Status.DONE:
                    raise CommandError(f"render {render.style} {job.status}: {job.error_message}")
                self.log(f"rendered {render.style}")

        outputs = []
        for render in renders:
            for output in render.outputs.all():
                data = vault.read(output.blob)
                path = options["out"] / f"{render.style}-{output.rank}.{output.extension}"
                path.write_bytes(data)
                outputs.append(
                    {
                        "style": render.style,
                        "file": str(path),
                        "likeness_distance": output.likeness_distance,
                        "face_found": output.face_found,
                        "verify": verify_output(data, include_render=False),
                    }
                )
        chain = verify_chain()
        summary = {
            "person": user.username,
            "photos": verdicts,
            "accepted": sum(v["accepted"] for v in verdicts),
            "clone": {
                "id": str(clone.pk),
                "steps": clone.steps,
                "seconds": clone.seconds,
                "base_model": clone.base_model,
            },
            "outputs": outputs,
            "audit": chain.as_dict(),
            "seconds": round(time.monotonic() - started, 1),
        }
        if self.json:
            self.stdout.write(json.dumps(summary))
        else:
            self.print_summary(summary)
        if not chain.intact or not all(
            o["verify"]["c2pa"]["state"] in ("Trusted", "Valid") for o in outputs
        ):
            raise CommandError("verification failed")

    def wait(self, job, timeout):
        deadline = time.monotonic() + timeout
        last = None
        while True:
            job.refresh_from_db()
            if not job.is_active:
                return job
            state = (job.status, job.step)
            if state != last and job.total_steps:
                self.log(f"  {job.kind}: {job.get_status_display()} {job.step}/{job.total_steps}")
                last = state
            if time.monotonic() > deadline:
                raise CommandError(f"{job.kind} job still {job.status} after {timeout:.0f} s")
            time.sleep(0.5)

    def print_summary(self, summary):
        self.stdout.write("")
        self.stdout.write(f"photos accepted: {summary['accepted']} of {len(summary['photos'])}")
        clone = summary["clone"]
        self.stdout.write(
            f"clone {clone['id']}: {clone['steps']} steps, "
            f"{clone['seconds']:.1f} s on {clone['base_model']}"
        )
        for output in summary["outputs"]:
            verify = output["verify"]
            self.stdout.write(
                f"  {Path(output['file']).name}: C2PA {verify['c2pa']['state']}, "
                f"AI label in metadata {'yes' if verify['xmp_label'] else 'no'}, "
                f"watermark {'found' if verify['watermark']['found'] else 'missing'}"
            )
        audit = summary["audit"]
        self.stdout.write(
            f"audit chain: {'intact' if audit['intact'] else 'BROKEN'}, "
            f"{audit['count']} events, head {audit['head_hash'][:16]}…"
        )
        self.stdout.write(f"total {summary['seconds']} s")
