"""Rendering portraits with the worker's cached base pipeline and a person's adapter.

The adapter arrives as bytes (decrypted in memory by the caller), is swapped into the cached
pipeline for one render and always swapped out again, so the next person's render starts from
the untouched base model.
"""

import os
from collections.abc import Callable, Sequence
from contextlib import contextmanager

import safetensors.torch
import torch
from PIL import Image

from .pipeline import load_pipeline

PERSON_ADAPTER = "person"
STYLE_ADAPTER = "style"


def render(
    model_dir,
    *,
    prompt: str,
    negative_prompt: str = "",
    width: int,
    height: int,
    steps: int,
    guidance: float,
    seeds: Sequence[int],
    adapter: bytes | None = None,
    adapter_scale: float = 1.0,
    style_lora: bytes | str | os.PathLike | None = None,
    style_lora_scale: float = 1.0,
    device=None,
    progress: Callable[[int, int], None] | None = None,
) -> list[Image.Image]:
    """One image per seed, in the order of `seeds`.

    `adapter` is a person's LoRA (safetensors bytes from `train_lora`); `style_lora` an optional
    style LoRA (bytes or a file path, any format diffusers reads), mixed in with its scale.
    `progress(step, steps)` is called after each denoising step; an exception raised there
    stops the render (and the adapters are still unloaded).

    All seeds are denoised as one batch (faster on a GPU); each seed's starting noise comes from
    its own CPU generator, so a seed list gives the same images on every run and device type up
    to the device's arithmetic.
    """
    if width % 8 or height % 8:
        raise ValueError(f"width and height must be multiples of 8, not {width}x{height}")
    if not seeds:
        raise ValueError("render needs at least one seed")
    pipe = load_pipeline(model_dir, device=device)

    def on_step_end(_pipe, step, _timestep, tensors):
        progress(step + 1, steps)
        return tensors

    with swapped_in(pipe, adapter, adapter_scale, style_lora, style_lora_scale):
        return pipe(
            prompt=prompt,
            negative_prompt=negative_prompt,
            width=width,
            height=height,
            num_inference_steps=steps,
            guidance_scale=guidance,
            num_images_per_prompt=len(seeds),
            generator=[torch.Generator().manual_seed(int(seed)) for seed in seeds],
            callback_on_step_end=on_step_end if progress is not None else None,
        ).images


@contextmanager
def swapped_in(pipe, adapter=None, adapter_scale=1.0, style_lora=None, style_lora_scale=1.0):
    """Load a person's adapter and/or a style LoRA into `pipe` for the `with` block, then unload
    them whatever happens, leaving the base weights untouched (LoRA layers are never fused)."""
    names, scales = [], []
    try:
        if adapter is not None:
            pipe.load_lora_weights(safetensors.torch.load(adapter), adapter_name=PERSON_ADAPTER)
            names.append(PERSON_ADAPTER)
            scales.append(adapter_scale)
        if style_lora is not None:
            state = (
                safetensors.torch.load(style_lora)
                if isinstance(style_lora, bytes)
                else safetensors.torch.load_file(style_lora)
            )
            pipe.load_lora_weights(state, adapter_name=STYLE_ADAPTER)
            names.append(STYLE_ADAPTER)
            scales.append(style_lora_scale)
        if names:
            pipe.set_adapters(names, adapter_weights=scales)
        yield pipe
    finally:
        # Also after a failed load, which can leave LoRA layers half injected.
        if adapter is not None or style_lora is not None:
            pipe.unload_lora_weights()
