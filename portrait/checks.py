"""System checks: settings that would otherwise fail only when a person uploads or renders."""

from django.conf import settings
from django.core import checks

from .engine.styles import StyleError


@checks.register
def face_thresholds_check(app_configs, **kwargs):
    from .engine.faces import FaceThresholds

    try:
        FaceThresholds(**settings.SITTER_FACE_THRESHOLDS)
    except TypeError as error:
        return [checks.Error(f"SITTER_FACE_THRESHOLDS: {error}", id="sitter.E001")]
    return []


@checks.register
def styles_check(app_configs, **kwargs):
    from .services import styles

    styles.cache_clear()
    try:
        styles()
    except StyleError as error:
        return [checks.Error(f"SITTER_STYLES_DIR: {error}", id="sitter.E002")]
    return []
