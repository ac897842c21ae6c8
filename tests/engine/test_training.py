"""Training a person's LoRA adapter: format, progress, cancelling, checkpoints and resuming."""

import os
import tempfile

import pytest
import safetensors.torch
import torch

from portrait.engine.training import (
    Acceleration,
    TrainingCancelled,
    TrainingConfig,
    caption,
    default_steps,
    train_lora,
)


def _tensors(adapter):
    return safetensors.torch.load(adapter)


def test_caption_names_the_instance_token_and_the_class():
    config = TrainingConfig(instance_token="sks", class_word="woman")
    assert caption(config) == "a photo of sks woman"


def test_default_steps_are_200_per_photo_up_to_800():
    assert default_steps(1) == 200
    assert default_steps(3) == 600
    assert default_steps(20) == 800
    with pytest.raises(ValueError):
        default_steps(0)


@pytest.mark.parametrize(
    "setting", [{"steps": 0}, {"checkpoint_every": 0}, {"rank": 0}, {"resolution": 100}]
)
def test_config_refuses_settings_that_cannot_train(setting):
    with pytest.raises(ValueError, match=next(iter(setting))):
        TrainingConfig(**setting)


def test_adapter_is_a_diffusers_unet_lora(tiny_sd15, sd15_adapter):
    tensors = _tensors(sd15_adapter)
    assert tensors
    assert all(key.startswith("unet.") and ".lora." in key for key in tensors)
    downs = [value for key, value in tensors.items() if key.endswith("lora.down.weight")]
    assert {down.shape[0] for down in downs} == {TrainingConfig().rank}


def test_result_records_steps_losses_and_a_reusable_config(tiny_sd15, photos, fast_config):
    result = train_lora(tiny_sd15, photos, fast_config(steps=2))
    assert result.steps == 2
    assert len(result.losses) == 2
    assert result.final_loss == result.losses[-1]
    assert result.seconds > 0
    assert TrainingConfig(**result.config).resolution == 128


def test_progress_is_reported_after_every_step(tiny_sd15, photos, fast_config):
    calls = []
    train_lora(
        tiny_sd15,
        photos,
        fast_config(),
        progress=lambda step, total, loss: calls.append((step, total, loss)),
    )
    assert [(step, total) for step, total, _loss in calls] == [(1, 3), (2, 3), (3, 3)]
    assert all(loss > 0 for *_rest, loss in calls)


def test_cancelling_stops_between_steps(tiny_sd15, photos, fast_config):
    steps_done = []
    with pytest.raises(TrainingCancelled) as cancelled:
        train_lora(
            tiny_sd15,
            photos,
            fast_config(),
            progress=lambda step, total, loss: steps_done.append(step),
            should_cancel=lambda: len(steps_done) == 2,
        )
    assert cancelled.value.step == 2
    assert steps_done == [1, 2]


def test_checkpoints_arrive_every_n_steps_as_bytes(tiny_sd15, photos, fast_config):
    checkpoints = []
    train_lora(
        tiny_sd15,
        photos,
        fast_config(steps=5, checkpoint_every=2),
        on_checkpoint=lambda data, step: checkpoints.append((type(data), step)),
    )
    assert checkpoints == [(bytes, 2), (bytes, 4)]


@pytest.mark.parametrize("model", ["tiny_sd15", "tiny_sdxl"])
def test_resumed_run_ends_with_the_same_adapter_as_an_uninterrupted_one(
    request, model, photos, fast_config
):
    model_dir = request.getfixturevalue(model)
    config = fast_config(steps=4, checkpoint_every=2)
    checkpoints = {}
    whole = train_lora(
        model_dir,
        photos,
        config,
        on_checkpoint=lambda data, step: checkpoints.setdefault(step, data),
    )
    resumed = train_lora(model_dir, photos, config, resume=checkpoints[2])
    assert resumed.adapter == whole.adapter
    assert resumed.losses == whole.losses


def test_resume_refuses_a_checkpoint_of_other_settings(tiny_sd15, photos, fast_config):
    checkpoints = []
    train_lora(
        tiny_sd15, photos, fast_config(), on_checkpoint=lambda data, step: checkpoints.append(data)
    )
    with pytest.raises(ValueError, match="learning_rate"):
        train_lora(tiny_sd15, photos, fast_config(learning_rate=1e-3), resume=checkpoints[0])


