"""Tiny base models and photos, built once per test session."""

import numpy as np
import pytest
from PIL import Image

from portrait.engine.tiny import build_tiny_sd15, build_tiny_sdxl
from portrait.engine.training import TrainingConfig, train_lora


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("models")


@pytest.fixture(scope="session")
def tiny_sd15(models_dir):
    return build_tiny_sd15(models_dir / "tiny-sd15")


@pytest.fixture(scope="session")
def tiny_sdxl(models_dir):
    return build_tiny_sdxl(models_dir / "tiny-sdxl")


def make_photos(count, seed=0):
    """Deterministic stand-ins for face crops: smooth colour fields with a little noise."""
    rng = np.random.default_rng(seed)
    photos = []
    for _ in range(count):
        base = rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)
        field = np.asarray(Image.fromarray(base).resize((150, 180), Image.Resampling.BICUBIC))
        noise = rng.integers(-20, 21, field.shape)
        photos.append(Image.fromarray(np.clip(field + noise, 0, 255).astype(np.uint8)))
    return photos


@pytest.fixture(scope="session")
def photos():
    return make_photos(3)


@pytest.fixture(scope="session")
def fast_config():
    """TrainingConfig(**overrides) for a short run: few steps, small images and a learning rate
    large enough that a few steps visibly change renders. The code paths, not image quality,
    are under test."""

    def make(**overrides):
        settings = dict(steps=3, resolution=128, learning_rate=1e-2, checkpoint_every=1)
        return TrainingConfig(**{**settings, **overrides})

    return make


@pytest.fixture(scope="session")
def sd15_adapter(tiny_sd15, photos, fast_config):
    """A person's adapter, trained on the tiny SD 1.5 model."""
    return train_lora(tiny_sd15, photos, fast_config()).adapter
