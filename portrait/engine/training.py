"""Training a person's clone: a DreamBooth-style LoRA adapter on the base model's UNet.

Unlike the public diffusers examples, which run the VAE and the text encoder at every step, the
images' latent distributions and the captions' embeddings are computed once at the start; each
step then only samples latents, adds noise and trains the UNet. Everything personal stays in
memory: images come in as PIL images, the adapter and checkpoints go out as bytes.
"""

import hashlib
import io
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

import numpy as np
import safetensors.torch
import torch
import torch.nn.functional as F
from diffusers import AutoencoderKL, DDPMScheduler, UNet2DConditionModel
from diffusers.optimization import get_scheduler
from diffusers.utils import convert_state_dict_to_diffusers, convert_unet_state_dict_to_peft
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict, set_peft_model_state_dict
from PIL import Image, ImageOps
from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from .pipeline import SDXL, check_model_dir, default_device, default_dtype, detect_family

# The attention projections, as in diffusers' train_dreambooth_lora.py: enough to learn a face.
LORA_TARGET_MODULES = ("to_k", "to_q", "to_v", "to_out.0")
NATIVE_RESOLUTION = {"sd15": 512, "sdxl": 1024}
CHECKPOINT_FORMAT = 1
# Training settings that may change between a checkpoint and its resumption.
_RESUMABLE_CHANGES = {"checkpoint_every"}
_PRECISIONS = {"no": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

log = logging.getLogger(__name__)


class TrainingCancelled(Exception):
    """`should_cancel()` asked the run to stop; raised between two steps."""

    def __init__(self, step):
        self.step = step
        super().__init__(f"training cancelled after step {step}")


@dataclass
class TrainingConfig:
    """How a clone is trained. Plain values only, so that `asdict` round-trips through JSON.

    Defaults, from the published face-LoRA recipes (see shared/REFERENCES.md):
    - rank 16, alpha 16: between FaceChain's rank 4 (small, and its users' first complaint is
      "does not look like me") and EasyPhoto's rank 128 (adapters of 100+ MB); alpha = rank
      keeps the LoRA scale at 1, as in diffusers' DreamBooth LoRA script.
    - learning rate 1e-4 with a cosine decay: diffusers' README example and EasyPhoto use 1e-4;
      FaceChain decays with a cosine.
    - steps 800 = EasyPhoto's cap; `default_steps` gives its min(photos x 200, 800).
    - batch 1 at the family's native size (512 px SD 1.5, 1024 px SDXL), as all three recipes.
    - AdamW and gradient clipping at 1.0 with diffusers' defaults.
    """

    rank: int = 16
    alpha: float = 16.0
    learning_rate: float = 1e-4
    lr_scheduler: str = "cosine"
    lr_warmup_steps: int = 0
    steps: int = 800
    # None: the model family's native size (NATIVE_RESOLUTION).
    resolution: int | None = None
    batch_size: int = 1
    seed: int = 0
    gradient_checkpointing: bool = False
    # The frozen base model's precision, "auto": bf16 (fp16 where bf16 is missing) on a GPU,
    # fp32 on CPU. The LoRA weights, their optimizer and the loss are always fp32.
    mixed_precision: str = "auto"
    checkpoint_every: int = 100
    # A rare token that the base model associates with almost nothing, bound to the person.
    instance_token: str = "ohwx"  # noqa: S105 (a word, not a secret)
    class_word: str = "person"
    # The loss weight of negative samples, like DreamBooth's prior-preservation weight.
    negative_weight: float = 1.0
    max_grad_norm: float = 1.0
    adam_weight_decay: float = 1e-2

    def __post_init__(self):
        for name in ("rank", "steps", "batch_size", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"TrainingConfig.{name} must be at least 1")
        if self.resolution is not None and (self.resolution < 64 or self.resolution % 8):
            raise ValueError("TrainingConfig.resolution must be a multiple of 8, at least 64")


@dataclass(frozen=True)
class Acceleration:
    """How steps run on a GPU. None of these changes what is learned beyond float rounding, so
    they are not part of `TrainingConfig` (a checkpoint resumes under other ones). On a CPU all
    are off. Measured with bench/gpu_check.sh (SD 1.5 shapes, 512 px, batch 1, H200), where
    two more candidates did not pay: cuDNN's algorithm timing (`cudnn.benchmark`) gave no faster
    steps (39.8 against 39.5 steps/s) and took up to 20 s more in a fresh process's first step;
    compiling the UNet's forward and backward with torch.compile took over 110 s, more than a
    whole 800-step clone takes without it.
    """

    # Capture one step's forward and backward as a CUDA graph after a few eager steps, and
    # replay it: a batch-1 step is thousands of small kernels, and launching them one by one
    # from Python took five times longer than the GPU took to run them (39.5 steps/s with the
    # graph, 7.5 without).
    cuda_graph: bool = True
    # NHWC activations for the UNet's convolutions, the tensor cores' own layout (39.5 steps/s,
    # 34.7 in NCHW).
    channels_last: bool = True

    @classmethod
    def for_device(cls, device, requested=None):
        if device.type != "cuda":
            return cls(cuda_graph=False, channels_last=False)
        return requested or cls()


@dataclass
class TrainingResult:
    """A finished clone: the adapter (safetensors bytes, diffusers LoRA format) and its record."""

    adapter: bytes
    steps: int
    seconds: float
    final_loss: float
    losses: list[float] = field(repr=False)
    config: dict


def default_steps(n_photos):
    """EasyPhoto's rule: 200 steps per photo, at most 800."""
    if n_photos < 1:
        raise ValueError("training needs at least one photo")
    return min(n_photos * 200, 800)


def caption(config):
    """The prompt that names the person, e.g. "a photo of ohwx person"."""
    return f"a photo of {config.instance_token} {config.class_word}"


def class_caption(config):
    """The prompt of the generic class, which negative samples are trained under."""
    return f"a photo of {config.class_word}"


@dataclass
class _Sample:
    image: Image.Image
    caption_index: int
    weight: float


def train_lora(
    model_dir,
    images: Sequence[Image.Image],
    config: TrainingConfig,
    *,
    progress: Callable[[int, int, float], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
    resume: bytes | None = None,
    on_checkpoint: Callable[[bytes, int], None] | None = None,
    init_adapter: bytes | None = None,
    extra_images: Sequence[tuple[Image.Image, float]] = (),
    negative_images: Sequence[Image.Image] = (),
    device=None,
    acceleration: Acceleration | None = None,
) -> TrainingResult:
    """Train a LoRA adapter of the person in `images` on the base model in `model_dir`.

    - `progress(step, total, loss)` is called after every step; `should_cancel()` before every
      step, and if it returns True the run raises `TrainingCancelled`.
    - `on_checkpoint(data, step)` receives an in-memory checkpoint every `checkpoint_every`
      steps; passing it back as `resume` (same images and config) continues the run, which
      ends with the same adapter as an uninterrupted run.
    - `init_adapter` continues from an adapter this function made before (same rank);
      `extra_images` are (image, loss weight) pairs trained under the person's caption;
      `negative_images` are trained under the class caption ("a photo of person") with
      `config.negative_weight`, so that what they show is attributed to the class, not the
      person.
    - `acceleration` overrides how steps run on a GPU (`Acceleration()` by default).
    """
    started = time.perf_counter()
    if not images:
        raise ValueError("training needs at least one photo")
    check_model_dir(model_dir)
    family = detect_family(model_dir)
    config = replace(config, resolution=config.resolution or NATIVE_RESOLUTION[family])
    device = torch.device(device) if device is not None else default_device()
    acceleration = Acceleration.for_device(device, acceleration)
    weight_dtype = _weight_dtype(config.mixed_precision, device)
    samples = [_Sample(image, 0, 1.0) for image in images]
    samples += [_Sample(image, 0, float(weight)) for image, weight in extra_images]
    samples += [_Sample(image, 1, config.negative_weight) for image in negative_images]
    pixels = np.stack([square_crop(sample.image, config.resolution) for sample in samples])
    digest = _data_digest(pixels, samples, config)
    cache = _encode_inputs(
        model_dir,
        family,
        pixels,
        [caption(config), class_caption(config)],
        config.resolution,
        device,
        weight_dtype,
    )
    weights = torch.tensor([sample.weight for sample in samples], device=device)
    caption_indices = torch.tensor([sample.caption_index for sample in samples], device=device)
    log.info("%d photos prepared and encoded in %.1f s", len(samples), _since(started))

    unet, params = _lora_unet(model_dir, config, device, weight_dtype, init_adapter, acceleration)
    generator = torch.Generator().manual_seed(config.seed)
    optimizer = torch.optim.AdamW(
        params,
        lr=config.learning_rate,
        weight_decay=config.adam_weight_decay,
        fused=device.type == "cuda",
    )
    lr_scheduler = get_scheduler(
        config.lr_scheduler,
        optimizer,
        num_warmup_steps=config.lr_warmup_steps,
        num_training_steps=config.steps,
    )
    scaler = torch.amp.GradScaler(device.type, enabled=weight_dtype == torch.float16)
    noise_scheduler = DDPMScheduler.from_pretrained(
        model_dir, subfolder="scheduler", local_files_only=True
    )
    order = _sample_order(len(samples), config, generator)

    losses, start = [], 0
    if resume is not None:
        start, losses = _restore_checkpoint(
            resume, config, digest, unet, optimizer, lr_scheduler, scaler, generator
        )

    latent_shape = (config.batch_size, *cache.latent_mean.shape[1:])

    def loss_and_gradients(batch, latent_noise, noise, timesteps):
        latents = cache.latent_mean[batch] + cache.latent_std[batch] * latent_noise
        latents = latents * cache.scaling_factor
        noisy = noise_scheduler.add_noise(latents, noise, timesteps)
        if noise_scheduler.config.prediction_type == "v_prediction":
            target = noise_scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        # No autocast: the frozen base already runs in `weight_dtype` and peft computes the fp32
        # LoRA branch in fp32. Autocast's per-op casts cost more than they save here, since a
        # batch-1 step is bound by per-op overhead (H200, eager: 6.7 steps/s without, 5.4 with).
        prediction = unet(
            noisy.to(weight_dtype), timesteps, **cache.conditioning(caption_indices[batch])
        ).sample
        per_sample = F.mse_loss(prediction.float(), target.float(), reduction="none")
        loss = (per_sample.mean(dim=(1, 2, 3)) * weights[batch]).mean()
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
        return loss.detach()

    # The gradient scaler reads its overflow check back to the host: no graph under fp16.
    runner = _StepRunner(
        loss_and_gradients,
        params,
        device,
        graph=acceleration.cuda_graph and not scaler.is_enabled(),
    )
    log.info("UNet ready %.1f s after the start", _since(started))
    for step in range(start, config.steps):
        if should_cancel is not None and should_cancel():
            raise TrainingCancelled(step)
        inputs = _step_inputs(
            order, step, latent_shape, noise_scheduler, generator, pinned=device.type == "cuda"
        )
        loss = runner(inputs)
        scaler.step(optimizer)
        scaler.update()
        lr_scheduler.step()
        if not runner.graphed:
            optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        done = step + 1
        if progress is not None:
            progress(done, config.steps, losses[-1])
        checkpoint_due = done % config.checkpoint_every == 0 and done < config.steps
        if on_checkpoint is not None and checkpoint_due:
            on_checkpoint(
                _checkpoint_bytes(
                    config, digest, done, losses, unet, optimizer, lr_scheduler, scaler, generator
                ),
                done,
            )

    return TrainingResult(
        adapter=_adapter_bytes(unet, config),
        steps=config.steps,
        seconds=time.perf_counter() - started,
        final_loss=losses[-1],
        losses=losses,
        config=asdict(config),
    )


def _lora_unet(model_dir, config, device, weight_dtype, init_adapter, acceleration):
    """The frozen UNet in `weight_dtype` with trainable fp32 LoRA layers; (unet, lora params)."""
    unet = UNet2DConditionModel.from_pretrained(
        model_dir, subfolder="unet", local_files_only=True, dtype=weight_dtype
    ).to(device)
    if acceleration.channels_last:
        unet.to(memory_format=torch.channels_last)
    unet.requires_grad_(False)
    # The initial LoRA weights come from the run's seed, not from the process's global RNG.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        unet.add_adapter(
            LoraConfig(
                r=config.rank,
                lora_alpha=config.alpha,
                init_lora_weights="gaussian",
                target_modules=list(LORA_TARGET_MODULES),
            )
        )
    # Master weights of the LoRA stay fp32 even when the frozen base runs in half precision
    # (cast before an init adapter is loaded into them, which would otherwise be rounded).
    params = [param for param in unet.parameters() if param.requires_grad]
    for param in params:
        param.data = param.data.float()
    if init_adapter is not None:
        _load_adapter_into(unet, init_adapter, config)
    if config.gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    unet.train()
    return unet, params


def _since(started):
    return time.perf_counter() - started


def _step_inputs(order, step, latent_shape, noise_scheduler, generator, pinned):
    """One step's samples and random draws, made on the host from the run's generator (so a
    run is the same on any device and resumes exactly): (batch, latent noise, noise,
    timesteps). Pinned for a GPU, so that copying them does not wait for the GPU."""
    batch_size = latent_shape[0]
    inputs = (
        order[step * batch_size : (step + 1) * batch_size],
        # Sample the latent distribution anew each step, as re-encoding would.
        torch.randn(latent_shape, generator=generator),
        torch.randn(latent_shape, generator=generator),
        torch.randint(
            0, noise_scheduler.config.num_train_timesteps, (batch_size,), generator=generator
        ),
    )
    return tuple(value.pin_memory() for value in inputs) if pinned else inputs


class _StepRunner:
    """Runs a step's forward and backward, `step(*inputs)`, on host-made inputs.

    With `graph`, on a GPU, the first `WARMUP` steps run eagerly (on a side stream, as PyTorch's
    CUDA graph notes ask, so that lazy initialisation stays out of the capture); the next one is
    captured as a CUDA graph with the gradients unset, so that the graph owns them and each
    replay overwrites them, and from then on each step is one replay on fixed input buffers.
    If capturing fails, the run goes on eagerly.
    """

    WARMUP = 3

    def __init__(self, step, params, device, graph):
        self.step = step
        self.params = params
        self.device = device
        self.want_graph = graph
        self.side_stream = torch.cuda.Stream(device) if graph else None
        self.graph = None
        self.eager_steps = 0

    @property
    def graphed(self):
        return self.graph is not None

    def __call__(self, inputs):
        if self.want_graph and self.graph is None and self.eager_steps >= self.WARMUP:
            self._capture(inputs)
        if self.graph is not None:
            for buffer, value in zip(self.static_inputs, inputs, strict=True):
                buffer.copy_(value, non_blocking=True)
            self.graph.replay()
            return self.static_loss
        self.eager_steps += 1
        on_device = [value.to(self.device, non_blocking=True) for value in inputs]
        if not self.want_graph:
            return self.step(*on_device)
        main = torch.cuda.current_stream(self.device)
        self.side_stream.wait_stream(main)
        with torch.cuda.stream(self.side_stream):
            loss = self.step(*on_device)
        main.wait_stream(self.side_stream)
        return loss

    def _capture(self, inputs):
        started = time.perf_counter()
        self.static_inputs = [value.to(self.device) for value in inputs]
        for param in self.params:
            param.grad = None
        graph = torch.cuda.CUDAGraph()
        try:
            with torch.cuda.graph(graph):
                self.static_loss = self.step(*self.static_inputs)
        except RuntimeError:
            log.warning("CUDA graph capture failed; training goes on step by step", exc_info=True)
            self.want_graph = False
            for param in self.params:
                param.grad = None
            return
        self.graph = graph
        log.info("training step captured as a CUDA graph in %.2f s", _since(started))


def _weight_dtype(mixed_precision, device):
    if mixed_precision == "auto":
        return default_dtype(device)
    try:
        return _PRECISIONS[mixed_precision]
    except KeyError:
        raise ValueError(
            f"mixed_precision must be 'auto' or one of {sorted(_PRECISIONS)}, "
            f"not {mixed_precision!r}"
        ) from None


def square_crop(image, resolution):
    """The image as the trainer sees it: scaled to cover a square of `resolution` px, centre
    cropped (faces arrive centred), RGB uint8 array of shape (resolution, resolution, 3)."""
    square = ImageOps.fit(
        image.convert("RGB"), (resolution, resolution), method=Image.Resampling.BICUBIC
    )
    return np.asarray(square, dtype=np.uint8)


def _data_digest(pixels, samples, config):
    """Fingerprint of exactly what is trained on, so a checkpoint resumes only its own run."""
    digest = hashlib.sha256(pixels.tobytes())
    digest.update(repr([(s.caption_index, s.weight) for s in samples]).encode())
    digest.update(f"{caption(config)}|{class_caption(config)}".encode())
    return digest.hexdigest()


def _sample_order(n_samples, config, generator):
    """Which sample each batch slot takes: a fresh shuffle of all samples per epoch."""
    needed = config.steps * config.batch_size
    epochs = math.ceil(needed / n_samples)
    return torch.cat([torch.randperm(n_samples, generator=generator) for _ in range(epochs)])


@dataclass
class _InputCache:
    """The run's fixed inputs, encoded once: latent distributions and caption embeddings."""

    latent_mean: torch.Tensor
    latent_std: torch.Tensor
    scaling_factor: float
    prompt_embeds: torch.Tensor
    pooled_embeds: torch.Tensor | None
    time_ids: torch.Tensor | None

    def conditioning(self, caption_indices):
        """The UNet's keyword arguments for a batch of captions."""
        kwargs = {"encoder_hidden_states": self.prompt_embeds[caption_indices]}
        if self.pooled_embeds is not None:
            kwargs["added_cond_kwargs"] = {
                "text_embeds": self.pooled_embeds[caption_indices],
                "time_ids": self.time_ids.expand(len(caption_indices), -1),
            }
        return kwargs


@torch.no_grad()
def _encode_inputs(model_dir, family, pixels, captions, resolution, device, dtype):
    """Run the VAE over the images and the text encoder(s) over the captions, once; the encoders
    are freed afterwards. They run in fp32 whatever the checkpoint's dtype: it is cheap once,
    and the SDXL VAE overflows in fp16."""
    vae = AutoencoderKL.from_pretrained(
        model_dir, subfolder="vae", local_files_only=True, dtype=torch.float32
    )
    vae.to(device).eval()
    means, stds = [], []
    for chunk in np.array_split(pixels, math.ceil(len(pixels) / 4)):
        batch = torch.from_numpy(chunk).to(device).permute(0, 3, 1, 2).float() / 127.5 - 1.0
        distribution = vae.encode(batch).latent_dist
        means.append(distribution.mean)
        stds.append(distribution.std)
    scaling_factor = vae.config.scaling_factor
    del vae

    encoders = [("tokenizer", "text_encoder", CLIPTextModel)]
    if family == SDXL:
        encoders.append(("tokenizer_2", "text_encoder_2", CLIPTextModelWithProjection))
    hidden, pooled = [], None
    for tokenizer_folder, encoder_folder, encoder_class in encoders:
        tokenizer = CLIPTokenizer.from_pretrained(
            model_dir, subfolder=tokenizer_folder, local_files_only=True
        )
        encoder = (
            encoder_class.from_pretrained(
                model_dir, subfolder=encoder_folder, local_files_only=True, dtype=torch.float32
            )
            .to(device)
            .eval()
        )
        ids = tokenizer(
            captions,
            padding="max_length",
            max_length=tokenizer.model_max_length,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(device)
        output = encoder(ids, output_hidden_states=True)
        if family == SDXL:
            # SDXL conditions on the penultimate layer of both encoders, side by side, and on
            # the second encoder's pooled projection.
            hidden.append(output.hidden_states[-2])
            pooled = getattr(output, "text_embeds", pooled)
        else:
            hidden.append(output.last_hidden_state)
        del encoder

    time_ids = None
    if family == SDXL:
        # (original size, crop top-left, target size): centred crops at the training size,
        # the same conditioning the pipeline uses when rendering.
        time_ids = torch.tensor(
            [[resolution, resolution, 0, 0, resolution, resolution]], dtype=dtype, device=device
        )
        pooled = pooled.to(dtype)
    return _InputCache(
        latent_mean=torch.cat(means),
        latent_std=torch.cat(stds),
        scaling_factor=scaling_factor,
        prompt_embeds=torch.cat(hidden, dim=-1).to(dtype),
        pooled_embeds=pooled,
        time_ids=time_ids,
    )


def _lora_scale(config):
    return config.alpha / config.rank


def _adapter_bytes(unet, config):
    """The UNet's LoRA as safetensors in diffusers' format ("unet." prefix).

    An in-memory state dict carries no LoRA alpha, and diffusers then assumes alpha = rank, so
    the scale alpha/rank is folded into the up-projections: the adapter loads as trained.
    """
    state = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    scale = _lora_scale(config)
    tensors = {
        f"unet.{key}": (value * scale if key.endswith("lora.up.weight") else value)
        .detach()
        .float()
        .cpu()
        .contiguous()
        for key, value in state.items()
    }
    return safetensors.torch.save(tensors)


def _load_adapter_into(unet, adapter, config):
    """Start from an adapter made by `_adapter_bytes` (the inverse of its scale folding)."""
    state = safetensors.torch.load(adapter)
    scale = _lora_scale(config)
    unet_state = {}
    for key, value in state.items():
        if not key.startswith("unet."):
            continue
        key = key.removeprefix("unet.")
        if key.endswith("lora.down.weight") and value.shape[0] != config.rank:
            raise ValueError(f"init_adapter has rank {value.shape[0]}, the config {config.rank}")
        unet_state[key] = value / scale if key.endswith("lora.up.weight") else value
    if not unet_state:
        raise ValueError("init_adapter holds no UNet LoRA weights")
    result = set_peft_model_state_dict(unet, convert_unet_state_dict_to_peft(unet_state))
    if result.unexpected_keys:
        raise ValueError(f"init_adapter does not fit this model: {result.unexpected_keys[:3]}")


def _checkpoint_bytes(
    config, digest, step, losses, unet, optimizer, lr_scheduler, scaler, generator
):
    buffer = io.BytesIO()
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": asdict(config),
            "data_digest": digest,
            "step": step,
            "losses": list(losses),
            "lora": {
                key: value.detach().cpu() for key, value in get_peft_model_state_dict(unet).items()
            },
            "optimizer": optimizer.state_dict(),
            "lr_scheduler": lr_scheduler.state_dict(),
            "grad_scaler": scaler.state_dict(),
            "rng": generator.get_state(),
        },
        buffer,
    )
    return buffer.getvalue()


def _restore_checkpoint(data, config, digest, unet, optimizer, lr_scheduler, scaler, generator):
    """Put a run back in the state `_checkpoint_bytes` saved; returns (step, losses)."""
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    if state.get("format") != CHECKPOINT_FORMAT:
        raise ValueError("resume: not a training checkpoint of this version")
    saved, current = state["config"], asdict(config)
    changed = sorted(
        name
        for name in (f.name for f in fields(TrainingConfig))
        if name not in _RESUMABLE_CHANGES and saved.get(name) != current[name]
    )
    if changed:
        raise ValueError(f"resume: the checkpoint was made with other settings: {changed}")
    if state["data_digest"] != digest:
        raise ValueError("resume: the checkpoint was made from other photos")
    set_peft_model_state_dict(unet, state["lora"])
    optimizer.load_state_dict(state["optimizer"])
    lr_scheduler.load_state_dict(state["lr_scheduler"])
    scaler.load_state_dict(state["grad_scaler"])
    generator.set_state(state["rng"])
    return state["step"], list(state["losses"])
