"""Queue entry points. Each re-checks consent when it starts, runs its job at most once to
completion (a task handed out again after a worker died resumes it), and records the outcome."""

import logging

from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action
from consent.gate import ConsentRequired, require
from consent.models import Purpose

from .models import Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The person (or a withdrawal of consent) asked the job to stop."""


def _start(job_id, kind, purposes, started_action, obj_of):
    """Claim the job for this attempt; None when there is nothing (left) to do."""
    with transaction.atomic():
        job = (
            Job.objects.select_for_update()
            .select_related("subject__user")
            .filter(pk=job_id, kind=kind)
            .first()
        )
        if job is None or not job.is_active:
            return None
        user = job.subject.user
        try:
            require(user, *purposes)
        except ConsentRequired as missing:
            finish(job, Job.Status.CANCELLED, "consent_missing", str(missing))
            return None
        if job.cancel_requested:
            finish(job, Job.Status.CANCELLED, "cancelled", "")
            return None
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.started_at = job.started_at or timezone.now()
        job.save(update_fields=["status", "attempts", "started_at"])
        audit(started_action, actor=None, obj=obj_of(job), details={"attempt": job.attempts})
    return job


def finish(job, status, error_code="", error_message=""):
    """Record how the job ended. A job erased meanwhile with its person has no row left to
    record it in, and needs none."""
    job.status = status
    job.error_code = error_code
    job.error_message = error_message[:500]
    job.finished_at = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        status=job.status,
        error_code=job.error_code,
        error_message=job.error_message,
        finished_at=job.finished_at,
    )


def _erased(job):
    return not Job.objects.filter(pk=job.pk).exists()


def _run(job_id, kind, purposes, started_action, obj_of, run, fail):
    job = _start(job_id, kind, purposes, started_action, obj_of)
    if job is None:
        return "skipped"
    try:
        run(job)
    except Exception as error:
        # Erasing a person deletes their jobs, running ones too: whatever this one stopped on
        # (a cancellation, a row or blob gone), there is nothing left to record it against.
        if _erased(job):
            log.info("%s job %s stopped: its person's data was erased", kind, job.pk)
            return "erased"
        if isinstance(error, JobCancelled):
            fail(job, Job.Status.CANCELLED, "cancelled", "")
            return "cancelled"
        log.exception("%s job %s failed", kind, job.pk)
        fail(job, Job.Status.FAILED, type(error).__name__, str(error))
        return "failed"
    return "done"


def train_clone(job_id):
    from .clone_job import fail_clone, run_training

    return _run(
        job_id,
        Job.Kind.TRAIN,
        (Purpose.BIOMETRIC, Purpose.KEEP_CLONE),
        Action.CLONE_STARTED,
        lambda job: job.clone,
        run_training,
        fail_clone,
    )


def render_portraits(job_id):
    from .render_job import fail_render, run_render

    return _run(
        job_id,
        Job.Kind.RENDER,
        (Purpose.RENDER, Purpose.KEEP_CLONE),
        Action.RENDER_STARTED,
        lambda job: job.render,
        run_render,
        fail_render,
    )


def refine_clone(job_id):
    from .refinement import fail_refinement, run_refinement

    return _run(
        job_id,
        Job.Kind.REFINE,
        (Purpose.BIOMETRIC, Purpose.KEEP_CLONE),
        Action.REFINE_STARTED,
        lambda job: job.refinement,
        run_refinement,
        fail_refinement,
    )
