"""A training job whose worker dies mid-way resumes from its encrypted checkpoint."""

import pytest

from portrait import services, tasks, vault
from portrait.clone_job import JobProgress
from portrait.models import Clone, Job
from portrait.recovery import recover
from tests.flow import with_photos, with_selfie
from tests.workers import gone_worker


class WorkerKilled(BaseException):
    """Stands in for a worker process killed mid-step: nothing in the task catches it."""


@pytest.fixture
def queued_clone(consenting_user, settings, tiny_model):
    settings.SITTER_MIN_PHOTOS = 3
    settings.SITTER_TRAIN_STEPS = 4
    settings.SITTER_TRAIN_RESOLUTION = 128
    settings.SITTER_TRAIN_CHECKPOINT_EVERY = 2
    with_photos(with_selfie(consenting_user))
    # Outside a commit-callback capture, the queue is never sent the job: the test runs it.
    return services.start_clone(consenting_user)


@pytest.fixture
def reported_steps(monkeypatch):
    """Every step the training reports, per attempt; `kill_at` stops the worker at that step."""
    attempts = []

    class RecordingProgress(JobProgress):
        kill_at = None

        def __init__(self, job, **kwargs):
            super().__init__(job, **kwargs)
            attempts.append([])

        def __call__(self, step, total, loss=None):
            attempts[-1].append(step)
            if step == RecordingProgress.kill_at:
                raise WorkerKilled()
            super().__call__(step, total, loss)

    monkeypatch.setattr("portrait.clone_job.JobProgress", RecordingProgress)
    return attempts, RecordingProgress


@pytest.fixture
def recovered(django_capture_on_commit_callbacks):
    """Recovery after the worker of ``job`` died; the job it requeues runs inline."""

    def recover_after_death_of(job):
        Job.objects.filter(pk=job.pk).update(worker=gone_worker())
        with django_capture_on_commit_callbacks(execute=True):
            return recover()

    return recover_after_death_of


def test_killed_training_resumes_from_its_checkpoint(queued_clone, reported_steps, recovered):
    attempts, progress = reported_steps
    progress.kill_at = 3
    with pytest.raises(WorkerKilled):
        tasks.train_clone(str(queued_clone.job_id))
    queued_clone.refresh_from_db()
    assert queued_clone.checkpoint_step == 2
    assert queued_clone.checkpoint_blob
    assert queued_clone.job.status == Job.Status.RUNNING
    # Another delivery of the task while the job runs does not run it a second time.
    assert tasks.train_clone(str(queued_clone.job_id)) == "skipped"

    progress.kill_at = None
    assert recovered(queued_clone.job) == {"requeued": 1}
    assert attempts == [[1, 2, 3], [3, 4]]
    queued_clone.refresh_from_db()
    assert queued_clone.status == Clone.Status.READY
    assert queued_clone.steps == 4
    assert queued_clone.job.attempts == 2


def test_checkpoint_is_destroyed_with_the_uploads_after_success(
    queued_clone, reported_steps, recovered
):
    _attempts, progress = reported_steps
    progress.kill_at = 3
    with pytest.raises(WorkerKilled):
        tasks.train_clone(str(queued_clone.job_id))
    queued_clone.refresh_from_db()
    checkpoint = queued_clone.checkpoint_blob
    assert vault.storage.exists(checkpoint)
    assert queued_clone.subject.photos.count() == 3

    progress.kill_at = None
    recovered(queued_clone.job)
    queued_clone.refresh_from_db()
    assert queued_clone.checkpoint_blob == ""
    assert not vault.storage.exists(checkpoint)
    assert not queued_clone.subject.photos.exists()
