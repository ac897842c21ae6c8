"""Training speed: the project's trainer against a plain diffusers-example loop.

Both train the same LoRA (rank, alpha, target modules, AdamW) on the same model, photos and
number of steps, in one run. The plain loop is what diffusers' train_dreambooth_lora.py does:
transform each photo, run the VAE and the text encoder again at every step, all in fp32. The
trainer encodes once and, on a GPU, runs the UNet in bf16.

    python -m bench.train [--json] [--tiny-steps N] [--sd15-steps N] [--clone] [--model-dir D]
                          [--ablate FIELD ...]

`--sd15-steps` trains an SD 1.5-shaped model (real sizes, random weights, built in a temporary
folder unless `--model-dir` names one to build or reuse); `--clone` times a whole 20-photo,
800-step clone on it. Steps per second are measured after the first SETTLE_STEPS steps (warm-up,
CUDA graph capture). On a GPU the trainer also runs with no `Acceleration` at all
(`trainer_eager`) and with each field that `--ablate` names flipped, on the same work; each
variant's losses and adapter are compared with the default trainer's.
"""

import argparse
import gc
import json
import logging
import tempfile
import time
from dataclasses import fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from peft import LoraConfig
from PIL import Image
from safetensors.torch import load
from transformers import CLIPTextModel, CLIPTokenizer

from portrait.engine.pipeline import default_device
from portrait.engine.tiny import build_full_sd15, build_tiny_sd15
from portrait.engine.training import (
    LORA_TARGET_MODULES,
    Acceleration,
    TrainingConfig,
    caption,
    square_crop,
    train_lora,
)

CLONE_PHOTOS = 20
CLONE_STEPS = 800
# Steps left out of the rate: the eager warm-up steps, the CUDA graph capture and a margin.
SETTLE_STEPS = 5
NO_ACCELERATION = Acceleration(cuda_graph=False, channels_last=False)


def synthetic_photos(count, size=600, seed=0):
    """Smooth random colour fields, a little larger than the training size."""
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        small = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
        photos.append(Image.fromarray(small).resize((size, size), Image.Resampling.BICUBIC))
    return photos


def _steady_rate(stamps):
    """Steps per second between the ends of step SETTLE_STEPS and of the last step (all steps
    after the first where a run is too short)."""
    settle = SETTLE_STEPS if len(stamps) > SETTLE_STEPS + 1 else 1
    if len(stamps) <= settle:
        return None
    return (len(stamps) - settle) / (stamps[-1] - stamps[settle - 1])


def run_trainer(model_dir, photos, config, device, acceleration=None):
    stamps = []
    started = time.perf_counter()
    result = train_lora(
        model_dir,
        photos,
        config,
        device=device,
        progress=lambda *_: stamps.append(time.perf_counter()),
        acceleration=acceleration,
    )
    return {
        "steps_per_s": _steady_rate(stamps),
        "seconds": time.perf_counter() - started,
        "to_first_step_s": stamps[0] - started,
        "final_loss": result.final_loss,
    }, result


def _difference(result, reference):
    """How far a variant's run is from the reference run: largest relative difference of a
    step's loss, and relative L2 difference of the whole adapter."""
    losses = torch.tensor(result.losses, dtype=torch.float64)
    reference_losses = torch.tensor(reference.losses, dtype=torch.float64)
    adapter, reference_adapter = (
        torch.cat([value.double().flatten() for _key, value in sorted(load(data).items())])
        for data in (result.adapter, reference.adapter)
    )
    return {
        "loss_max_rel_diff": ((losses - reference_losses).abs() / reference_losses.abs())
        .max()
        .item(),
        "adapter_rel_diff": (
            (adapter - reference_adapter).norm() / reference_adapter.norm()
        ).item(),
    }


