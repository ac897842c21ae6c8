"""Which base model this site renders with: the built-in tiny one, or an operator's folder."""

from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

TINY = "tiny"


def tiny_model_dir():
    return Path(settings.SITTER_MODELS_DIR) / "tiny-sd15"


def base_model_dir():
    """The folder of the configured base model; a clear error if it is missing."""
    if settings.SITTER_BASE_MODEL == TINY:
        path = tiny_model_dir()
        hint = "run `python manage.py sitter_setup` to build the tiny model"
    else:
        path = Path(settings.SITTER_BASE_MODEL)
        hint = "point SITTER_BASE_MODEL at a local diffusers folder of an SD 1.5 or SDXL model"
    if not (path / "model_index.json").is_file():
        raise ImproperlyConfigured(f"SITTER_BASE_MODEL: no model at {path}: {hint}")
    return path


def base_model_name():
    if settings.SITTER_BASE_MODEL == TINY:
        return "sitter-tiny-sd15"
    return Path(settings.SITTER_BASE_MODEL).name


def ensure_tiny_model():
    """Build the tiny model once in the data folder (deterministic, no download)."""
    from portrait.engine.tiny import build_tiny_sd15

    return build_tiny_sd15(tiny_model_dir())
