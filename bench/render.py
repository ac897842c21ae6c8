"""Rendering speed: cold pipeline load, warm render, and swapping a person's adapter in and out.

A render worker loads the base pipeline once and swaps each person's adapter in for their
render; the swap must stay small next to the render itself. Measured on the tiny model and on
an SD 1.5-shaped one (real sizes, random weights) with a rank-16 adapter, the trainer's default.

    python -m bench.render [--json] [--steps N] [--seeds N] [--sd15-steps N] [--model-dir D]
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import safetensors.torch
import torch

from portrait.engine.pipeline import load_pipeline
from portrait.engine.rendering import render, swapped_in
from portrait.engine.tiny import build_full_sd15, build_tiny_sd15
from portrait.engine.training import LORA_TARGET_MODULES, TrainingConfig

PROMPT = "a photo of ohwx person, professional headshot, soft studio lighting"
SWAPS = 5
ADAPTER_RANK = TrainingConfig().rank


def random_adapter(unet, rank=ADAPTER_RANK, seed=0):
    """A LoRA of the trainer's shape for `unet`, random weights, as safetensors bytes."""
    generator = torch.Generator().manual_seed(seed)
    tensors = {}
    for name, module in unet.named_modules():
        if isinstance(module, torch.nn.Linear) and name.endswith(LORA_TARGET_MODULES):
            shape_down, shape_up = (rank, module.in_features), (module.out_features, rank)
            tensors[f"unet.{name}.lora.down.weight"] = (
                torch.randn(shape_down, generator=generator) * 0.01
            )
            tensors[f"unet.{name}.lora.up.weight"] = (
                torch.randn(shape_up, generator=generator) * 0.01
            )
    return safetensors.torch.save(tensors)


def _timed(action):
    started = time.perf_counter()
    action()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - started


def measure(model_dir, steps, seeds, size=512):
    """Cold load, warm render (after a warm-up render) and the mean adapter swap, in seconds."""
    settings = dict(
        prompt=PROMPT,
        negative_prompt="blurry",
        width=size,
        height=size,
        steps=steps,
        guidance=7.0,
        seeds=list(range(seeds)),
    )
    cold = _timed(lambda: load_pipeline(model_dir))
    pipe = load_pipeline(model_dir)
    render(model_dir, **settings)
    warm = _timed(lambda: render(model_dir, **settings))
    adapter = random_adapter(pipe.unet)

    def swap():
        with swapped_in(pipe, adapter):
            pass

    swap()
    swap_seconds = statistics.mean(_timed(swap) for _ in range(SWAPS))
    personal = _timed(lambda: render(model_dir, adapter=adapter, **settings))
    return {
        "size": size,
        "steps": steps,
        "seeds": seeds,
        "adapter_mb": len(adapter) / 2**20,
        "cold_load_s": cold,
        "warm_render_s": warm,
        "render_with_adapter_s": personal,
        "adapter_swap_seconds": swap_seconds,
        "swap_over_render": swap_seconds / warm,
    }


def _table(figures):
    lines = [f"device: {figures['device']}"]
    for name in ("tiny", "sd15"):
        if name in figures:
            part = figures[name]
            lines.append(
                f"{name} ({part['size']} px, {part['steps']} steps, {part['seeds']} seeds, "
                f"adapter {part['adapter_mb']:.1f} MB):\n"
                f"  cold load {part['cold_load_s']:8.3f} s\n"
                f"  warm render {part['warm_render_s']:6.3f} s"
                f" (with adapter {part['render_with_adapter_s']:.3f} s)\n"
                f"  adapter swap {part['adapter_swap_seconds']:5.3f} s"
                f" = {part['swap_over_render']:.1%} of a render"
            )
    return "\n".join(lines)


def main(argv=None):
    on_gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument(
        "--steps", type=int, default=25 if on_gpu else 20, help="denoising steps on the tiny model"
    )
    parser.add_argument(
        "--sd15-steps",
        type=int,
        default=25 if on_gpu else 1,
        help="denoising steps on the SD 1.5-shaped model (0: skip it)",
    )
    parser.add_argument("--seeds", type=int, default=4 if on_gpu else 1, help="images per render")
    parser.add_argument(
        "--model-dir", type=Path, help="where to build (or find) the SD 1.5-shaped model"
    )
    args = parser.parse_args(argv)
    figures = {"device": torch.cuda.get_device_name() if on_gpu else "cpu"}
    with tempfile.TemporaryDirectory(prefix="sitter-bench-") as scratch:
        tiny = build_tiny_sd15(Path(scratch) / "tiny-sd15")
        figures["tiny"] = measure(tiny, args.steps, args.seeds)
        if args.sd15_steps:
            full = build_full_sd15(args.model_dir or Path(scratch) / "sd15")
            figures["sd15"] = measure(full, args.sd15_steps, args.seeds)
    print(json.dumps(figures) if args.json else _table(figures))


if __name__ == "__main__":
    main()
