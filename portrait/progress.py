"""What a running job tells the person: progress written to its row, and cancellation read
from it, both throttled so a fast loop does not hammer the database."""

import time

from .models import Job


class JobProgress:
    def __init__(self, job, every_seconds=0.5):
        self.job = job
        self.every_seconds = every_seconds
        self._last_write = 0.0
        self._last_check = 0.0
        self._cancelled = False

    def __call__(self, step, total, loss=None):
        now = time.monotonic()
        if step < total and now - self._last_write < self.every_seconds:
            return
        self._last_write = now
        Job.objects.filter(pk=self.job.pk).update(step=step, total_steps=total, loss=loss)

    def cancelled(self):
        now = time.monotonic()
        if not self._cancelled and now - self._last_check >= self.every_seconds:
            self._last_check = now
            # A job whose row is gone was erased with its person: that cancels it too.
            self._cancelled = not Job.objects.filter(
                pk=self.job.pk, cancel_requested=False
            ).exists()
        return self._cancelled
