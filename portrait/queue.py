"""Putting jobs on the two queues: ``train`` and ``render``, each with its own workers, so a
render never waits behind a training job."""

from django.db import transaction
from django.utils import timezone
from django_q.tasks import async_task

from .models import Job

TASKS = {
    Job.Kind.TRAIN: "portrait.tasks.train_clone",
    Job.Kind.RENDER: "portrait.tasks.render_portraits",
    Job.Kind.REFINE: "portrait.tasks.refine_clone",
}


def enqueue(job):
    """Queue ``job`` once the current transaction commits (never a job for a rolled-back row)."""

    def send():
        task_id = async_task(
            TASKS[job.kind], str(job.pk), cluster=job.queue, task_name=f"{job.kind}-{job.pk}"
        )
        # What recovery looks for in the broker, and since when the job waits there
        # (portrait/recovery.py). A worker may have claimed it already: then it is left alone.
        Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
            task_id=task_id or "", heartbeat_at=timezone.now()
        )

    transaction.on_commit(send)
