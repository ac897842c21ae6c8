"""What a running job tells the person: progress written to its row, and cancellation read
from it, both throttled so a fast loop does not hammer the database. Both go through this
attempt's claim on the row (``portrait.tasks.held``): progress also beats the job's heartbeat,
and an attempt that no longer holds its job is told to stop, as if cancelled."""

import time

from django.utils import timezone

from .models import Job


class JobProgress:
    def __init__(self, job, every_seconds=0.5):
        self.job = job
        self.every_seconds = every_seconds
        self._last_write = 0.0
        self._last_check = 0.0
        self._cancelled = False
        self._held = Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts)

    def __call__(self, step, total, loss=None):
        now = time.monotonic()
        if step < total and now - self._last_write < self.every_seconds:
            return
        self._last_write = now
        self._held.update(step=step, total_steps=total, loss=loss, heartbeat_at=timezone.now())

    def cancelled(self):
        now = time.monotonic()
        if not self._cancelled and now - self._last_check >= self.every_seconds:
            self._last_check = now
            # A job whose row is gone was erased with its person: that cancels it too.
            self._cancelled = not self._held.filter(cancel_requested=False).exists()
        return self._cancelled
