import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

REPO_ROOT = Path(__file__).resolve().parents[1]
FACES = REPO_ROOT.parent / "shared" / "faces" / "known"


def pytest_sessionfinish(session, exitstatus):
    data_dir = Path(os.environ.get("SITTER_DATA_DIR", "."))
    if data_dir.name.startswith("sitter-test-") and data_dir.parent == Path(
        os.environ.get("TMPDIR", "/tmp")
    ):
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def tiny_model():
    from portrait.base_model import ensure_tiny_model

    return ensure_tiny_model()


@pytest.fixture(scope="session")
def signing(django_db_blocker):
    from portrait.signing import ensure_signing_material, signing_material

    ensure_signing_material()
    return signing_material()


@pytest.fixture
def policy(db):
    from consent.services import publish_policies

    return publish_policies()


@pytest.fixture
def user(db, django_user_model):
    return django_user_model.objects.create_user("ada", password="a-long-test-password-1")


@pytest.fixture
def other_user(db, django_user_model):
    return django_user_model.objects.create_user("bea", password="a-long-test-password-2")


def grant_all(user, policy, method="web"):
    from consent import services

    return services.grant(
        user,
        policy.purposes,
        policy_version=policy.version,
        policy_hash=policy.digest,
        age_confirmed=True,
        method=method,
    )


@pytest.fixture
def consenting_user(user, policy):
    grant_all(user, policy)
    return user


def face_bytes(name):
    return (FACES / name).read_bytes()


@pytest.fixture
def data_dir():
    return Path(settings.SITTER_DATA_DIR)


@pytest.fixture
def blob_folder(settings, tmp_path):
    """This test's blobs only, in a folder of its own, so what it stored can be checked."""
    folder = tmp_path / "blobs"
    settings.STORAGES = {
        **settings.STORAGES,
        "ciphertext": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(folder)},
        },
    }
    return folder
