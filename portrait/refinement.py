"""Making a clone look more like its person: train it further on their feedback, and keep the
result only if fresh renders come out measurably closer to their face.

Likeness is measured before and after on the same seeds of the neutral business headshot: the
median descriptor distance of the renders' faces to the clone's reference face (a render with
no face counts as the worst). The uploads were destroyed when the clone was stored, so the
refinement trains on renders alone, continuing from the current adapter:

- the clone's own renders from the "before" measurement that came closest to the reference,
  at full weight: they stand in for the destroyed photos and hold the person's caption where
  the clone had it, so that a few marked renders cannot drag it anywhere;
- the renders the person liked, at half weight (``LIKED_WEIGHT``);
- the renders the person did not like, as negatives under the class caption.

Everything decrypted (adapter, reference, marked outputs) stays in memory.
"""

import math
import statistics
from dataclasses import dataclass, replace

import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from audit.log import record as audit
from audit.models import Action

from . import vault
from .base_model import base_model_dir
from .engine import faces, images, rendering
from .engine.pipeline import detect_family
from .engine.training import TrainingCancelled, TrainingConfig, caption, train_lora
from .models import Clone, Job, Output, Refinement
from .progress import JobProgress
from .services import styles
from .tasks import JobCancelled, finish, held
from .vault import Kind

# The style the likeness is measured in: a frontal head-and-shoulders portrait on a plain
# backdrop, what the face descriptor measures best.
LIKENESS_STYLE = "business"
# Fixed seeds, so "before" and "after" differ only by the adapter.
LIKENESS_SEED = 1000
# Renders per measurement (SITTER_REFINE_RENDERS). The median of 8 is not moved by one or two
# odd renders, and 8 renders cost about one render request of two batches.
DEFAULT_RENDERS = 8
RENDER_BATCH = 4
# Training steps of a refinement (SITTER_REFINE_STEPS): a quarter of a full clone's 800-step
# cap. The adapter is already close; a refinement nudges it, and a short run also keeps the
# new adapter from memorising the handful of renders it sees.
DEFAULT_STEPS = 200
# A liked render is still a synthetic image: at full weight its artefacts would be learned as
# much as the face. Half weight lets it pull without outweighing the anchors.
LIKED_WEIGHT = 0.5
# The person's most recent marks of each kind that a refinement trains on (bounded memory).
MAX_MARKED = 20


@dataclass
class Likeness:
    """One measurement: the median distance (None: no face in most renders) and the renders,
    closest to the reference first."""

    median: float | None
    renders: list


def measure_likeness(model_dir, adapter, reference, config, on_step=None):
    """Render the likeness style with `adapter` on the fixed seeds and measure the faces."""
    style = styles()[LIKENESS_STYLE]
    width, height = style.size_for(detect_family(model_dir))
    count = settings.SITTER_REFINE_RENDERS or DEFAULT_RENDERS
    seeds = [LIKENESS_SEED + index for index in range(count)]
    renders = []
    for start in range(0, count, RENDER_BATCH):
        renders += rendering.render(
            model_dir,
            prompt=style.prompt_for(caption(config)),
            negative_prompt=style.negative_prompt,
            width=width,
            height=height,
            steps=settings.SITTER_RENDER_STEPS or style.steps,
            guidance=style.guidance,
            seeds=seeds[start : start + RENDER_BATCH],
            adapter=adapter,
            progress=on_step,
        )
    ranked = faces.rank_by_likeness(renders, reference)
    median = statistics.median(
        math.inf if distance is None else distance for _index, distance in ranked
    )
    return Likeness(
        median if math.isfinite(median) else None, [renders[index] for index, _distance in ranked]
    )


def improved(before, after):
    """Whether the median distance went down; no face (None) is the worst there is."""
    return after is not None and (before is None or after < before)


def _training_view(image):
    """The face-centred crop the trainer is used to, or the whole image if no face is found."""
    analysis = faces.analyse_photo(image)
    return image if analysis.landmarks is None else analysis.crop()


def _marked(subject, feedback):
    outputs = subject.outputs.filter(feedback=feedback).order_by("-created_at")[:MAX_MARKED]
    return [_training_view(images.decode_image(vault.read(output.blob))) for output in outputs]


def run_refinement(job):
    refinement = job.refinement
    clone = refinement.clone
    subject = job.subject
    if clone is None or not clone.adapter_blob:
        raise ValueError("the clone of this refinement was erased")
    progress = JobProgress(job)
    old_blob = clone.adapter_blob
    adapter = vault.read(old_blob)
    reference = np.frombuffer(vault.read(clone.reference_blob), dtype=np.float32)
    liked = _marked(subject, Output.Feedback.LIKE)
    unliked = _marked(subject, Output.Feedback.UNLIKE)
    if not liked and not unliked:
        raise ValueError("no portrait is marked any more")
    steps = settings.SITTER_REFINE_STEPS or DEFAULT_STEPS
    config = replace(
        TrainingConfig(**clone.config), steps=steps, seed=int(refinement.pk.int % 2**31)
    )
    model_dir = base_model_dir()

    def on_render_step(_step, _total):
        if progress.cancelled():
            raise JobCancelled()

    before = measure_likeness(model_dir, adapter, reference, config, on_render_step)
    anchors = before.renders[: max(1, len(before.renders) // 2)]
    try:
        result = train_lora(
            model_dir,
            [_training_view(image) for image in anchors],
            config,
            progress=progress,
            should_cancel=progress.cancelled,
            init_adapter=adapter,
            extra_images=[(image, LIKED_WEIGHT) for image in liked],
            negative_images=unliked,
        )
    except TrainingCancelled:
        raise JobCancelled() from None
    after = measure_likeness(model_dir, result.adapter, reference, config, on_render_step)
    kept = improved(before.median, after.median)
    new_blob = vault.put(subject, Kind.ADAPTER, clone.pk, result.adapter) if kept else ""
    try:
        with transaction.atomic():
            still_wanted = (
                held(job, cancel_requested=False)
                and Clone.objects.filter(pk=clone.pk, adapter_blob=old_blob).exists()
            )
            if not still_wanted:
                raise JobCancelled()
            details = {
                "kept": kept,
                "steps": result.steps,
                "liked": len(liked),
                "unliked": len(unliked),
                "likeness_before": _rounded(before.median),
                "likeness_after": _rounded(after.median),
            }
            if kept:
                Clone.objects.filter(pk=clone.pk).update(adapter_blob=new_blob)
                details["replaced_adapter_sha256"] = vault.storage.ciphertext_digest(old_blob)
            Refinement.objects.filter(pk=refinement.pk).update(
                liked=len(liked),
                unliked=len(unliked),
                steps=result.steps,
                likeness_before=before.median,
                likeness_after=after.median,
                kept=kept,
                finished_at=timezone.now(),
            )
            finish(job, Job.Status.DONE)
            audit(Action.CLONE_REFINED, obj=refinement, details=details)
    except BaseException:
        vault.destroy(new_blob)
        raise
    if kept:
        vault.destroy(old_blob)


def _rounded(distance):
    return None if distance is None else round(distance, 4)


def fail_refinement(job, job_status, error_code, error_message):
    """Record a failed or cancelled refinement; the clone keeps the adapter it had."""
    with transaction.atomic():
        refinement_id = Refinement.objects.filter(job=job).values_list("pk", flat=True).first()
        Refinement.objects.filter(job=job).update(finished_at=timezone.now())
        finish(job, job_status, error_code, error_message)
        audit(
            Action.REFINE_FAILED,
            object_type="refinement",
            object_id=str(refinement_id or job.pk),
            details={"error": error_code, "status": job_status},
        )
