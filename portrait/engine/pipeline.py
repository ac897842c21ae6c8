"""Loading a base Stable Diffusion model (SD 1.5 family or SDXL) from a local diffusers folder.

A worker process keeps exactly one loaded pipeline: loading a real model takes seconds and
gigabytes, so renders reuse it and only swap the person's small adapter in and out.
"""

import json
from pathlib import Path

import torch
from diffusers import (
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
)
from diffusers.models.attention_processor import AttnProcessor2_0

SD15 = "sd15"
SDXL = "sdxl"

# Folders that hold model weights; the others (tokenizer, scheduler) only hold configs.
_WEIGHT_FOLDERS = ("unet", "vae", "text_encoder", "text_encoder_2")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")

# The one pipeline this process keeps: ((model_dir, device, dtype), pipeline) or None.
_cached = None


class ModelNotFound(Exception):
    """The base model folder is missing, incomplete or not an SD 1.5 / SDXL diffusers folder."""

    def __init__(self, model_dir, problem):
        self.model_dir = Path(model_dir)
        super().__init__(
            f"No usable base model at {self.model_dir}: {problem}. Set SITTER_BASE_MODEL to a "
            "local diffusers folder of an SD 1.5 or SDXL model (or to 'tiny', the built-in test "
            "model)."
        )


def _model_index(model_dir):
    path = Path(model_dir) / "model_index.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelNotFound(model_dir, "model_index.json is missing") from None
    except (OSError, ValueError) as error:
        raise ModelNotFound(model_dir, f"model_index.json is unreadable ({error})") from None


def check_model_dir(model_dir):
    """Raise `ModelNotFound` unless `model_dir` holds every part its model_index.json names."""
    model_dir = Path(model_dir)
    index = _model_index(model_dir)
    for part, spec in index.items():
        if part.startswith("_") or not isinstance(spec, list) or spec[-1] is None:
            continue
        folder = model_dir / part
        if not folder.is_dir() or not any(folder.iterdir()):
            raise ModelNotFound(model_dir, f"the part '{part}' is missing")
        if part in _WEIGHT_FOLDERS and not any(
            file.name.endswith(_WEIGHT_SUFFIXES) for file in folder.iterdir()
        ):
            raise ModelNotFound(model_dir, f"the part '{part}' has no weights")
    detect_family(model_dir)


def detect_family(model_dir):
    """'sd15' or 'sdxl', read from the folder's model_index.json."""
    index = _model_index(model_dir)
    pipeline_class = index.get("_class_name", "")
    if pipeline_class.startswith("StableDiffusionXL") or "text_encoder_2" in index:
        return SDXL
    if pipeline_class.startswith("StableDiffusion"):
        return SD15
    raise ModelNotFound(model_dir, f"'{pipeline_class}' is not an SD 1.5 or SDXL pipeline")


def model_name(model_dir):
    """A short, stable name of the base model for provenance records: its folder name."""
    return Path(model_dir).resolve().name


def default_device():
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def default_dtype(device):
    """Half precision on a GPU (bf16 where supported: no fp16 overflow in the SDXL VAE), fp32 on
    CPU, where half precision is slower and less accurate."""
    device = torch.device(device)
    if device.type != "cuda":
        return torch.float32
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


def load_pipeline(model_dir, device=None, dtype=None):
    """The pipeline of `model_dir` on `device` in `dtype` (both chosen automatically if None).

    Kept in a single slot per process: the same arguments return the same object, other
    arguments replace it. The scheduler is DPM-Solver++ (2M, Karras sigmas), which gives clean
    images in 20–30 steps whatever scheduler the folder ships with.
    """
    global _cached
    model_dir = Path(model_dir).resolve()
    device = torch.device(device) if device is not None else default_device()
    dtype = dtype or default_dtype(device)
    key = (str(model_dir), str(device), dtype)
    if _cached is not None and _cached[0] == key:
        return _cached[1]
    # Drop the old pipeline before loading the new one so two never occupy memory at once.
    _cached = None
    check_model_dir(model_dir)
    if detect_family(model_dir) == SDXL:
        # The pipeline's own invisible watermark is off: provenance marks outputs itself.
        pipe = StableDiffusionXLPipeline.from_pretrained(
            model_dir,
            dtype=dtype,
            local_files_only=True,
            add_watermarker=False,
            image_encoder=None,
            feature_extractor=None,
        )
    else:
        pipe = StableDiffusionPipeline.from_pretrained(
            model_dir,
            dtype=dtype,
            local_files_only=True,
            safety_checker=None,
            feature_extractor=None,
            image_encoder=None,
            requires_safety_checker=False,
        )
    pipe.scheduler = DPMSolverMultistepScheduler.from_config(
        pipe.scheduler.config, algorithm_type="dpmsolver++", use_karras_sigmas=True
    )
    pipe.unet.set_attn_processor(AttnProcessor2_0())
    pipe.vae.set_attn_processor(AttnProcessor2_0())
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    _cached = (key, pipe)
    return pipe