def test_resume_refuses_a_checkpoint_of_other_photos(tiny_sd15, photos, fast_config):
    checkpoints = []
    train_lora(
        tiny_sd15, photos, fast_config(), on_checkpoint=lambda data, step: checkpoints.append(data)
    )
    with pytest.raises(ValueError, match="other photos"):
        train_lora(tiny_sd15, photos[:2], fast_config(), resume=checkpoints[0])


def test_init_adapter_is_where_training_continues_from(
    tiny_sd15, photos, sd15_adapter, fast_config
):
    # With a zero learning rate nothing moves: the result is the adapter it started from.
    result = train_lora(
        tiny_sd15, photos, fast_config(learning_rate=0.0), init_adapter=sd15_adapter
    )
    start, end = _tensors(sd15_adapter), _tensors(result.adapter)
    assert start.keys() == end.keys()
    assert all(torch.allclose(start[key], end[key]) for key in start)


def test_half_precision_base_trains_an_fp32_lora(tiny_sd15, photos, sd15_adapter, fast_config):
    # The GPU path (bf16 base, fp32 LoRA), on CPU: the init adapter must not be rounded.
    config = fast_config(mixed_precision="bf16", learning_rate=0.0)
    result = train_lora(tiny_sd15, photos, config, init_adapter=sd15_adapter)
    start, end = _tensors(sd15_adapter), _tensors(result.adapter)
    assert all(torch.equal(start[key], end[key]) for key in start)
    assert {value.dtype for value in end.values()} == {torch.float32}


def test_gpu_accelerations_leave_cpu_training_as_it_is(tiny_sd15, photos, fast_config):
    # CUDA graphs and channels-last are GPU choices; asked for on a CPU, nothing changes.
    plain = train_lora(tiny_sd15, photos, fast_config(), device="cpu")
    asked = train_lora(
        tiny_sd15,
        photos,
        fast_config(),
        device="cpu",
        acceleration=Acceleration(cuda_graph=True, channels_last=True),
    )
    assert asked.adapter == plain.adapter


def test_init_adapter_of_another_rank_is_refused(tiny_sd15, photos, sd15_adapter, fast_config):
    with pytest.raises(ValueError, match="rank"):
        train_lora(tiny_sd15, photos, fast_config(rank=4), init_adapter=sd15_adapter)


def test_extra_images_scale_their_loss_by_their_weight(tiny_sd15, photos, fast_config):
    # A zero learning rate keeps the model fixed, so each step's loss depends only on the
    # sample, its noise (same seed) and its weight.
    config = fast_config(steps=4, learning_rate=0.0)
    person, extra = photos[:1], photos[1]
    single = train_lora(tiny_sd15, person, config, extra_images=[(extra, 1.0)]).losses
    double = train_lora(tiny_sd15, person, config, extra_images=[(extra, 2.0)]).losses
    doubled = [pytest.approx(2 * a) == b for a, b in zip(single, double, strict=True)]
    assert doubled.count(True) == 2  # two epochs of two samples: the extra one twice
    assert sum(a == b for a, b in zip(single, double, strict=True)) == 2


def test_negative_images_train_under_the_class_caption(tiny_sd15, photos, fast_config):
    config = fast_config(steps=4, learning_rate=0.0)
    person, other = photos[:1], photos[1]
    as_person = train_lora(tiny_sd15, person, config, extra_images=[(other, 1.0)]).losses
    as_class = train_lora(tiny_sd15, person, config, negative_images=[other]).losses
    same = [a == b for a, b in zip(as_person, as_class, strict=True)]
    assert same.count(True) == 2  # the person's own photo, same caption
    assert same.count(False) == 2  # the other photo, other caption


def test_sdxl_training_yields_a_unet_lora(tiny_sdxl, photos, fast_config):
    result = train_lora(tiny_sdxl, photos, fast_config(steps=2))
    assert all(key.startswith("unet.") for key in _tensors(result.adapter))


def test_training_writes_nothing_to_disk(tiny_sd15, photos, fast_config, tmp_path, monkeypatch):
    scratch, work = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir()
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(work)
    checkpoints = []
    train_lora(
        tiny_sd15, photos, fast_config(), on_checkpoint=lambda data, step: checkpoints.append(data)
    )
    assert checkpoints
    assert os.listdir(scratch) == [] and os.listdir(work) == []
