"""Two uploads, two trainings and an erasure for the same person at once, each in a thread of
its own with its own database connection, leave a consistent state: the person's data is all
gone (no clone above all), at most one training ran, no blob is left that no row names, and the
audit chain holds. That runs on PostgreSQL only: it is where requests and workers really run
side by side (SQLite takes one writer at a time); the CI runs it in its PostgreSQL pass.

And a request caught up in an erasure is answered with a refusal that says so, not an error.
"""

import json
import subprocess
import sys
import uuid

import pytest
from django.conf import settings

from audit.models import Action
from consent import erasure_requests
from consent.models import ErasureRequest
from portrait.engine import faces
from portrait.erasure import erase_subject
from portrait.models import Photo, Subject
from tests.conftest import FACES, REPO_ROOT
from tests.flow import SELFIE, SET, upload, with_photos, with_selfie
from tests.live_site import scratch_site
from tests.test_erasure_api import api_for

postgresql_only = pytest.mark.skipif(
    settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql",
    reason="concurrent writers need PostgreSQL (SQLite serialises them); set DATABASE_URL",
)

SITE_ENV = {
    "SITTER_MIN_PHOTOS": "2",
    "SITTER_TRAIN_STEPS": "20",
    "SITTER_TRAIN_RESOLUTION": "128",
    "SITTER_TRAIN_CHECKPOINT_EVERY": "5",
}
PREPARED = ["obama_2.jpg", "obama_3.jpg"]
AT_ONCE = ["obama_4.jpg", "obama_5_480p.jpg"]


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("concurrency-site")
    with scratch_site(root, "concurrency", SITE_ENV, tiny_model) as site:
        yield site


def at_once(site, spec):
    """Run tests/concurrent_actions.py on ``spec``; what it reports."""
    done = subprocess.run(
        [sys.executable, "-m", "tests.concurrent_actions", json.dumps(spec)],
        cwd=REPO_ROOT,
        env=site.env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def held_of(site, user_id):
    """How many rows of each kind of personal data the person's subjects still have."""
    counts = {}
    for table in ("clone", "photo", "job", "output", "render", "datakey"):
        counts[table] = site.query(
            f"SELECT COUNT(*) FROM portrait_{table} t "  # noqa: S608
            "JOIN portrait_subject s ON s.id = t.subject_id WHERE s.user_id = %s",
            user_id,
        )[0][0]
    return counts


@pytest.mark.slow
@postgresql_only
@pytest.mark.parametrize("erase", ["at_once", "training"])
def test_uploads_trainings_and_erasure_at_once_leave_nothing_behind(site, erase):
    report = at_once(
        site,
        {
            "username": f"p{uuid.uuid4().hex[:10]}",
            "selfie": str(FACES / SELFIE),
            "prepared": [str(FACES / name) for name in PREPARED],
            "actions": [
                *(("upload", str(FACES / name)) for name in AT_ONCE),
                ("train", ""),
                ("train", ""),
                # "training": once a training has made a step, so that it is stopped mid-way.
                ("erase", erase),
            ],
        },
    )
    assert report["accepted"] == len(PREPARED)
    done = report["done"]
    assert not [result for result in done if "error" in result], done
    assert done[-1] == {"action": "erase", "status": "completed"}, done
    trainings = [result for result in done if result["action"] == "train"]
    # One clone at most was made, and it was trained by one of the two at most.
    assert len({result.get("clone") for result in trainings} - {None}) <= 1, done
    assert [result.get("task") for result in trainings].count("done") <= 1, done
    started = site.audit_events(Action.CLONE_STARTED, after=report["head"])
    assert len(started) <= 1, started
    if erase == "training":
        assert len(started) == 1, done
    assert held_of(site, report["user"]) == dict.fromkeys(
        ("clone", "photo", "job", "output", "render", "datakey"), 0
    )
    # Every blob that was written is named by a row or was destroyed, whatever the order.
    assert site.stored_blobs() == site.referenced_blobs() == set()
    site.manage("audit_verify")


@pytest.fixture
def checked_while(consenting_user, monkeypatch):
    """Sets what happens while an upload of ``consenting_user``'s is checked for a face."""
    with_photos(with_selfie(consenting_user), SET[:1])
    analyse = faces.analyse_photo

    def meanwhile(happening):
        def analyse_while_it_happens(*args, **kwargs):
            analysis = analyse(*args, **kwargs)
            happening(consenting_user)
            return analysis

        monkeypatch.setattr(faces, "analyse_photo", analyse_while_it_happens)

    return meanwhile


def erasure_request(user):
    erasure_requests.process_request(
        erasure_requests.file_request(user, channel=ErasureRequest.Channel.API)[0].pk
    )


def erased_by_the_operator(user):
    erase_subject(Subject.objects.get(user=user), reason="test")


@pytest.mark.parametrize(
    "happening, status, code",
    [(erasure_request, 403, "consent_required"), (erased_by_the_operator, 409, "erased")],
)
def test_an_upload_caught_up_in_an_erasure_is_refused_saying_why(
    consenting_user, checked_while, data_dir, happening, status, code
):
    checked_while(happening)
    owner = data_dir / "blobs" / str(consenting_user.subject.pk)
    answer = api_for(consenting_user).post("/api/v1/photos/", {"file": upload(SET[1])})
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert not Photo.objects.filter(subject__user=consenting_user).exists()
    assert not [path for path in owner.rglob("*") if path.is_file()]