def run_plain_loop(model_dir, photos, config, device):
    """The per-step work of diffusers' train_dreambooth_lora.py, in fp32."""
    started = time.perf_counter()
    load = dict(local_files_only=True, dtype=torch.float32)
    tokenizer = CLIPTokenizer.from_pretrained(
        model_dir, subfolder="tokenizer", local_files_only=True
    )
    text_encoder = CLIPTextModel.from_pretrained(model_dir, subfolder="text_encoder", **load)
    vae = AutoencoderKL.from_pretrained(model_dir, subfolder="vae", **load)
    unet = UNet2DConditionModel.from_pretrained(model_dir, subfolder="unet", **load)
    noise_scheduler = DDPMScheduler.from_pretrained(
        model_dir, subfolder="scheduler", local_files_only=True
    )
    for model in (text_encoder, vae, unet):
        model.requires_grad_(False)
        model.to(device)
    unet.add_adapter(
        LoraConfig(
            r=config.rank,
            lora_alpha=config.alpha,
            init_lora_weights="gaussian",
            target_modules=list(LORA_TARGET_MODULES),
        )
    )
    params = [param for param in unet.parameters() if param.requires_grad]
    optimizer = torch.optim.AdamW(
        params, lr=config.learning_rate, weight_decay=config.adam_weight_decay
    )
    generator = torch.Generator().manual_seed(config.seed)
    stamps = []
    for step in range(config.steps):
        photo = photos[step % len(photos)]
        pixels = torch.tensor(square_crop(photo, config.resolution)).permute(2, 0, 1)
        pixels = (pixels.float() / 127.5 - 1.0).unsqueeze(0).to(device)
        ids = tokenizer(
            caption(config),
            padding="max_length",
            truncation=True,
            max_length=tokenizer.model_max_length,
            return_tensors="pt",
        ).input_ids
        latents = vae.encode(pixels).latent_dist.sample() * vae.config.scaling_factor
        noise = torch.randn(latents.shape, generator=generator).to(device)
        timesteps = torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (1,), generator=generator
        ).to(device)
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        hidden = text_encoder(ids.to(device))[0]
        prediction = unet(noisy, timesteps, hidden).sample
        loss = F.mse_loss(prediction.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        loss.item()
        stamps.append(time.perf_counter())
    return {"steps_per_s": _steady_rate(stamps), "seconds": time.perf_counter() - started}


def compare(model_dir, photos, config, device, with_fp32_trainer=False, ablate=()):
    """The trainer and the plain loop on the same work; the plain loop is the reference."""
    figures = {"resolution": config.resolution, "steps": config.steps}
    figures["trainer"], reference = run_trainer(model_dir, photos, config, device)
    gc.collect()
    variants = {}
    if device.type == "cuda":
        variants["trainer_eager"] = (config, NO_ACCELERATION)
        for name in ablate:
            flipped = replace(Acceleration(), **{name: not getattr(Acceleration(), name)})
            variants[f"{name}={getattr(flipped, name)}"] = (config, flipped)
    if with_fp32_trainer:
        variants["trainer_fp32"] = (replace(config, mixed_precision="no"), None)
    for name, (variant_config, acceleration) in variants.items():
        figures[name], result = run_trainer(model_dir, photos, variant_config, device, acceleration)
        figures[name].update(_difference(result, reference))
        gc.collect()
    figures["plain_fp32"] = run_plain_loop(model_dir, photos, config, device)
    gc.collect()
    ours, reference_rate = figures["trainer"]["steps_per_s"], figures["plain_fp32"]["steps_per_s"]
    figures["speedup"] = ours / reference_rate if ours and reference_rate else None
    return figures


def _table(figures):
    lines = [f"device: {figures['device']}"]
    for name in ("tiny", "sd15"):
        if name not in figures:
            continue
        part = figures[name]
        lines.append(f"{name} ({part['resolution']} px, {part['steps']} steps):")
        for run, figures_of_run in part.items():
            if not isinstance(figures_of_run, dict):
                continue
            rate = figures_of_run["steps_per_s"]
            rate = f"{rate:8.2f} steps/s" if rate else "       - steps/s"
            line = f"  {run:<24} {rate}  {figures_of_run['seconds']:8.1f} s in all"
            if "adapter_rel_diff" in figures_of_run:
                line += f"  adapter off by {figures_of_run['adapter_rel_diff']:.1e}"
            lines.append(line)
        if part["speedup"]:
            lines.append(f"  trainer / plain: {part['speedup']:.2f}x")
    if "clone" in figures:
        clone = figures["clone"]
        lines.append(
            f"clone of {clone['photos']} photos, {clone['steps']} steps: "
            f"{clone['seconds']:.1f} s ({clone['steps_per_s']:.2f} steps/s, "
            f"first step done after {clone['to_first_step_s']:.1f} s)"
        )
    return "\n".join(lines)


def main(argv=None):
    on_gpu = torch.cuda.is_available()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--tiny-steps", type=int, default=100 if on_gpu else 40)
    parser.add_argument(
        "--sd15-steps",
        type=int,
        default=30 if on_gpu else 2,
        help="steps on the SD 1.5-shaped model at 512 px (0: skip)",
    )
    parser.add_argument(
        "--clone",
        action="store_true",
        help=f"time a {CLONE_PHOTOS}-photo, {CLONE_STEPS}-step clone",
    )
    parser.add_argument(
        "--model-dir", type=Path, help="where to build (or find) the SD 1.5-shaped model"
    )
    parser.add_argument(
        "--ablate",
        nargs="*",
        default=(),
        choices=[field.name for field in fields(Acceleration)],
        help="on a GPU, also train the SD 1.5-shaped model with each of these flipped",
    )
    args = parser.parse_args(argv)
    # The trainer logs where its time goes (encoding, loading, graph capture) to stderr.
    logging.basicConfig(level=logging.INFO, format="%(relativeCreated)8.0f ms %(message)s")
    device = default_device()
    figures = {"device": torch.cuda.get_device_name() if on_gpu else "cpu"}
    photos = synthetic_photos(4)
    with tempfile.TemporaryDirectory(prefix="sitter-bench-") as scratch:
        if args.tiny_steps:
            tiny = build_tiny_sd15(Path(scratch) / "tiny-sd15")
            config = TrainingConfig(steps=args.tiny_steps, resolution=256)
            figures["tiny"] = compare(tiny, photos, config, device)
        if args.sd15_steps or args.clone:
            full = build_full_sd15(args.model_dir or Path(scratch) / "sd15")
        if args.sd15_steps:
            config = TrainingConfig(steps=args.sd15_steps, resolution=512)
            figures["sd15"] = compare(
                full, photos, config, device, with_fp32_trainer=on_gpu, ablate=args.ablate
            )
        if args.clone:
            # The trainer's wall time covers loading, cropping and encoding the photos too.
            config = TrainingConfig(steps=CLONE_STEPS, resolution=512)
            run, _result = run_trainer(full, synthetic_photos(CLONE_PHOTOS, seed=1), config, device)
            figures["clone"] = {"photos": CLONE_PHOTOS, "steps": CLONE_STEPS, **run}
    print(json.dumps(figures) if args.json else _table(figures))


if __name__ == "__main__":
    main()
