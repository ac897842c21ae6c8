"""The ETA a waiting person is shown: from the jobs ahead, recent durations and live workers.

The simulated-queue tests fill the database with finished jobs of known durations and a queue
of waiting ones, take the estimate at the moment a new job is queued, then play the workers
through the queue on a fake clock (writing each job's start and end as a worker would) and
compare the estimate with the wait that really followed.
"""

import heapq
import random
from datetime import UTC, datetime, timedelta

import pytest
from django.test import override_settings

from portrait import eta, services
from portrait.models import Job

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
# Real run times vary around their kind's typical one; these are the simulation's.
MEAN = {Job.Kind.TRAIN: 120.0, Job.Kind.REFINE: 60.0, Job.Kind.RENDER: 15.0}


@pytest.fixture(autouse=True)
def fresh_estimates():
    eta.clear_cache()
    yield
    eta.clear_cache()


@pytest.fixture
def subject(user):
    return services.subject_for(user)


def run_time(rng, kind):
    return max(1.0, rng.gauss(MEAN[kind], MEAN[kind] * 0.2))


def finished_history(subject, rng, kinds, count=30):
    """Jobs that ran here before, ending before NOW."""
    jobs = []
    for index in range(count):
        for kind in kinds:
            finished = NOW - timedelta(hours=1, seconds=index * 300)
            jobs.append(
                Job(
                    subject=subject,
                    kind=kind,
                    status=Job.Status.DONE,
                    queued_at=finished - timedelta(hours=1),
                    started_at=finished - timedelta(seconds=run_time(rng, kind)),
                    finished_at=finished,
                )
            )
    Job.objects.bulk_create(jobs)


def running_jobs(subject, rng, count, kind=Job.Kind.TRAIN):
    """Jobs on the workers at NOW, part-way through, reporting their steps. Returns each with
    the seconds it really has left."""
    running = []
    for _index in range(count):
        total = run_time(rng, kind)
        elapsed = rng.uniform(0.1, 0.9) * total
        job = Job.objects.create(
            subject=subject,
            kind=kind,
            status=Job.Status.RUNNING,
            queued_at=NOW - timedelta(hours=2),
            started_at=NOW - timedelta(seconds=elapsed),
            step=round(100 * elapsed / total),
            total_steps=100,
        )
        running.append((job, total - elapsed))
    return running


def waiting_jobs(subject, rng, count, kinds, weights):
    """Jobs queued before NOW, oldest first, each with the seconds it will really take."""
    jobs = [
        Job(subject=subject, kind=kind, queued_at=NOW - timedelta(seconds=count - index))
        for index, kind in enumerate(rng.choices(kinds, weights, k=count))
    ]
    Job.objects.bulk_create(jobs)
    return [(job, run_time(rng, job.kind)) for job in jobs]


def play_queue(running, waiting, mine, workers, rng):
    """Run the queue on a fake clock as ``workers`` workers would, recording each job's start
    and end, and return the seconds ``mine`` waited after NOW."""
    free_at = [left for _job, left in running] + [0.0] * (workers - len(running))
    heapq.heapify(free_at)
    for job, _left in running:
        Job.objects.filter(pk=job.pk).update(status=Job.Status.DONE)
    for job, seconds in [*waiting, (mine, run_time(rng, mine.kind))]:
        start = heapq.heappop(free_at)
        heapq.heappush(free_at, start + seconds)
        Job.objects.filter(pk=job.pk).update(
            status=Job.Status.DONE,
            started_at=NOW + timedelta(seconds=start),
            finished_at=NOW + timedelta(seconds=start + seconds),
        )
    mine.refresh_from_db()
    return (mine.started_at - mine.queued_at).total_seconds()


def test_eta_of_a_short_queue_is_within_a_quarter_of_the_real_wait(subject):
    rng = random.Random(7)
    finished_history(subject, rng, [Job.Kind.TRAIN, Job.Kind.REFINE])
    running = running_jobs(subject, rng, 2)
    waiting = waiting_jobs(subject, rng, 24, [Job.Kind.TRAIN, Job.Kind.REFINE], [3, 1])
    mine = Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, queued_at=NOW)

    promised = eta.estimate(mine, now=NOW, workers=2)
    real = play_queue(running, waiting, mine, 2, rng)

    assert promised.position == 24
    assert abs(promised.wait_seconds - real) <= 0.25 * real


def test_eta_of_a_long_queue_is_within_a_quarter_of_the_real_wait(subject):
    rng = random.Random(11)
    finished_history(subject, rng, [Job.Kind.RENDER])
    running = running_jobs(subject, rng, 3, kind=Job.Kind.RENDER)
    waiting = waiting_jobs(subject, rng, 600, [Job.Kind.RENDER], [1])
    mine = Job.objects.create(subject=subject, kind=Job.Kind.RENDER, queued_at=NOW)

    promised = eta.estimate(mine, now=NOW, workers=3)
    real = play_queue(running, waiting, mine, 3, rng)

    assert promised.position == 600
    assert abs(promised.wait_seconds - real) <= 0.25 * real


