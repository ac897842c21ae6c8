"""Whether the process running a job is still alive: who runs it, and its heartbeat.

A worker that claims a job writes its identity (host, pid and the process's start time) on the
job's row and beats the row's ``heartbeat_at`` every quarter of ``SITTER_JOB_STALL_SECONDS``
while the job runs. A job is abandoned when its process is gone: on the same host that is
certain at once (no such process, or another process with its pid); from another host it is
known only when the heartbeat has been silent for ``SITTER_JOB_STALL_SECONDS``.
"""

import logging
import os
import socket
import threading
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.utils import timezone

from .models import Job

log = logging.getLogger(__name__)


def _start_time(pid):
    """The process's start time in clock ticks since boot (Linux), '' where unknown.

    With the pid it tells a process from a later one that was given the same pid.
    """
    try:
        # The command name (field 2) may hold spaces and parentheses: split after its end.
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return ""
    # fields[0] is field 3 (state); the start time is field 22.
    return fields[19] if len(fields) > 19 and fields[0] not in {"Z", "X"} else ""


def worker_identity(pid):
    """A process of this host as a job's ``worker``: ``host:pid:start``."""
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def this_worker():
    return worker_identity(os.getpid())


def _alive_here(pid, start):
    if start:
        # The same process still (a zombie, killed but not reaped yet, has no start time here).
        return _start_time(pid) == start
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    return True


def stall():
    return timedelta(seconds=settings.SITTER_JOB_STALL_SECONDS)


def abandoned(job, now=None):
    """Whether the process that runs ``job`` (RUNNING) is gone."""
    host, _, rest = job.worker.partition(":")
    pid, _, start = rest.partition(":")
    if host == socket.gethostname() and pid.isdigit():
        return not _alive_here(int(pid), start)
    last = job.heartbeat_at or job.started_at or job.queued_at
    return (now or timezone.now()) - last > stall()


class Heartbeat:
    """Beats a claimed job's row from a thread while the job runs, until the row says that
    another attempt holds the job (recovery gave it to another worker; the job's own progress
    checks then stop this attempt).

    It stays off where the job runs inside its caller's transaction (an inline run under a
    test or a request): no other connection could see the row to beat it.
    """

    def __init__(self, job):
        self.job = job
        self._stop = threading.Event()
        self._thread = None

    def __enter__(self):
        if not connection.in_atomic_block:
            self._thread = threading.Thread(
                target=self._beat, name=f"heartbeat {self.job.pk}", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _beat(self):
        every = max(0.2, settings.SITTER_JOB_STALL_SECONDS / 4)
        held = Job.objects.filter(
            pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts
        )
        try:
            while not self._stop.wait(every):
                try:
                    if not held.update(heartbeat_at=timezone.now()):
                        return
                except Exception:
                    # A database that does not answer for a moment: the next beat tries again,
                    # and a long silence is what the stall time is for.
                    log.warning("heartbeat of job %s not written", self.job.pk, exc_info=True)
        finally:
            connection.close()
