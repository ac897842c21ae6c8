"""This site's C2PA signing material, from the settings.

A self-hosted install signs with a chain that :func:`init_signing` creates in
``SITTER_SIGNING_DIR``; an operator with a certificate of their own points
``SITTER_SIGNING_CERT`` and ``SITTER_SIGNING_KEY`` at it (and may name ``SITTER_TSA_URL``).
"""

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from django.dispatch import receiver

from .provenance.signing import (
    CHAIN_FILENAME,
    KEY_FILENAME,
    ROOT_FILENAME,
    SigningMaterialError,
    create_signing_chain,
    load_signing_material,
    write_signing_material,
)

DEFAULT_ORG = "Sitter self-hosted"
SIGNING_SETTINGS = {
    "SITTER_SIGNING_CERT",
    "SITTER_SIGNING_KEY",
    "SITTER_TSA_URL",
    "SITTER_SIGNING_DIR",
}


@dataclass(frozen=True)
class SigningFiles:
    """Where a signing chain lies, and whether :func:`init_signing` just created it.

    ``root`` is the trust anchor to give verifiers; None when the folder holds a chain without
    one (an operator's, whose root readers already trust).
    """

    chain: Path
    key: Path
    root: Path | None
    created: bool


def init_signing(directory=None, *, org=DEFAULT_ORG):
    """Create a root CA and an ES256 signing certificate in ``directory`` (the self-hosted
    chain's folder by default), unless a chain is already there: an existing one is never
    replaced, since verifiers were given its root."""
    directory = Path(directory or settings.SITTER_SIGNING_DIR)
    existed = any(
        (directory / name).exists() for name in (CHAIN_FILENAME, KEY_FILENAME, ROOT_FILENAME)
    )
    if not existed:
        write_signing_material(directory, create_signing_chain(org))
        signing_material.cache_clear()
    root = directory / ROOT_FILENAME
    return SigningFiles(
        chain=directory / CHAIN_FILENAME,
        key=directory / KEY_FILENAME,
        root=root if root.exists() else None,
        created=not existed,
    )


def _uses_self_hosted_chain():
    return Path(settings.SITTER_SIGNING_CERT).parent == Path(settings.SITTER_SIGNING_DIR)


def ensure_signing_material():
    """Create the self-hosted chain on first start (never replacing one) and check that the
    configured material loads; returns the files of a self-hosted chain, None for an
    operator's own."""
    files = init_signing() if _uses_self_hosted_chain() else None
    signing_material.cache_clear()
    signing_material()
    return files


@functools.cache
def signing_material():
    try:
        return load_signing_material(
            settings.SITTER_SIGNING_CERT, settings.SITTER_SIGNING_KEY, settings.SITTER_TSA_URL
        )
    except SigningMaterialError as error:
        raise ImproperlyConfigured(
            f"SITTER_SIGNING_CERT / SITTER_SIGNING_KEY: {error}. Run `python manage.py "
            "init_signing` to create a self-hosted chain, or point them at your own."
        ) from error


@receiver(setting_changed)
def _reload_on_setting_change(setting, **kwargs):
    if setting in SIGNING_SETTINGS:
        signing_material.cache_clear()


def trust_anchors():
    """The root to trust when verifying this site's outputs (None for an external CA)."""
    return signing_material().root_cert_pem