def test_more_workers_shorten_the_wait(subject):
    rng = random.Random(3)
    waiting_jobs(subject, rng, 40, [Job.Kind.RENDER], [1])
    mine = Job.objects.create(subject=subject, kind=Job.Kind.RENDER, queued_at=NOW)

    one = eta.estimate(mine, now=NOW, workers=1).wait_seconds
    four = eta.estimate(mine, now=NOW, workers=4).wait_seconds

    assert four == pytest.approx(one / 4)


def test_a_render_waits_only_behind_renders(subject):
    rng = random.Random(5)
    waiting_jobs(subject, rng, 10, [Job.Kind.TRAIN, Job.Kind.REFINE], [1, 1])
    waiting_jobs(subject, rng, 3, [Job.Kind.RENDER], [1])
    render = Job.objects.create(subject=subject, kind=Job.Kind.RENDER, queued_at=NOW)
    training = Job.objects.create(subject=subject, kind=Job.Kind.TRAIN, queued_at=NOW)

    assert eta.estimate(render, now=NOW, workers=1).ahead == {Job.Kind.RENDER: 3}
    assert eta.estimate(training, now=NOW, workers=1).position == 10


@override_settings(SITTER_ETA_QUEUE_SECONDS=60)
def test_polls_within_the_interval_count_places_without_reading_the_queue_again(
    subject, django_assert_num_queries
):
    waiting = waiting_jobs(subject, random.Random(9), 30, [Job.Kind.RENDER], [1])
    eta.estimate(waiting[-1][0], now=NOW, workers=1)

    with django_assert_num_queries(0):
        promised = eta.estimate(waiting[10][0], now=NOW, workers=1)

    assert promised.position == 10


@override_settings(SITTER_ETA_QUEUE_SECONDS=60)
def test_a_job_that_started_leaves_the_count_once_the_queue_is_read_again(subject):
    waiting = waiting_jobs(subject, random.Random(13), 5, [Job.Kind.TRAIN], [1])
    mine = waiting[-1][0]
    eta.estimate(mine, now=NOW, workers=1)
    Job.objects.filter(pk=waiting[0][0].pk).update(status=Job.Status.RUNNING, started_at=NOW)

    assert eta.estimate(mine, now=NOW, workers=1).position == 4
    with override_settings(SITTER_ETA_QUEUE_SECONDS=0):
        assert eta.estimate(mine, now=NOW, workers=1).position == 3


def test_the_durations_are_the_median_of_recent_runs(subject):
    for seconds in (10, 20, 300):
        Job.objects.create(
            subject=subject,
            kind=Job.Kind.RENDER,
            status=Job.Status.DONE,
            started_at=NOW,
            finished_at=NOW + timedelta(seconds=seconds),
        )

    assert eta.typical_seconds(Job.Kind.RENDER) == 20


def test_a_kind_that_never_ran_here_takes_the_default(db):
    assert eta.typical_seconds(Job.Kind.TRAIN) == eta.DEFAULT_SECONDS[Job.Kind.TRAIN]


def test_a_running_job_has_left_what_its_progress_says(subject):
    job = Job.objects.create(
        subject=subject,
        kind=Job.Kind.TRAIN,
        status=Job.Status.RUNNING,
        started_at=NOW - timedelta(seconds=30),
        step=25,
        total_steps=100,
    )

    promised = eta.estimate(job, now=NOW, workers=1)

    assert promised.wait_seconds == 0
    assert promised.remaining_seconds == pytest.approx(90)


def test_without_a_live_worker_no_time_is_promised(subject):
    mine = Job.objects.create(subject=subject, kind=Job.Kind.RENDER, queued_at=NOW)

    promised = eta.estimate(mine, now=NOW, workers=0)

    assert promised.wait_seconds is None
    assert promised.remaining_seconds is None


@override_settings(SITTER_TRAIN_WORKERS=3)
def test_the_configured_workers_count_where_stats_cannot_be_read(db):
    # The tests run the queue inline, where no cluster reports stats.
    assert eta.live_workers("train") == 3


def test_live_workers_come_from_the_clusters_stats(db, monkeypatch):
    class Stat:
        def __init__(self, workers):
            self.workers = list(range(workers))
            self.status = "Idle"

    monkeypatch.setattr(eta, "_cluster_stats", lambda: [Stat(2), Stat(2)])

    assert eta.live_workers("train") == 2


def test_no_running_cluster_means_no_live_worker(db, monkeypatch):
    monkeypatch.setattr(eta, "_cluster_stats", lambda: [])

    assert eta.live_workers("render") == 0
