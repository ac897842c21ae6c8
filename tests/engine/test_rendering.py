"""Rendering with the cached base pipeline and a person's adapter swapped in and out."""

import os
import tempfile

import numpy as np
import pytest

from portrait.engine.pipeline import load_pipeline
from portrait.engine.rendering import render
from portrait.engine.training import train_lora

PORTRAIT = dict(
    prompt="a photo of ohwx person, portrait",
    negative_prompt="blurry",
    width=128,
    height=160,
    steps=3,
    guidance=5.0,
    device="cpu",
)


def _pixels(images):
    return np.stack([np.asarray(image) for image in images])


def test_one_image_per_seed_at_the_requested_size(tiny_sd15):
    images = render(tiny_sd15, seeds=[1, 2, 3], **PORTRAIT)
    assert [image.size for image in images] == [(128, 160)] * 3
    pixels = _pixels(images)
    assert not np.array_equal(pixels[0], pixels[1])


def test_same_seeds_render_the_same_images(tiny_sd15):
    first = render(tiny_sd15, seeds=[7, 8], **PORTRAIT)
    again = render(tiny_sd15, seeds=[7, 8], **PORTRAIT)
    assert np.array_equal(_pixels(first), _pixels(again))


def test_adapter_changes_the_image(tiny_sd15, sd15_adapter):
    base = render(tiny_sd15, seeds=[5], **PORTRAIT)
    personal = render(tiny_sd15, seeds=[5], adapter=sd15_adapter, **PORTRAIT)
    assert not np.array_equal(_pixels(base), _pixels(personal))


def test_base_render_is_bit_identical_after_the_adapter_is_unloaded(tiny_sd15, sd15_adapter):
    before = render(tiny_sd15, seeds=[11], **PORTRAIT)
    render(tiny_sd15, seeds=[11], adapter=sd15_adapter, **PORTRAIT)
    after = render(tiny_sd15, seeds=[11], **PORTRAIT)
    assert np.array_equal(_pixels(before), _pixels(after))
    assert not load_pipeline(tiny_sd15, device="cpu").get_list_adapters()


def test_adapter_is_unloaded_when_the_render_fails(tiny_sd15, sd15_adapter):
    def stop(step, total):
        raise RuntimeError("cancelled")

    with pytest.raises(RuntimeError, match="cancelled"):
        render(tiny_sd15, seeds=[1], adapter=sd15_adapter, progress=stop, **PORTRAIT)
    assert not load_pipeline(tiny_sd15, device="cpu").get_list_adapters()


def test_adapter_at_scale_zero_renders_the_base_image(tiny_sd15, sd15_adapter):
    base = render(tiny_sd15, seeds=[3], **PORTRAIT)
    off = render(tiny_sd15, seeds=[3], adapter=sd15_adapter, adapter_scale=0.0, **PORTRAIT)
    assert np.array_equal(_pixels(base), _pixels(off))


def test_style_lora_mixes_with_the_person(tiny_sd15, photos, sd15_adapter, fast_config, tmp_path):
    style = tmp_path / "style.safetensors"
    style.write_bytes(train_lora(tiny_sd15, photos[:1], fast_config(seed=9)).adapter)
    person = render(tiny_sd15, seeds=[4], adapter=sd15_adapter, **PORTRAIT)
    styled = render(tiny_sd15, seeds=[4], adapter=sd15_adapter, style_lora=style, **PORTRAIT)
    assert not np.array_equal(_pixels(person), _pixels(styled))
    assert not load_pipeline(tiny_sd15, device="cpu").get_list_adapters()


def test_progress_is_reported_after_every_step(tiny_sd15):
    calls = []
    render(
        tiny_sd15,
        seeds=[1, 2],
        progress=lambda step, total: calls.append((step, total)),
        **PORTRAIT,
    )
    assert calls == [(1, 3), (2, 3), (3, 3)]


def test_sdxl_renders_with_its_adapter(tiny_sdxl, photos, fast_config):
    adapter = train_lora(tiny_sdxl, photos, fast_config()).adapter
    base = render(tiny_sdxl, seeds=[2], **PORTRAIT)
    personal = render(tiny_sdxl, seeds=[2], adapter=adapter, **PORTRAIT)
    after = render(tiny_sdxl, seeds=[2], **PORTRAIT)
    assert personal[0].size == (128, 160)
    assert not np.array_equal(_pixels(base), _pixels(personal))
    assert np.array_equal(_pixels(base), _pixels(after))


def test_size_must_be_a_multiple_of_8(tiny_sd15):
    with pytest.raises(ValueError, match="multiples of 8"):
        render(tiny_sd15, seeds=[1], **{**PORTRAIT, "width": 130})


def test_rendering_writes_nothing_to_disk(tiny_sd15, sd15_adapter, tmp_path, monkeypatch):
    scratch, work = tmp_path / "tmp", tmp_path / "cwd"
    scratch.mkdir()
    work.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    monkeypatch.chdir(work)
    render(tiny_sd15, seeds=[1], adapter=sd15_adapter, **PORTRAIT)
    assert os.listdir(scratch) == [] and os.listdir(work) == []
