"""Where a job stands in its queue and how long it will take.

The estimate comes from three things this instance knows: the jobs ahead on the same queue (how
many, of which kinds), how long jobs of each kind recently took here (the median of the last
finished ones), and how many workers serve the queue right now (django-q2's cluster stats).
Jobs that run already count with what is left of them, read from their progress when they
report any.

A status page asks for this every couple of seconds, for every waiting person, so the costly
parts are kept short: the place in the queue and the running jobs are one statement, a COUNT per
kind answered from the (kind, status, queued_at) index alone and the running jobs' rows, and the
medians and worker counts are cached in the process for a few seconds. The queries on this path
are written as SQL: building them through the ORM cost several times more than running them
(``python -m bench.web``).
"""

import heapq
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from django.conf import settings
from django.db import connection
from django.db.models import DEFERRED
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .models import Job, Render, Subject

# Until a kind has finished RECENT jobs here, its median is taken over those that did, and
# with none, these (seconds): a tiny-model training takes seconds, an SD 1.5 one on a GPU
# some minutes, so they err towards patience.
DEFAULT_SECONDS = {Job.Kind.TRAIN: 600.0, Job.Kind.REFINE: 300.0, Job.Kind.RENDER: 60.0}
RECENT = 50
DURATIONS_TTL = 10.0
WORKERS_TTL = 5.0
# Up to this many jobs ahead, the estimate plays the queue through job by job, worker by
# worker; beyond it, it divides the work ahead evenly among the workers, which is as close
# once each worker has many jobs to do and costs one query instead of a row per job.
EXACT_UP_TO = 64

_durations = {}
_workers = {}


@dataclass(frozen=True)
class Estimate:
    """What the person is told. Seconds are None when no worker serves the queue."""

    position: int
    ahead: dict
    workers: int
    wait_seconds: float | None
    remaining_seconds: float | None


def clear_cache():
    """Forget the cached medians and worker counts (tests, and after a change of settings)."""
    _durations.clear()
    _workers.clear()


def queue_kinds(queue):
    return [kind for kind, name in Job.QUEUES.items() if name == queue]


def typical_seconds(kind):
    """The median run time of the kind's last finished jobs here, cached for a few seconds."""
    cached = _durations.get(kind)
    if cached and time.monotonic() - cached[0] < DURATIONS_TTL:
        return cached[1]
    runs = (
        Job.objects.filter(
            kind=kind, status=Job.Status.DONE, started_at__isnull=False, finished_at__isnull=False
        )
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:RECENT]
    )
    seconds = [(finished - started).total_seconds() for started, finished in runs]
    value = statistics.median(seconds) if seconds else DEFAULT_SECONDS[kind]
    _durations[kind] = (time.monotonic(), value)
    return value


def _cluster_stats():
    """django-q2's stats of the live clusters, or None where this process cannot see them."""
    if settings.Q_CLUSTER.get("sync"):
        return None
    from django_q.conf import Conf
    from django_q.status import Stat

    try:
        stats = Stat.get_all()
    except Exception:  # a broker or cache that is down must not take the status page with it
        return None
    return [stat for stat in stats if stat.status not in (Conf.STOPPED, Conf.STOPPING)]


def configured_workers(queue):
    return {"train": settings.SITTER_TRAIN_WORKERS, "render": settings.SITTER_RENDER_WORKERS}.get(
        queue, 1
    )


def live_workers(queue):
    """Workers serving ``queue`` now: 0 when no cluster runs, the configured number where the
    stats cannot be read (inline queue, broker down).

    django-q2's stats do not say which queue a cluster serves, so the live workers are shared
    out between the queues in proportion to the configured numbers.
    """
    cached = _workers.get(queue)
    if cached and time.monotonic() - cached[0] < WORKERS_TTL:
        return cached[1]
    stats = _cluster_stats()
    configured = configured_workers(queue)
    if stats is None:
        value = configured
    elif not stats:
        value = 0
    else:
        total = sum(len(stat.workers) for stat in stats)
        everyone = sum(configured_workers(name) for name in set(Job.QUEUES.values()))
        value = max(1, round(total * configured / everyone))
    _workers[queue] = (time.monotonic(), value)
    return value


def remaining_seconds(job, now):
    """What is left of a running job: from its progress once it reports steps, else from its
    kind's median less the time it has run."""
    typical = typical_seconds(job.kind)
    elapsed = max(0.0, (now - job.started_at).total_seconds()) if job.started_at else 0.0
    if job.total_steps and job.step:
        fraction = min(1.0, job.step / job.total_steps)
        return elapsed * (1 - fraction) / fraction
    return max(0.0, typical - elapsed)


# What the progress panel shows of a job; the other fields are left deferred, as
# QuerySet.only() leaves them.
PANEL_FIELDS = [
    "id",
    "kind",
    "status",
    "step",
    "total_steps",
    "error_code",
    "queued_at",
    "started_at",
]


