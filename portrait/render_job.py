"""Rendering: candidates with the person's adapter, ranked by likeness to their reference face,
post-processed (ID photos to spec), marked with provenance (signing last), stored encrypted."""

import secrets
from dataclasses import replace

import numpy as np
from django.conf import settings
from django.db import transaction

from audit.log import record as audit
from audit.models import Action

from . import vault
from .base_model import base_model_dir, base_model_name
from .engine import faces, idphoto, rendering
from .engine.pipeline import detect_family
from .engine.training import TrainingConfig, caption
from .models import Job, Output
from .progress import JobProgress
from .provenance import apply_provenance
from .provenance_config import WATERMARK_ID_BITS, provenance_config
from .services import styles
from .tasks import JobCancelled, finish, held
from .vault import Kind

KEEP_PER_RENDER = 2


def _new_watermark_id():
    """A random id for the watermark that no other output has (32 bits collide eventually)."""
    while True:
        candidate = secrets.randbits(WATERMARK_ID_BITS)
        if not Output.objects.filter(watermark_id=candidate).exists():
            return candidate


def run_render(job):
    render = job.render
    subject = job.subject
    clone = render.clone
    if clone is None or not clone.adapter_blob:
        raise ValueError("the clone of this render was erased")
    style = styles()[render.style]
    progress = JobProgress(job)
    candidates = settings.SITTER_RENDER_CANDIDATES or style.candidates
    steps = settings.SITTER_RENDER_STEPS or style.steps
    seeds = [render.seed + index for index in range(candidates)]
    prompt = style.prompt_for(caption(TrainingConfig(**clone.config)))
    adapter = vault.read(clone.adapter_blob)
    reference = np.frombuffer(vault.read(clone.reference_blob), dtype=np.float32)

    def on_step(step, total):
        progress(step, total)
        if progress.cancelled():
            raise JobCancelled()

    # A render started again after its worker died keeps the portraits it stored before and
    # makes only the missing ranks: it renders the same candidates (same seeds) and fills each
    # missing rank with the best candidate not stored yet, so no candidate is stored twice
    # even where the ranking comes out differently (rendering need not be bit-exact on every
    # device).
    wanted = min(KEEP_PER_RENDER, candidates)
    stored = dict(render.outputs.values_list("rank", "seed"))
    missing = [rank for rank in range(1, wanted + 1) if rank not in stored]
    if missing:
        model_dir = base_model_dir()
        width, height = style.size_for(detect_family(model_dir))
        images_ = rendering.render(
            model_dir,
            prompt=prompt,
            negative_prompt=style.negative_prompt,
            width=width,
            height=height,
            steps=steps,
            guidance=style.guidance,
            seeds=seeds,
            adapter=adapter,
            style_lora=style.style_lora,
            style_lora_scale=style.style_lora_scale,
            progress=on_step,
        )
        # Closest to the person's reference face first; candidates with no face rank last and
        # are flagged (face_found False).
        ranked = faces.rank_by_likeness(images_, reference)
        fresh = [(index, dist) for index, dist in ranked if seeds[index] not in stored.values()]
        config = provenance_config(style)
        for rank, (index, distance) in zip(missing, fresh, strict=False):
            image, seed = images_[index], seeds[index]
            output_config = config
            if render.options.get("spec"):
                result = idphoto.make_id_photo(
                    image, render.options["spec"], render.options["background"]
                )
                image = result.image
                output_config = replace(config, dpi=result.dpi)
            _store_output(
                job, render, subject, image, rank, seed, distance, style, steps, output_config
            )
    with transaction.atomic():
        if not held(job):
            raise JobCancelled()
        finish(job, Job.Status.DONE)
        audit(
            Action.RENDER_FINISHED,
            obj=render,
            details={"style": style.slug, "outputs": wanted, "candidates": candidates},
        )


def _store_output(job, render, subject, image, rank, seed, distance, style, steps, config):
    watermark_id = _new_watermark_id()
    marked = apply_provenance(
        image,
        render_id=watermark_id,
        style=style.slug,
        base_model=base_model_name(),
        config=config,
    )
    output = Output(
        subject=subject,
        render=render,
        rank=rank,
        mime=marked.mime,
        width=image.width,
        height=image.height,
        seed=seed,
        settings=_output_settings(render, style, steps),
        likeness_distance=distance,
        face_found=distance is not None,
        watermark_id=watermark_id,
    )
    output.blob = vault.put(subject, Kind.OUTPUT, output.pk, marked.data)
    try:
        with transaction.atomic():
            if not held(job):
                raise JobCancelled()
            output.save(force_insert=True)
            audit(
                Action.OUTPUT_SIGNED,
                obj=output,
                details={"watermark": marked.watermark_payload_hex, "rank": rank},
            )
    except BaseException:
        vault.destroy(output.blob)
        raise
    return output


def _output_settings(render, style, steps):
    """What the output was rendered with, besides its seed."""
    recorded = {
        "style": style.slug,
        "steps": steps,
        "guidance": style.guidance,
        "options": render.options,
    }
    if style.style_lora is not None:
        recorded["style_lora"] = {"file": style.style_lora.name, "scale": style.style_lora_scale}
    return recorded


def fail_render(job, job_status, error_code, error_message):
    with transaction.atomic():
        finish(job, job_status, error_code, error_message)
        audit(Action.RENDER_FAILED, obj=job.render, details={"error": error_code})
