"""This site's C2PA signing material, from the settings."""

import functools
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .provenance.signing import SigningMaterialError, load_signing_material, write_signing_material


def _uses_self_hosted_chain():
    return Path(settings.SITTER_SIGNING_CERT).parent == Path(settings.SITTER_SIGNING_DIR)


def ensure_signing_material():
    """Create the self-hosted chain on first start (never replacing one); returns its path."""
    if _uses_self_hosted_chain():
        write_signing_material(settings.SITTER_SIGNING_DIR)
    signing_material.cache_clear()
    signing_material()
    return settings.SITTER_SIGNING_CERT


@functools.cache
def signing_material():
    try:
        return load_signing_material(
            settings.SITTER_SIGNING_CERT, settings.SITTER_SIGNING_KEY, settings.SITTER_TSA_URL
        )
    except SigningMaterialError as error:
        raise ImproperlyConfigured(
            f"SITTER_SIGNING_CERT / SITTER_SIGNING_KEY: {error}. Run `python manage.py "
            "sitter_setup` to create a self-hosted chain, or point them at your own."
        ) from error


def trust_anchors():
    """The root to trust when verifying this site's outputs (None for an external CA)."""
    return signing_material().root_cert_pem
