"""The whole flow with real processes: ``sitter_demo`` against its own database, training and
rendering through real queue workers on the configured broker (ORM or Redis)."""

import json
import os
import shutil
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import FACES, REPO_ROOT
from tests.flow import SELFIE, SET
from tests.scratch_database import scratch_database

pytestmark = pytest.mark.slow


@pytest.fixture
def database_url(tmp_path):
    """A database of the test's own: the workers are separate processes."""
    with scratch_database(
        settings.DATABASES["default"], "sitter_e2e", tmp_path / "e2e.sqlite3"
    ) as url:
        yield url


def manage(*args, env, timeout=600):
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_demo_trains_and_renders_through_real_workers(tmp_path, database_url):
    photos = tmp_path / "photos"
    photos.mkdir()
    for name in SET:
        shutil.copy(FACES / name, photos / name)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "SITTER_QUEUE_SYNC": "0",
        "SITTER_MIN_PHOTOS": "3",
        "SITTER_TRAIN_STEPS": "6",
        "SITTER_RENDER_STEPS": "2",
        "SITTER_RENDER_CANDIDATES": "2",
    }
    for command in (["migrate", "--noinput"], ["sitter_setup"]):
        done = manage(*command, env=env)
        assert done.returncode == 0, done.stderr[-2000:]

    done = manage(
        "sitter_demo",
        "--photos",
        str(photos),
        "--selfie",
        str(FACES / SELFIE),
        "--out",
        str(tmp_path / "out"),
        "--json",
        "--timeout",
        "300",
        env=env,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])

    assert summary["accepted"] == 3
    assert summary["clone"]["steps"] == 6
    styles = {output["style"] for output in summary["outputs"]}
    assert len(styles) >= 10
    assert all(o["verify"]["c2pa"]["state"] == "Trusted" for o in summary["outputs"])
    assert all(o["verify"]["xmp_label"] for o in summary["outputs"])
    assert summary["audit"]["intact"]
    assert len(list((tmp_path / "out").iterdir())) == len(summary["outputs"])
