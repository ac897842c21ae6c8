import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from portrait.services import styles


@pytest.fixture
def fresh_styles():
    styles.cache_clear()
    yield
    styles.cache_clear()


def test_unknown_face_threshold_fails_the_checks(settings):
    settings.SITTER_FACE_THRESHOLDS = {"selfie_match": 0.4}
    with pytest.raises(SystemCheckError, match="SITTER_FACE_THRESHOLDS"):
        call_command("check")


def test_broken_operator_style_fails_the_checks(settings, tmp_path, fresh_styles):
    (tmp_path / "bad.json").write_text("{not json")
    settings.SITTER_STYLES_DIR = str(tmp_path)
    with pytest.raises(SystemCheckError, match="bad.json"):
        call_command("check")


def test_default_settings_pass_the_checks(fresh_styles):
    call_command("check")


def test_unknown_label_corner_fails_the_checks(settings):
    settings.SITTER_LABEL_POSITION = "middle"
    with pytest.raises(SystemCheckError, match="SITTER_LABEL_POSITION"):
        call_command("check")


def test_negative_training_steps_fail_the_checks(settings):
    settings.SITTER_TRAIN_STEPS = -5
    with pytest.raises(SystemCheckError, match="SITTER_TRAIN_STEPS"):
        call_command("check")
