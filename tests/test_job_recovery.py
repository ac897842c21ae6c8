"""Work a dead worker left behind goes back on its queue, and runs in one worker at a time.

The real kills, with real worker processes, are in tests/test_crash_safety.py; here each rule of
recovery is checked on its own, with the jobs' workers real processes of this host (alive, or
killed) or on another host.
"""

import io
from datetime import timedelta

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.exceptions import TimeoutException
from django_q.models import Schedule
from django_q.signals import post_spawn
from django_q.signing import SignedPackage

from audit.models import Action, AuditEvent
from portrait import services, tasks
from portrait.models import Clone, Job
from portrait.recovery import RECOVER_FUNC, recover, waiting_task_ids
from tests.workers import gone_worker, live_worker

STALL = 60


@pytest.fixture
def subject(consenting_user, settings):
    settings.SITTER_JOB_STALL_SECONDS = STALL
    settings.SITTER_JOB_MAX_ATTEMPTS = 3
    return services.subject_for(consenting_user)


def running(subject, worker, *, kind=Job.Kind.RENDER, beat_ago=0, attempts=1, **fields):
    beat = timezone.now() - timedelta(seconds=beat_ago)
    return Job.objects.create(
        subject=subject,
        kind=kind,
        status=Job.Status.RUNNING,
        attempts=attempts,
        worker=worker,
        heartbeat_at=beat,
        started_at=beat,
        **fields,
    )


def recovered(capture):
    """Recovery's counts and the tasks it sent (not run here)."""
    with capture() as sent:
        done = recover()
    return done, len(sent)


def test_a_job_whose_worker_lives_is_left_to_it(subject, django_capture_on_commit_callbacks):
    with live_worker() as worker:
        # Its heartbeat may be old (one long step): on this host the process itself is asked.
        job = running(subject, worker, beat_ago=10 * STALL)
        assert recovered(django_capture_on_commit_callbacks) == ({}, 0)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING


def test_a_job_whose_worker_died_is_queued_again_at_once(
    subject, django_capture_on_commit_callbacks
):
    job = running(subject, gone_worker())
    assert recovered(django_capture_on_commit_callbacks) == ({"requeued": 1}, 1)
    job.refresh_from_db()
    assert (job.status, job.worker, job.attempts) == (Job.Status.QUEUED, "", 1)


def test_a_job_on_another_host_is_queued_again_once_its_heartbeat_stops(
    subject, django_capture_on_commit_callbacks
):
    beating = running(subject, "elsewhere:41:977", beat_ago=STALL - 5)
    silent = running(subject, "elsewhere:42:978", beat_ago=STALL + 5)
    assert recovered(django_capture_on_commit_callbacks) == ({"requeued": 1}, 1)
    beating.refresh_from_db()
    silent.refresh_from_db()
    assert (beating.status, silent.status) == (Job.Status.RUNNING, Job.Status.QUEUED)


def test_a_job_that_stopped_too_often_fails_saying_why(
    subject, client, django_capture_on_commit_callbacks
):
    job = running(subject, gone_worker(), kind=Job.Kind.TRAIN, attempts=3)
    clone = Clone.objects.create(subject=subject, job=job, base_model="sitter-tiny-sd15")
    assert recovered(django_capture_on_commit_callbacks) == ({"failed": 1}, 0)
    job.refresh_from_db()
    clone.refresh_from_db()
    assert (job.status, job.error_code, clone.status) == (
        Job.Status.FAILED,
        "worker_lost",
        Clone.Status.FAILED,
    )
    assert job.error_message == "The worker running this job stopped 3 times; Sitter gave up on it."
    event = AuditEvent.objects.get(action=Action.CLONE_FAILED)
    assert event.details == {"error": "worker_lost"}
    client.force_login(subject.user)
    panel = client.get(reverse("portrait:job_progress", args=[job.pk])).content.decode()
    assert "stopped every time it tried, so Sitter gave up" in panel


def test_a_job_asked_to_stop_whose_worker_died_is_cancelled(
    subject, django_capture_on_commit_callbacks
):
    job = running(subject, gone_worker(), kind=Job.Kind.TRAIN, cancel_requested=True)
    assert recovered(django_capture_on_commit_callbacks) == ({"cancelled": 1}, 0)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELLED


def queued(subject, waited, kind=Job.Kind.RENDER, **fields):
    return Job.objects.create(
        subject=subject,
        kind=kind,
        queued_at=timezone.now() - timedelta(seconds=waited),
        **fields,
    )


def test_a_queued_job_the_broker_lost_is_sent_again_once(
    subject, django_capture_on_commit_callbacks
):
    lost = queued(subject, STALL + 5, task_id="a-task-nobody-has")
    recent = queued(subject, STALL - 5)
    assert recovered(django_capture_on_commit_callbacks) == ({"resent": 1}, 1)
    lost.refresh_from_db()
    recent.refresh_from_db()
    assert lost.heartbeat_at > recent.queued_at
    assert recovered(django_capture_on_commit_callbacks) == ({}, 0)


