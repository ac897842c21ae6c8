"""`manage.py check --deploy` with the production settings the README gives (debug off, a secret
key of the operator's, HTTPS behind a proxy, the hosts named) finds nothing to warn about; the
same check without HTTPS and with debug on does warn, so it is really looking.

Run in a fresh process with only that environment: the test run's own settings module and
folders must not leak in. CI's PostgreSQL and Redis pass hands its DATABASE_URL and
SITTER_BROKER through, so the check runs against both setups."""

import base64
import json
import os
import secrets
import subprocess
import sys

from tests.conftest import REPO_ROOT


def check_deploy(tmp_path, **settings):
    """The README's production settings (its "Production" section), and ``settings``."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "SITTER_DATA_DIR": str(tmp_path / "data"),
        "SITTER_ALLOWED_HOSTS": "sitter.example.org",
        "SITTER_SECRET_KEY": secrets.token_urlsafe(50),
        "SITTER_KEK": base64.b64encode(os.urandom(32)).decode(),
        "SITTER_CLIENT_IP_HEADER": "HTTP_X_REAL_IP",
        "SITTER_BLOB_BACKEND": "django.core.files.storage.FileSystemStorage",
        "SITTER_BLOB_OPTIONS": json.dumps({"location": str(tmp_path / "blobs")}),
        **{
            name: os.environ[name]
            for name in ("DATABASE_URL", "SITTER_BROKER")
            if name in os.environ
        },
        **settings,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_production_settings_pass_the_deployment_check(tmp_path):
    done = check_deploy(tmp_path, SITTER_HTTPS="true")

    assert done.returncode == 0, done.stderr + done.stdout
    assert "System check identified no issues" in done.stdout


def test_without_https_and_with_debug_on_the_deployment_check_warns(tmp_path):
    done = check_deploy(tmp_path, SITTER_DEBUG="true")

    assert done.returncode != 0
    for warning in ("W004", "W008", "W012", "W016", "W018"):
        assert f"security.{warning}" in done.stderr
