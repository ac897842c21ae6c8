"""Where a job stands in its queue and how long it will take.

The estimate comes from three things this instance knows: the jobs ahead on the same queue (how
many, of which kinds), how long jobs of each kind recently took here (the median of the last
finished ones), and how many workers serve the queue right now (django-q2's cluster stats).
Jobs that run already count with what is left of them, read from their progress when they
report any.

A status page asks for this every couple of seconds, for every waiting person: with 6,000 of
them that is 3,000 questions a second about the same queue. So each process reads the whole
queue at most once a second (``SITTER_ETA_QUEUE_SECONDS``): when each waiting job was queued,
per kind and oldest first, and the running jobs. A person's place is then a binary search per
kind in that snapshot rather than a COUNT over thousands of index entries per poll, and a start
that happened since shows a second later. The medians and worker counts are cached in the process
for a few seconds too. The queries on this path are written as SQL: building them through the
ORM cost several times more than running them (``python -m bench.web``).
"""

import bisect
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
_lines = {}


@dataclass(frozen=True)
class Estimate:
    """What the person is told. Seconds are None when no worker serves the queue."""

    position: int
    ahead: dict
    workers: int
    wait_seconds: float | None
    remaining_seconds: float | None


def clear_cache():
    """Forget the cached queues, medians and worker counts (tests, and after a change of
    settings)."""
    _durations.clear()
    _workers.clear()
    _lines.clear()


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


def _live_clusters():
    """(clusters, their workers) running now, or None where the stats cannot be read; read at
    most once per WORKERS_TTL for every queue, since reading them also writes to the cache."""
    cached = _workers.get("clusters")
    if cached and time.monotonic() - cached[0] < WORKERS_TTL:
        return cached[1]
    stats = _cluster_stats()
    value = None if stats is None else (len(stats), sum(len(stat.workers) for stat in stats))
    _workers["clusters"] = (time.monotonic(), value)
    return value


def live_workers(queue):
    """Workers serving ``queue`` now: 0 when no cluster runs, the configured number where the
    stats cannot be read (inline queue, broker down).

    django-q2's stats do not say which queue a cluster serves, so the live workers are shared
    out between the queues in proportion to the configured numbers.
    """
    clusters = _live_clusters()
    configured = configured_workers(queue)
    if clusters is None:
        return configured
    if not clusters[0]:
        return 0
    everyone = sum(configured_workers(name) for name in set(Job.QUEUES.values()))
    return max(1, round(clusters[1] * configured / everyone))


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


def _like(moment, stored):
    """``moment`` in the form the database gave ``stored`` in: naive UTC where it was naive."""
    if timezone.is_naive(stored):
        return moment.astimezone(UTC).replace(tzinfo=None)
    return moment


class Running(NamedTuple):
    """A running job, as far as its remaining time goes: lighter than a Job, which the panel
    would build for each running job on every poll."""

    kind: str
    started_at: datetime | None
    step: int
    total_steps: int


class Line(NamedTuple):
    """A queue as it stood when it was read: when each waiting job was queued, {kind: [...]}
    oldest first, as the database gives the times (naive UTC on SQLite), and its running
    jobs."""

    waiting: dict
    running: list


def line(queue):
    """The queue ``queue`` as it stands, read at most once per ``SITTER_ETA_QUEUE_SECONDS``."""
    cached = _lines.get(queue)
    if cached and time.monotonic() - cached[0] < settings.SITTER_ETA_QUEUE_SECONDS:
        return cached[1]
    kinds = queue_kinds(queue)
    table = connection.ops.quote_name(Job._meta.db_table)
    marks = ", ".join(["%s"] * len(kinds))
    waiting = {kind: [] for kind in kinds}
    with connection.cursor() as cursor:
        # In the order of the (kind, status, queued_at) index, from the index alone.
        cursor.execute(
            f"SELECT kind, queued_at FROM {table} WHERE status = %s "  # noqa: S608
            f"AND kind IN ({marks}) ORDER BY kind, status, queued_at",
            [Job.Status.QUEUED, *kinds],
        )
        for kind, queued_at in cursor.fetchall():
            waiting[kind].append(queued_at)
        cursor.execute(
            f"SELECT kind, started_at, step, total_steps FROM {table} "  # noqa: S608
            f"WHERE status = %s AND kind IN ({marks})",
            [Job.Status.RUNNING, *kinds],
        )
        running = [
            Running(kind, _aware(started), step, total) for kind, started, step, total in cursor
        ]
    value = Line(waiting, running)
    _lines[queue] = (time.monotonic(), value)
    return value


def _ahead(job, waiting):
    """{kind: jobs of that kind queued before ``job``} and, while they are few, their kinds in
    the order they will run."""
    before = {
        kind: bisect.bisect_left(times, _like(job.queued_at, times[0])) if times else 0
        for kind, times in waiting.items()
    }
    ahead = {kind: number for kind, number in before.items() if number}
    order = None
    if sum(ahead.values()) <= EXACT_UP_TO:
        order = [
            kind
            for _queued_at, kind in heapq.merge(
                *([(at, kind) for at in waiting[kind][:number]] for kind, number in ahead.items())
            )
        ]
    return ahead, order


def estimate(job, now=None, workers=None):
    """Where ``job`` stands: its place in the queue and the seconds until it starts and ends."""
    now = now or timezone.now()
    workers = live_workers(job.queue) if workers is None else workers
    if job.status == Job.Status.RUNNING:
        left = remaining_seconds(job, now) if workers else None
        return Estimate(0, {}, workers, 0.0, left)
    if job.status != Job.Status.QUEUED:
        return Estimate(0, {}, workers, 0.0, 0.0)
    queue = line(job.queue)
    ahead, order = _ahead(job, queue.waiting)
    position = sum(ahead.values())
    if not workers:
        return Estimate(position, ahead, 0, None, None)
    busy = sorted(remaining_seconds(other, now) for other in queue.running)
    # Workers free up at these times; more running jobs than workers means stale rows or
    # workers the stats did not see, and each of them is taken to run on its own.
    free_at = busy + [0.0] * max(0, workers - len(busy))
    if order is not None:
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
