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


@checks.register
def label_position_check(app_configs, **kwargs):
    from .provenance import LabelPosition

    allowed = [position.value for position in LabelPosition]
    return [
        checks.Error(f"{name} must be one of {', '.join(allowed)}, not {value!r}", id="sitter.E003")
        for name in ("SITTER_LABEL_POSITION", "SITTER_ID_PHOTO_LABEL_POSITION")
        if (value := getattr(settings, name)) not in allowed
    ]


@checks.register
def training_numbers_check(app_configs, **kwargs):
    names = (
        "SITTER_TRAIN_STEPS",
        "SITTER_TRAIN_RESOLUTION",
        "SITTER_TRAIN_RANK",
        "SITTER_TRAIN_ALPHA",
        "SITTER_TRAIN_LR",
        "SITTER_TRAIN_CHECKPOINT_EVERY",
        "SITTER_REFINE_STEPS",
        "SITTER_REFINE_RENDERS",
        "SITTER_RENDER_STEPS",
        "SITTER_RENDER_CANDIDATES",
    )
    return [
        checks.Error(
            f"{name} must not be negative (0 keeps the default), not {value}", id="sitter.E004"
        )
        for name in names
        if (value := getattr(settings, name)) < 0
    ]


@checks.register
def job_recovery_check(app_configs, **kwargs):
    errors = []
    if settings.SITTER_JOB_STALL_SECONDS <= 0:
        errors.append(
            checks.Error(
                "SITTER_JOB_STALL_SECONDS must be more than 0, not "
                f"{settings.SITTER_JOB_STALL_SECONDS}",
                id="sitter.E005",
            )
        )
    if settings.SITTER_JOB_MAX_ATTEMPTS < 1:
        errors.append(
            checks.Error(
                "SITTER_JOB_MAX_ATTEMPTS must be at least 1, not "
                f"{settings.SITTER_JOB_MAX_ATTEMPTS}",
                id="sitter.E005",
            )
        )
    return errors
