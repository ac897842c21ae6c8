"""Putting work that a dead worker left behind back on its queue.

Neither broker brings such work back in time by itself: the database broker hands a task out
again only after the cluster's ``retry`` (hours, for training), and the Redis broker never does
(a task taken off the list is gone). So Sitter keeps its own account in the Job rows, and
``recover`` acts on it:

- a RUNNING job whose worker is gone (``portrait.liveness``) goes back to QUEUED and is sent
  again; the next attempt resumes it (a training from its last checkpoint, a render keeping
  the portraits it stored). One that was asked to stop is recorded as cancelled instead, and
  one that has started ``SITTER_JOB_MAX_ATTEMPTS`` times fails with a message saying so;
- a QUEUED job whose task is not waiting in the broker (the web process died between storing
  the job and sending it, or a worker took the task and died before claiming the job) is sent
  again once it has waited ``SITTER_JOB_STALL_SECONDS``. A task that a live cluster has taken
  ahead of its turn is not in the broker either: it is sent once more, and whichever copy
  comes first runs the job while the other finds it claimed (``portrait.tasks``).

It runs when a queue worker starts (django-q2's ``post_spawn``: every cluster start, and every
worker the cluster replaces after one died) and every minute on the render queue's schedule
(``sitter_setup``).
"""

import logging
from collections import Counter

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_noop
from django_q.brokers import get_broker
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signals import post_spawn
from django_q.signing import SignedPackage

from .liveness import abandoned, stall
from .models import Job
from .queue import enqueue
from .tasks import fail_function

log = logging.getLogger(__name__)

RECOVER_FUNC = "portrait.recovery.recover"
# Stored untranslated, like every job error (the job's worker has no person's language); the
# progress panel says it in the person's language from the code.
GAVE_UP = gettext_noop("The worker running this job stopped %(count)s times; Sitter gave up on it.")


def recover(now=None):
    """Requeue or close every job a dead worker left; returns counts of what was done."""
    now = now or timezone.now()
    done = Counter()
    for job_id in Job.objects.filter(status=Job.Status.RUNNING).values_list("pk", flat=True):
        outcome = _recover_running(job_id, now)
        if outcome:
            done[outcome] += 1
    cutoff = now - stall()
    waiting = {}
    for job in Job.objects.filter(status=Job.Status.QUEUED).filter(
        Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, queued_at__lt=cutoff)
    ):
        if job.queue not in waiting:
            waiting[job.queue] = waiting_task_ids(job.queue)
        if job.task_id and job.task_id in waiting[job.queue]:
            continue
        if _resend(job.pk, cutoff, now):
            done["resent"] += 1
    if done:
        log.warning("recovered jobs left by stopped workers: %s", dict(done))
    return dict(done)


def _recover_running(job_id, now):
    with transaction.atomic():
        job = (
            Job.objects.select_for_update(no_key=True)
            .filter(pk=job_id, status=Job.Status.RUNNING)
            .first()
        )
        if job is None or not abandoned(job, now):
            return None
        fail = fail_function(job.kind)
        if job.cancel_requested:
            fail(job, Job.Status.CANCELLED, "cancelled", "")
            return "cancelled"
        if job.attempts >= settings.SITTER_JOB_MAX_ATTEMPTS:
            fail(job, Job.Status.FAILED, "worker_lost", GAVE_UP % {"count": job.attempts})
            return "failed"
        job.status = Job.Status.QUEUED
        job.worker = ""
        job.heartbeat_at = now
        job.save(update_fields=["status", "worker", "heartbeat_at"])
        enqueue(job)
    return "requeued"


def _resend(job_id, cutoff, now):
    with transaction.atomic():
        # Checked again under the lock: another recovery may have sent it just now.
        job = (
            Job.objects.select_for_update(no_key=True)
            .filter(pk=job_id, status=Job.Status.QUEUED)
            .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True))
            .first()
        )
        if job is None:
            return False
        Job.objects.filter(pk=job.pk).update(heartbeat_at=now)
        enqueue(job)
    return True


def waiting_task_ids(queue):
    """Ids of the tasks waiting in the broker's ``queue`` to be handed out."""
    broker = get_broker(list_key=queue)
    if isinstance(broker, ORM):
        # A row a worker has taken is locked until its retry time: not waiting any more.
        payloads = (
            OrmQ.objects.using(Conf.ORM)
            .filter(key=queue, lock__lte=timezone.now())
            .values_list("payload", flat=True)
        )
    else:
        payloads = broker.connection.lrange(broker.list_key, 0, -1)
    ids = set()
    for payload in payloads:
        try:
            ids.add(SignedPackage.loads(payload)["id"])
        except Exception:  # noqa: S112 (a task this site cannot read is none of its jobs)
            continue
    return ids


@receiver(post_spawn)
def recover_when_a_worker_starts(sender, proc_name, **kwargs):
    try:
        recover()
    except Exception:
        # The worker must start whatever happens here; the schedule tries again.
        log.exception("job recovery at the start of worker %s failed", proc_name)
