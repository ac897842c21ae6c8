"""Fixtures for the face tests: the real photos in shared/faces/known, analysed once a session.

Test modules load them with ``pytest_plugins = ["tests.engine.faces_fixtures"]``: they are
kept out of conftest.py, which belongs to the training and rendering tests.
"""

import functools
from pathlib import Path

import pytest

from portrait.engine.faces import PhotoAnalysis, analyse_photo
from portrait.engine.images import load_upload

KNOWN_FACES = Path(__file__).resolve().parents[2].parent / "shared" / "faces" / "known"


@functools.cache
def _known_bytes(stem: str) -> bytes:
    (path,) = [p for p in KNOWN_FACES.glob(f"{stem}.*") if p.suffix in (".jpg", ".png")]
    return path.read_bytes()


@pytest.fixture(scope="session")
def known_photo():
    """known_photo(stem) -> that known photo ("obama_1") through the upload path: RGB,
    orientation applied, no metadata. A fresh image each call, so tests may change it."""
    return lambda stem: load_upload(_known_bytes(stem))


@pytest.fixture(scope="session")
def analysed(known_photo):
    """analysed(stem) -> PhotoAnalysis of that known photo, computed once per session."""
    cache: dict[str, PhotoAnalysis] = {}

    def get(stem: str) -> PhotoAnalysis:
        if stem not in cache:
            cache[stem] = analyse_photo(known_photo(stem))
        return cache[stem]

    return get
