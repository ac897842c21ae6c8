"""Shared fixtures: one signing chain and one signed portrait per test session."""

import pytest
import skimage.data
from PIL import Image

from bench.provenance import id_photo_sample
from portrait.provenance import ProvenanceConfig, apply_provenance, create_signing_chain

RENDER_ID = 0x5177E12


@pytest.fixture(scope="session")
def material():
    return create_signing_chain()


@pytest.fixture(scope="session")
def portrait() -> Image.Image:
    """A 512x512 RGB photo of a person (scikit-image's astronaut, shipped with the package)."""
    return Image.fromarray(skimage.data.astronaut()).resize((512, 512), Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def id_photo() -> Image.Image:
    """A 295x413 'ID photo': a face on an exactly uniform blue background (67, 142, 219)."""
    return id_photo_sample()


@pytest.fixture(scope="session")
def signed_jpeg(material, portrait):
    config = ProvenanceConfig(material=material, format="JPEG")
    return apply_provenance(
        portrait, render_id=RENDER_ID, style="business", base_model="tiny", config=config
    )
