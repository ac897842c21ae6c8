"""Queue entry points. Each re-checks consent when it starts, claims its job so that it runs in
one worker at a time however often its task is delivered (django-q2 hands a task out again
after a worker died, recovery sends it again: portrait/recovery.py), resumes what an earlier
attempt left (a training's checkpoint, a render's stored portraits), and records the outcome.
"""

import logging

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.exceptions import TimeoutException

from audit.log import record as audit
from audit.models import Action
from consent.gate import ConsentRequired, require
from consent.models import Purpose

from .liveness import Heartbeat, this_worker
from .models import Job

log = logging.getLogger(__name__)

# What runs a job of each kind, and what records it failed or cancelled; imported when needed,
# since they bring in the ML stack.
FUNCTIONS = {
    Job.Kind.TRAIN: ("portrait.clone_job.run_training", "portrait.clone_job.fail_clone"),
    Job.Kind.RENDER: ("portrait.render_job.run_render", "portrait.render_job.fail_render"),
    Job.Kind.REFINE: ("portrait.refinement.run_refinement", "portrait.refinement.fail_refinement"),
}


class JobCancelled(Exception):
    """The person (or a withdrawal of consent) asked the job to stop, or this attempt no longer
    holds the job."""


def fail_function(kind):
    return import_string(FUNCTIONS[kind][1])


def _start(job_id, kind, purposes, started_action, started):
    """Claim the job for this attempt; None when there is nothing (left) to do."""
    with transaction.atomic():
        job = (
            # The job's row only: its person's rows are read, not locked.
            Job.objects.select_for_update(no_key=True, of=("self",))
            .select_related("subject__user")
            .filter(pk=job_id, kind=kind)
            .first()
        )
        # Only a job waiting in the queue is claimed. A second delivery of a task whose job
        # runs, or ran, elsewhere does nothing; recovery puts a job whose worker died back in
        # the queue.
        if job is None or job.status != Job.Status.QUEUED:
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
        now = timezone.now()
        job.status = Job.Status.RUNNING
        job.attempts += 1
        job.worker = this_worker()
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.save(update_fields=["status", "attempts", "worker", "heartbeat_at", "started_at"])
        obj, details = started(job)
        audit(started_action, actor=None, obj=obj, details={"attempt": job.attempts, **details})
    return job


def held(job, **conditions):
    """Lock the job's row (call it inside a transaction) and say whether this attempt still
    holds the job: RUNNING under this attempt's number, and matching ``conditions``."""
    return (
        Job.objects.select_for_update(no_key=True)
        .filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, **conditions)
        .exists()
    )


def finish(job, status, error_code="", error_message=""):
    """Record how the job ended, if this attempt still holds it: a job erased meanwhile with
    its person has no row left to record it in, and one that recovery gave to another worker
    is that worker's to record. Returns whether it was recorded."""
    holding = Job.objects.filter(pk=job.pk, status=job.status, attempts=job.attempts)
    job.status = status
    job.error_code = error_code
    job.error_message = error_message[:500]
    job.finished_at = timezone.now()
    return bool(
        holding.update(
            status=job.status,
            error_code=job.error_code,
            error_message=job.error_message,
            finished_at=job.finished_at,
        )
    )


def _run(job_id, kind, purposes, started_action, started):
    job = _start(job_id, kind, purposes, started_action, started)
    if job is None:
        return "skipped"
    run, fail = (import_string(path) for path in FUNCTIONS[kind])
    try:
        with Heartbeat(job):
            run(job)
    # A task over its time limit gets django-q2's TimeoutException, a SystemExit in a worker
    # that lives on: unrecorded, its job would look running for as long as that worker lives.
    except (Exception, TimeoutException) as error:
        now = (
            Job.objects.filter(pk=job.pk)
            .values_list("status", "attempts", "cancel_requested")
            .first()
        )
        # Erasing a person deletes their jobs, running ones too: whatever this one stopped on
        # (a cancellation, a row or blob gone), there is nothing left to record it against.
        if now is None:
            log.info("%s job %s stopped: its person's data was erased", kind, job.pk)
            return "erased"
        status, attempts, cancel_requested = now
        if (status, attempts) != (Job.Status.RUNNING, job.attempts):
            log.warning(
                "%s job %s: attempt %s stopped, the job being %s, attempt %s",
                kind,
                job.pk,
                job.attempts,
                status,
                attempts,
                exc_info=not isinstance(error, JobCancelled),
            )
            return "superseded"
        # A job asked to stop (a withdrawal, an erasure under way) may stop on what that
        # destroys before it sees the request: it was cancelled all the same.
        if isinstance(error, JobCancelled) or cancel_requested:
            fail(job, Job.Status.CANCELLED, "cancelled", "")
            return "cancelled"
        log.exception("%s job %s failed", kind, job.pk)
        fail(job, Job.Status.FAILED, type(error).__name__, str(error))
        return "failed"
    return "done"


def _clone_started(job):
    clone = job.clone
    # A restarted training resumes from its last checkpoint.
    return clone, {"from_step": clone.checkpoint_step if clone.checkpoint_blob else 0}


def _render_started(job):
    render = job.render
    # A restarted render keeps the portraits it stored and makes only the missing ones.
    return render, {"outputs_kept": render.outputs.count()}


def _refinement_started(job):
    return job.refinement, {}


def train_clone(job_id):
    return _run(
        job_id,
        Job.Kind.TRAIN,
        (Purpose.BIOMETRIC, Purpose.KEEP_CLONE),
        Action.CLONE_STARTED,
        _clone_started,
    )


def render_portraits(job_id):
    return _run(
        job_id,
        Job.Kind.RENDER,
        (Purpose.RENDER, Purpose.KEEP_CLONE),
        Action.RENDER_STARTED,
        _render_started,
    )


def refine_clone(job_id):
    return _run(
        job_id,
        Job.Kind.REFINE,
        (Purpose.BIOMETRIC, Purpose.KEEP_CLONE),
        Action.REFINE_STARTED,
        _refinement_started,
    )