def job_for(job_id, user):
    """The user's job ``job_id`` with what its progress panel shows (a render's style as
    ``style``), or None: another person's job is as absent as one that does not exist."""
    table = connection.ops.quote_name
    columns = ", ".join(f"j.{table(Job._meta.get_field(name).column)}" for name in PANEL_FIELDS)
    # Only quoted names are put into the SQL; every value is a parameter.
    sql = (
        f"SELECT {columns}, r.style AS style FROM {table(Job._meta.db_table)} j "  # noqa: S608
        f"JOIN {table(Subject._meta.db_table)} s ON s.id = j.subject_id "
        f"LEFT JOIN {table(Render._meta.db_table)} r ON r.job_id = j.id "
        f"WHERE j.id = %s AND s.user_id = %s"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [Job._meta.pk.get_db_prep_value(job_id, connection), user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    loaded = dict(zip(PANEL_FIELDS, row, strict=False))
    loaded.update(
        id=uuid.UUID(str(loaded["id"])),
        queued_at=_aware(loaded["queued_at"]),
        started_at=_aware(loaded["started_at"]),
    )
    # As the ORM loads a row, the fields not read here deferred: Job(...) with keyword
    # arguments cost more, and gave those fields their defaults instead of the row's values.
    job = Job.from_db(
        connection.alias,
        PANEL_FIELDS,
        [loaded.get(field.attname, DEFERRED) for field in Job._meta.concrete_fields],
    )
    job.style = row[-1]
    return job


def _aware(value):
    """A datetime column's value as an aware datetime (SQLite gives naive UTC text)."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if value is not None and timezone.is_naive(value):
        value = timezone.make_aware(value, UTC)
    return value


class Running(NamedTuple):
    """A running job, as far as its remaining time goes: lighter than a Job, which the panel
    would build for each running job on every poll."""

    kind: str
    started_at: datetime | None
    step: int
    total_steps: int


def _queue(job, kinds):
    """{kind: jobs of that kind waiting on the queue before ``job``}, and the queue's running
    jobs, in one statement (each one cost a round trip on every poll): a row of the counts,
    then a row per running job."""
    table = connection.ops.quote_name(Job._meta.db_table)
    count = (
        f"(SELECT COUNT(*) FROM {table} WHERE status = %s AND kind = %s "  # noqa: S608
        f"AND queued_at < %s)"
    )
    queued_at = Job._meta.get_field("queued_at").get_db_prep_value(job.queued_at, connection)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT NULL, NULL, NULL, NULL, {', '.join([count] * len(kinds))} "  # noqa: S608
            f"UNION ALL SELECT kind, started_at, step, total_steps, "
            f"{', '.join(['NULL'] * len(kinds))} FROM {table} "
            f"WHERE status = %s AND kind IN ({', '.join(['%s'] * len(kinds))})",
            [value for kind in kinds for value in (Job.Status.QUEUED, kind, queued_at)]
            + [Job.Status.RUNNING, *kinds],
        )
        rows = cursor.fetchall()
    counts = next(row[4:] for row in rows if row[0] is None)
    ahead = {kind: number for kind, number in zip(kinds, counts, strict=True) if number}
    running = [Running(row[0], _aware(row[1]), row[2], row[3]) for row in rows if row[0]]
    return ahead, running


def estimate(job, now=None, workers=None):
    """Where ``job`` stands: its place in the queue and the seconds until it starts and ends."""
    now = now or timezone.now()
    kinds = queue_kinds(job.queue)
    workers = live_workers(job.queue) if workers is None else workers
    if job.status == Job.Status.RUNNING:
        left = remaining_seconds(job, now) if workers else None
        return Estimate(0, {}, workers, 0.0, left)
    if job.status != Job.Status.QUEUED:
        return Estimate(0, {}, workers, 0.0, 0.0)
    ahead, running = _queue(job, kinds)
    position = sum(ahead.values())
    if not workers:
        return Estimate(position, ahead, 0, None, None)
    busy = sorted(remaining_seconds(other, now) for other in running)
    # Workers free up at these times; more running jobs than workers means stale rows or
    # workers the stats did not see, and each of them is taken to run on its own.
    free_at = busy + [0.0] * max(0, workers - len(busy))
    if position <= EXACT_UP_TO:
        order = (
            Job.objects.filter(
                kind__in=kinds, status=Job.Status.QUEUED, queued_at__lt=job.queued_at
            )
            .order_by("queued_at")
            .values_list("kind", flat=True)
        )
        wait = _play_through(free_at, [typical_seconds(kind) for kind in order])
    else:
        work = sum(count * typical_seconds(kind) for kind, count in ahead.items())
        wait = (sum(free_at) + work) / len(free_at)
    return Estimate(position, ahead, workers, wait, wait + typical_seconds(job.kind))


def _play_through(free_at, durations):
    """When a job after ``durations`` starts, each job taking the first worker to free up."""
    heap = list(free_at)
    heapq.heapify(heap)
    for seconds in durations:
        heapq.heappush(heap, heapq.heappop(heap) + seconds)
    return heap[0]
