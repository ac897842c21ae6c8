"""Tiny, randomly initialised SD 1.5- and SDXL-shaped pipelines, built from configs.

They let tests and the demo exercise the real code paths (the same `from_pretrained` loading,
LoRA training and adapter swapping as a real model) in seconds on a CPU with nothing to
download. Their images are noise-like patterns: they show the machinery works, not likeness.
`build_full_sd15` builds the same way at SD 1.5's real size, for benchmarks.
"""

import os
import shutil
import uuid
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    CLIPTokenizer,
)

from .pipeline import ModelNotFound, check_model_dir

BOS, EOS = "<|startoftext|>", "<|endoftext|>"
END_OF_WORD = "</w>"

# Words merged into single tokens so that style prompts fit CLIP's 77-token window; any other
# text still tokenizes, one byte per token.
_COMMON_WORDS = (
    "a",
    "an",
    "the",
    "of",
    "in",
    "on",
    "with",
    "and",
    "photo",
    "portrait",
    "ohwx",
    "person",
    "man",
    "woman",
    "face",
    "light",
    "lighting",
    "soft",
    "background",
    "studio",
    "style",
    "detailed",
    "high",
    "quality",
    "sharp",
    "focus",
    "wearing",
    "traditional",
    "dress",
    "blurry",
    "low",
    "ugly",
    "deformed",
    "bad",
    "anatomy",
    "watermark",
    "text",
)

# The usual 8x VAE (four blocks, three downsamples) and SD's latent scaling, with tiny widths.
_VAE = dict(
    in_channels=3,
    out_channels=3,
    latent_channels=4,
    block_out_channels=(8, 8, 16, 16),
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    layers_per_block=1,
    norm_num_groups=4,
    sample_size=512,
)
_UNET = dict(
    in_channels=4,
    out_channels=4,
    sample_size=64,
    layers_per_block=1,
    block_out_channels=(16, 32),
    norm_num_groups=8,
    # Attention only at the lower resolution keeps a 512 px render cheap (32x32 tokens).
    down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
    up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
    attention_head_dim=4,
)
_TEXT = dict(
    hidden_size=32,
    intermediate_size=64,
    num_hidden_layers=2,
    num_attention_heads=4,
    max_position_embeddings=77,
    projection_dim=32,
    hidden_act="quick_gelu",
)
# SD 1.5's real architecture: UNet of 860M parameters, VAE of 84M, CLIP ViT-L/14 text encoder.
_FULL_SD15_UNET = dict(
    in_channels=4,
    out_channels=4,
    sample_size=64,
    layers_per_block=2,
    block_out_channels=(320, 640, 1280, 1280),
    norm_num_groups=32,
    attention_head_dim=8,
    down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
)
_FULL_SD15_VAE = dict(
    _VAE, block_out_channels=(128, 256, 512, 512), layers_per_block=2, norm_num_groups=32
)
_FULL_SD15_TEXT = dict(
    hidden_size=768,
    intermediate_size=3072,
    num_hidden_layers=12,
    num_attention_heads=12,
    max_position_embeddings=77,
    projection_dim=768,
    hidden_act="quick_gelu",
)
# Stable Diffusion's training noise schedule; the pipeline loader picks the sampler.
_SCHEDULER = dict(
    num_train_timesteps=1000,
    beta_start=0.00085,
    beta_end=0.012,
    beta_schedule="scaled_linear",
    prediction_type="epsilon",
    steps_offset=1,
)


