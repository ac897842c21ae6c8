"""Withdrawing consent stops and erases what that consent allowed."""

from django.db import transaction
from django.dispatch import receiver

from consent.models import Purpose
from consent.services import consent_withdrawn

from .destruction import destroy_training_data
from .erasure import cancel_jobs, erase_clones
from .models import Job, Subject


@receiver(consent_withdrawn)
def undo_withdrawn_purposes(sender, user, purposes, **kwargs):
    subject = Subject.objects.filter(user=user).first()
    if subject is None:
        return
    # Wait for an upload or a clone that is being stored under the person's lock: from here
    # on, each one checks consent under that lock and is refused, and what was stored before
    # is seen below and undone.
    with transaction.atomic():
        Subject.objects.select_for_update(no_key=True).filter(pk=subject.pk).first()
    if Purpose.BIOMETRIC in purposes or Purpose.KEEP_CLONE in purposes:
        # Every kind of job builds or uses the clone that goes now.
        cancel_jobs(subject, Job.Kind.values, reason="consent_withdrawn")
        erase_clones(subject, reason="consent_withdrawn")
    if Purpose.BIOMETRIC in purposes:
        destroy_training_data(subject, reason="consent_withdrawn")
    if Purpose.RENDER in purposes:
        cancel_jobs(subject, [Job.Kind.RENDER], reason="consent_withdrawn")
