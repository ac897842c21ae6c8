"""Serve the site and run one worker cluster per queue until Ctrl-C stops all of it."""

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from portrait.base_model import base_model_dir
from portrait.signing import signing_material
from portrait.vault.keys import current_kek

QUEUES = ("train", "render")


def worker_command(queue):
    """The command and environment of one queue's worker cluster.

    Torch uses every core by default; with a cluster per queue on one host, two such pools
    fight over the cores and both slow down many times, so each gets its share.
    """
    threads = str(max(1, (os.cpu_count() or 1) // len(QUEUES)))
    env = {
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": threads,
        **os.environ,
        "Q_CLUSTER_NAME": queue,
    }
    return [sys.executable, "manage.py", "qcluster"], env


def web_command(options):
    """gunicorn with the site's settings (config/gunicorn.py) and what the options change."""
    command = [sys.executable, "-m", "gunicorn", "config.wsgi:application"]
    command += ["--config", "python:config.gunicorn", "--bind", options["bind"]]
    if options["web_workers"]:
        command += ["--workers", str(options["web_workers"])]
    if options["web_threads"]:
        command += ["--threads", str(options["web_threads"])]
    return command


class Command(BaseCommand):
    help = "Run gunicorn on the bind address and a django-q2 cluster for each queue."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("SITTER_BIND", "127.0.0.1:8000"))
        parser.add_argument(
            "--web-workers",
            type=int,
            help="gunicorn worker processes (default: SITTER_WEB_WORKERS, else 2)",
        )
        parser.add_argument(
            "--web-threads",
            type=int,
            help="threads per gunicorn worker (default: SITTER_WEB_THREADS, else 4)",
        )
        parser.add_argument(
            "--no-workers",
            action="store_true",
            help="serve only (queue workers run on other hosts)",
        )
        parser.add_argument(
            "--no-web", action="store_true", help="run only the queue workers (a worker host)"
        )

    def handle(self, *args, **options):
        # What a person's first upload or render would need: fail now, naming the setting.
        # The base model only where the queues run: a web host apart from them has none.
        current_kek()
        signing_material()
        if not options["no_workers"]:
            base_model_dir()
        commands = []
        if not options["no_web"]:
            commands.append(("web", web_command(options), dict(os.environ)))
        if not options["no_workers"]:
            for queue in QUEUES:
                command, env = worker_command(queue)
                commands.append((f"{queue} queue", command, env))
        children = []
        for name, command, env in commands:
            children.append((name, subprocess.Popen(command, env=env, cwd=settings.BASE_DIR)))
            self.stdout.write(f"started {name} (pid {children[-1][1].pid})")
        if not options["no_web"]:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Sitter is serving on http://{options['bind']}/ — press Ctrl-C to stop."
                )
            )

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children:
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping all")
                    exit_code = 1
                    stopping = True
                    break
            time.sleep(0.5)
        self._stop_all(children)
        self.stdout.write("stopped")
        sys.exit(exit_code)

    def _stop_all(self, children, grace=20):
        for _name, child in children:
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for _name, child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