def _byte_alphabet():
    """GPT-2/CLIP's byte-to-unicode table: 256 printable characters, one per byte."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def _tokenizer():
    """A byte-level BPE CLIP tokenizer from an in-code vocabulary: every byte, alone and at a
    word's end, the special tokens, and merges for a few common prompt words."""
    alphabet = _byte_alphabet()
    tokens = [*alphabet, *(char + END_OF_WORD for char in alphabet)]
    merges = []
    for word in _COMMON_WORDS:
        symbols = [*word[:-1], word[-1] + END_OF_WORD]
        while len(symbols) > 1:
            merge = (symbols[0], symbols[1])
            if merge not in merges:
                merges.append(merge)
                tokens.append(symbols[0] + symbols[1])
            symbols = [symbols[0] + symbols[1], *symbols[2:]]
    tokens += [BOS, EOS]
    vocab = {token: index for index, token in enumerate(dict.fromkeys(tokens))}
    return CLIPTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _text_config(tokenizer, settings=_TEXT):
    return CLIPTextConfig(
        **settings,
        vocab_size=len(tokenizer),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )


def _sd15_pipeline(unet=_UNET, vae=_VAE, text=_TEXT):
    tokenizer = _tokenizer()
    return StableDiffusionPipeline(
        vae=AutoencoderKL(**vae, scaling_factor=0.18215),
        text_encoder=CLIPTextModel(_text_config(tokenizer, text)),
        tokenizer=tokenizer,
        unet=UNet2DConditionModel(**unet, cross_attention_dim=text["hidden_size"]),
        scheduler=DPMSolverMultistepScheduler(**_SCHEDULER),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )


def _full_sd15_pipeline():
    return _sd15_pipeline(_FULL_SD15_UNET, _FULL_SD15_VAE, _FULL_SD15_TEXT)


def _sdxl_pipeline():
    tokenizer = _tokenizer()
    text_encoder_2 = CLIPTextModelWithProjection(_text_config(tokenizer))
    time_embed_dim = 8
    unet = UNet2DConditionModel(
        **_UNET,
        # SDXL conditions on both encoders' hidden states side by side, plus the pooled
        # projection of the second and six size/crop numbers ("text_time" embedding).
        cross_attention_dim=2 * _TEXT["hidden_size"],
        use_linear_projection=True,
        transformer_layers_per_block=(1, 2),
        addition_embed_type="text_time",
        addition_time_embed_dim=time_embed_dim,
        projection_class_embeddings_input_dim=6 * time_embed_dim + _TEXT["projection_dim"],
    )
    return StableDiffusionXLPipeline(
        vae=AutoencoderKL(**_VAE, scaling_factor=0.13025),
        text_encoder=CLIPTextModel(_text_config(tokenizer)),
        text_encoder_2=text_encoder_2,
        tokenizer=tokenizer,
        tokenizer_2=_tokenizer(),
        unet=unet,
        scheduler=DPMSolverMultistepScheduler(**_SCHEDULER),
        add_watermarker=False,
    )


def _build(path, make_pipeline, seed):
    """Build atomically: save into a sibling folder, then rename it into place."""
    path = Path(path)
    try:
        check_model_dir(path)
        return path
    except ModelNotFound:
        if path.exists() and any(path.iterdir()):
            raise FileExistsError(f"{path} exists and is not a complete model; remove it") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.parent / f".{path.name}.building-{uuid.uuid4().hex}"
    try:
        # A private RNG stream: same seed, same weights, and the caller's RNG is left untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            pipeline = make_pipeline()
        pipeline.save_pretrained(staging, safe_serialization=True)
        try:
            os.replace(staging, path)
        except OSError:
            # Another process finished the same build first; its model is as good as ours.
            check_model_dir(path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path


def build_tiny_sd15(path, seed=0):
    """Build (once) a tiny SD 1.5-shaped diffusers folder at `path` and return its path."""
    return _build(path, _sd15_pipeline, seed)


def build_tiny_sdxl(path, seed=0):
    """Build (once) a tiny SDXL-shaped diffusers folder at `path` and return its path."""
    return _build(path, _sdxl_pipeline, seed)


def build_full_sd15(path, seed=0):
    """Build (once) a randomly initialised pipeline of SD 1.5's real shapes and sizes (about
    4 GB in fp32), to measure speed and memory as a real model would use them."""
    return _build(path, _full_sd15_pipeline, seed)
