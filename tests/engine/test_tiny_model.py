"""The tiny base models, and loading a base model folder into the worker's one pipeline."""

import shutil

import pytest
import torch
from diffusers import StableDiffusionPipeline, StableDiffusionXLPipeline

from portrait.engine.pipeline import (
    ModelNotFound,
    detect_family,
    load_pipeline,
    model_name,
)
from portrait.engine.tiny import build_tiny_sd15


def _weights(model_dir):
    return (model_dir / "unet" / "diffusion_pytorch_model.safetensors").read_bytes()


def test_same_seed_builds_identical_weights(tmp_path, tiny_sd15):
    again = build_tiny_sd15(tmp_path / "again", seed=0)
    other = build_tiny_sd15(tmp_path / "other", seed=1)
    assert _weights(again) == _weights(tiny_sd15)
    assert _weights(other) != _weights(tiny_sd15)


def test_building_leaves_the_callers_random_state_alone(tmp_path):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    build_tiny_sd15(tmp_path / "model")
    assert torch.equal(torch.rand(3), expected)


def test_build_of_an_existing_model_returns_it_untouched(tiny_sd15):
    weights = tiny_sd15 / "unet" / "diffusion_pytorch_model.safetensors"
    before = weights.stat().st_mtime_ns
    assert build_tiny_sd15(tiny_sd15) == tiny_sd15
    assert weights.stat().st_mtime_ns == before


def test_crashed_build_leaves_no_half_model(tmp_path, monkeypatch):
    def crash(self, folder, **kwargs):
        (folder / "unet").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(StableDiffusionPipeline, "save_pretrained", crash)
    with pytest.raises(OSError, match="disk full"):
        build_tiny_sd15(tmp_path / "model")
    assert list(tmp_path.iterdir()) == []


def test_build_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_tiny_sd15(tmp_path / "model")


def test_tokenizer_tokenizes_any_prompt_without_unknown_tokens(tiny_sd15):
    pipe = load_pipeline(tiny_sd15, device="cpu")
    ids = pipe.tokenizer("a photo of ohwx person 穿汉服 😀 naïve").input_ids
    assert pipe.tokenizer.unk_token_id not in ids[1:-1]
    assert len(ids) > 10


def test_family_is_read_from_the_model_index(tiny_sd15, tiny_sdxl):
    assert detect_family(tiny_sd15) == "sd15"
    assert detect_family(tiny_sdxl) == "sdxl"


def test_model_name_is_the_folder_name(tiny_sd15):
    assert model_name(tiny_sd15) == "tiny-sd15"


def test_both_families_load_through_from_pretrained_with_an_8x_vae(tiny_sd15, tiny_sdxl):
    sd15 = load_pipeline(tiny_sd15, device="cpu")
    assert isinstance(sd15, StableDiffusionPipeline)
    assert sd15.vae_scale_factor == 8
    assert sd15.safety_checker is None
    sdxl = load_pipeline(tiny_sdxl, device="cpu")
    assert isinstance(sdxl, StableDiffusionXLPipeline)
    assert sdxl.vae_scale_factor == 8
    assert sdxl.watermark is None


def test_cpu_pipeline_runs_in_fp32(tiny_sd15):
    assert load_pipeline(tiny_sd15, device="cpu").unet.dtype == torch.float32


def test_pipeline_is_cached_in_a_single_slot(tiny_sd15, tiny_sdxl):
    first = load_pipeline(tiny_sd15, device="cpu")
    assert load_pipeline(tiny_sd15, device="cpu") is first
    load_pipeline(tiny_sdxl, device="cpu")
    assert load_pipeline(tiny_sd15, device="cpu") is not first


def test_missing_model_names_the_path_and_the_setting(tmp_path):
    with pytest.raises(ModelNotFound) as error:
        load_pipeline(tmp_path / "nowhere", device="cpu")
    assert str(tmp_path / "nowhere") in str(error.value)
    assert "SITTER_BASE_MODEL" in str(error.value)


def test_model_without_weights_is_not_found(tmp_path, tiny_sd15):
    broken = shutil.copytree(tiny_sd15, tmp_path / "broken")
    (broken / "unet" / "diffusion_pytorch_model.safetensors").unlink()
    with pytest.raises(ModelNotFound, match="'unet' has no weights"):
        load_pipeline(broken, device="cpu")
