"""Training a clone: decrypt the uploads in memory, train, store the adapter encrypted, then
destroy the uploads (never before the adapter is stored)."""

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action

from . import vault
from .base_model import base_model_dir
from .destruction import destroy_training_data
from .engine import faces, images
from .engine.training import TrainingCancelled, TrainingConfig, default_steps, train_lora
from .models import Clone, Job
from .progress import JobProgress
from .services import face_thresholds
from .tasks import JobCancelled, finish, held
from .vault import Kind

# TrainingConfig fields the operator may set; a setting of 0 keeps the trainer's default.
_OPERATOR_SETTINGS = {
    "rank": "SITTER_TRAIN_RANK",
    "alpha": "SITTER_TRAIN_ALPHA",
    "learning_rate": "SITTER_TRAIN_LR",
    "resolution": "SITTER_TRAIN_RESOLUTION",
    "checkpoint_every": "SITTER_TRAIN_CHECKPOINT_EVERY",
}


def training_config(photo_count, seed):
    """The trainer's settings: its published-recipe defaults unless the operator overrides."""
    overrides = {
        "seed": seed,
        "steps": settings.SITTER_TRAIN_STEPS or default_steps(photo_count),
        "gradient_checkpointing": settings.SITTER_TRAIN_GRADIENT_CHECKPOINTING,
    }
    for field, setting in _OPERATOR_SETTINGS.items():
        if getattr(settings, setting):
            overrides[field] = getattr(settings, setting)
    return TrainingConfig(**overrides)


def _training_inputs(subject, thresholds):
    """Aligned face crops and descriptors of the person's uploads, decrypted in memory."""
    crops, descriptors = [], []
    for photo in subject.photos.all():
        image = images.decode_image(vault.read(photo.blob))
        analysis = faces.analyse_photo(image, thresholds)
        if analysis.descriptor is None:
            continue
        crops.append(analysis.crop())
        descriptors.append(analysis.descriptor)
    return crops, descriptors


def run_training(job):
    clone = job.clone
    subject = job.subject
    progress = JobProgress(job)
    crops, descriptors = _training_inputs(subject, face_thresholds())
    if not crops:
        raise ValueError("no usable photos to train on")
    reference = np.mean(np.stack(descriptors), axis=0).astype(np.float32)
    config = training_config(len(crops), seed=int(clone.pk.int % 2**31))
    resume = vault.read(clone.checkpoint_blob) if clone.checkpoint_blob else None

    def store_checkpoint(data, step):
        old = clone.checkpoint_blob
        new = vault.put(subject, Kind.CHECKPOINT, clone.pk, data)
        with transaction.atomic():
            stored = held(job) and Clone.objects.filter(pk=clone.pk).update(
                checkpoint_blob=new, checkpoint_step=step
            )
        if not stored:
            vault.destroy(new)  # the clone was erased meanwhile, or another attempt took over
            raise JobCancelled()
        clone.checkpoint_blob = new
        vault.destroy(old)

    def should_cancel():
        return progress.cancelled()

    try:
        result = train_lora(
            base_model_dir(),
            crops,
            config,
            progress=progress,
            should_cancel=should_cancel,
            resume=resume,
            on_checkpoint=store_checkpoint,
        )
    except TrainingCancelled:
        raise JobCancelled() from None
    adapter_blob = reference_blob = ""
    try:
        adapter_blob = vault.put(subject, Kind.ADAPTER, clone.pk, result.adapter)
        reference_blob = vault.put(subject, Kind.REFERENCE, clone.pk, reference.tobytes())
        _store_clone(job, clone, result, adapter_blob, reference_blob)
    except BaseException:
        # Nothing names them: the clone was erased meanwhile, or the job taken over.
        vault.destroy(adapter_blob)
        vault.destroy(reference_blob)
        raise
    destroy_training_data(subject, clone, reason="clone_stored")


def _store_clone(job, clone, result, adapter_blob, reference_blob):
    with transaction.atomic():
        still_wanted = (
            held(job, cancel_requested=False) and Clone.objects.filter(pk=clone.pk).exists()
        )
        if not still_wanted:
            raise JobCancelled()
        clone.adapter_blob = adapter_blob
        clone.reference_blob = reference_blob
        clone.status = Clone.Status.READY
        clone.steps = result.steps
        clone.seconds = result.seconds
        clone.final_loss = result.final_loss
        clone.config = result.config
        clone.finished_at = timezone.now()
        clone.save(force_update=True)  # never inserted again if it was erased after all
        finish(job, Job.Status.DONE)
        audit(
            Action.CLONE_FINISHED,
            obj=clone,
            details={"steps": result.steps, "seconds": round(result.seconds, 3)},
        )


def fail_clone(job, job_status, error_code, error_message):
    """Record a failed or cancelled training; the uploads stay (the upload TTL still applies)."""
    clone_status = (
        Clone.Status.CANCELLED if job_status == Job.Status.CANCELLED else Clone.Status.FAILED
    )
    with transaction.atomic():
        clone_id = Clone.objects.filter(job=job).values_list("pk", flat=True).first()
        Clone.objects.filter(job=job).update(status=clone_status, finished_at=timezone.now())
        finish(job, job_status, error_code, error_message)
        action = (
            Action.CLONE_CANCELLED
            if clone_status == Clone.Status.CANCELLED
            else Action.CLONE_FAILED
        )
        audit(
            action,
            object_type="clone",
            object_id=str(clone_id or job.pk),
            details={"error": error_code},
        )