@pytest.fixture
def broker_task():
    """A task of this site waiting in the render queue of the run's broker (the database or
    Redis), and a function that takes it off as a worker does; it is gone afterwards."""
    broker = get_broker(list_key="render")
    task_id = f"recovery-test-{timezone.now().timestamp()}"
    package = SignedPackage.dumps({"id": task_id, "name": task_id, "func": "print", "args": ()})
    broker.enqueue(package)

    def take():
        if isinstance(broker, ORM):
            # The test's transaction holds the only rows of this table.
            assert [SignedPackage.loads(p)["id"] for _pk, p in broker.dequeue()] == [task_id]
        else:
            # Only this task: a shared Redis may hold other runs' tasks, which are not ours.
            assert broker.connection.lrem(broker.list_key, 1, package) == 1

    yield task_id, take
    if not isinstance(broker, ORM):
        broker.connection.lrem(broker.list_key, 0, package)


def test_a_queued_job_waiting_in_the_broker_is_left_there(
    subject, broker_task, django_capture_on_commit_callbacks
):
    task_id, take = broker_task
    job = queued(subject, STALL + 5, task_id=task_id)
    assert task_id in waiting_task_ids("render")
    assert recovered(django_capture_on_commit_callbacks) == ({}, 0)

    # A worker takes the task and dies before it claims the job: the job is sent again.
    take()
    assert task_id not in waiting_task_ids("render")
    assert recovered(django_capture_on_commit_callbacks) == ({"resent": 1}, 1)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_a_second_delivery_of_a_running_job_does_nothing(subject):
    with live_worker() as worker:
        job = running(subject, worker)
        assert tasks.render_portraits(str(job.pk)) == "skipped"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker) == (Job.Status.RUNNING, 1, worker)


def test_an_attempt_whose_job_was_given_to_another_records_nothing(subject, monkeypatch):
    """A worker cut off from the database for longer than the stall time is presumed dead and
    its job goes to another; when it comes back, it must leave the job to that one."""
    import portrait.clone_job

    job = queued(subject, 0, kind=Job.Kind.TRAIN)
    Clone.objects.create(subject=subject, job=job, base_model="sitter-tiny-sd15")

    def taken_over_meanwhile(claimed):
        Job.objects.filter(pk=claimed.pk).update(attempts=claimed.attempts + 1, worker="other")
        raise RuntimeError("the database went away")

    monkeypatch.setattr(portrait.clone_job, "run_training", taken_over_meanwhile)
    assert tasks.train_clone(str(job.pk)) == "superseded"
    job.refresh_from_db()
    assert (job.status, job.attempts, job.worker, job.error_code) == (
        Job.Status.RUNNING,
        2,
        "other",
        "",
    )


def test_a_job_over_its_time_limit_fails_though_its_worker_lives_on(subject, monkeypatch):
    """django-q2 stops it with a SystemExit and goes on with the next task in the same
    process: unrecorded, the job would look running, its worker alive, for good."""
    import portrait.clone_job

    job = queued(subject, 0, kind=Job.Kind.TRAIN)
    Clone.objects.create(subject=subject, job=job, base_model="sitter-tiny-sd15")

    def too_long(claimed):
        raise TimeoutException("Task exceeded maximum timeout value (21600 seconds)")

    monkeypatch.setattr(portrait.clone_job, "run_training", too_long)
    assert tasks.train_clone(str(job.pk)) == "failed"
    job.refresh_from_db()
    assert (job.status, job.error_code) == (Job.Status.FAILED, "TimeoutException")


def test_recovery_runs_when_a_queue_worker_starts(subject, django_capture_on_commit_callbacks):
    job = running(subject, gone_worker())
    with django_capture_on_commit_callbacks() as sent:
        post_spawn.send(sender="django_q", proc_name="a new worker")
    assert len(sent) == 1
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_recovery_is_scheduled_every_minute_on_setup(db, tiny_model, signing):
    call_command("sitter_setup", stdout=io.StringIO())
    schedule = Schedule.objects.get(func=RECOVER_FUNC)
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == (Schedule.MINUTES, 1, -1)
    # On the render queue: the train queue's worker may be busy for hours.
    assert schedule.cluster == "render"
    assert import_string(schedule.func)() == {}


def test_recovery_settings_are_checked(settings):
    settings.SITTER_JOB_STALL_SECONDS = 0
    settings.SITTER_JOB_MAX_ATTEMPTS = 0
    errors = [error.msg for error in run_checks() if error.id == "sitter.E005"]
    assert errors == [
        "SITTER_JOB_STALL_SECONDS must be more than 0, not 0",
        "SITTER_JOB_MAX_ATTEMPTS must be at least 1, not 0",
    ]
