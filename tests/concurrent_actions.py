"""One person's uploads, trainings and erasure request all at once, against a test's scratch
site (tests/test_concurrency.py):

    python -m tests.concurrent_actions SPEC_JSON

The person is made first (an account, consent to everything, a selfie, the ``prepared``
photos); then each action runs in a thread of its own, with its own database connection, as a
web request or a queue worker would, all let go at one moment, through the same service
functions. One JSON line says what each did.
"""

import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.db import connection  # noqa: E402

from audit.log import head  # noqa: E402
from consent import erasure_requests  # noqa: E402
from consent import services as consent_services  # noqa: E402
from consent.gate import ConsentRequired  # noqa: E402
from consent.models import ConsentRecord, ErasureRequest  # noqa: E402
from portrait import clone_job, services, tasks  # noqa: E402, F401 (ready to train at once)
from portrait.errors import Refused  # noqa: E402
from portrait.models import Job  # noqa: E402
from tests.conftest import grant_all  # noqa: E402


def as_upload(path):
    path = Path(path)
    return SimpleUploadedFile(path.name, path.read_bytes())


def upload(user, path):
    verdict = services.upload_photo(user, as_upload(path), method="api")
    return {"accepted": verdict.accepted, "reasons": [r["code"] for r in verdict.reasons]}


def train(user, _arg):
    """Start the clone, as the web would, and run its task, as a worker handed it would."""
    clone = services.start_clone(user)
    return {"clone": str(clone.pk), "task": tasks.train_clone(str(clone.job_id))}


def erase(user, when):
    """The person's erasure request, filed and processed; ``training``: once a training runs."""
    if when == "training":
        deadline = time.monotonic() + 300
        while not Job.objects.filter(
            subject__user=user, kind=Job.Kind.TRAIN, status=Job.Status.RUNNING, step__gt=0
        ).exists():
            if time.monotonic() > deadline:
                return {"error": "no training ran"}
            time.sleep(0.02)
    filed, _created = erasure_requests.file_request(user, channel=ErasureRequest.Channel.API)
    return {"status": erasure_requests.process_request(str(filed.pk))}


ACTIONS = {"upload": upload, "train": train, "erase": erase}


def prepare(username, selfie, photos):
    user = get_user_model().objects.create_user(username)
    grant_all(user, consent_services.active_policy(), method=ConsentRecord.Method.DEMO)
    services.record_selfie(user, as_upload(selfie), method="api")
    return user, sum(upload(user, photo)["accepted"] for photo in photos)


def at_once(user, actions):
    start = threading.Barrier(len(actions))
    results = [None] * len(actions)

    def act(index, name, arg):
        try:
            start.wait()
            results[index] = {"action": name, **ACTIONS[name](user, arg)}
        except Refused as refused:
            results[index] = {"action": name, "refused": refused.code}
        except ConsentRequired:
            results[index] = {"action": name, "refused": "consent_required"}
        except BaseException:
            results[index] = {"action": name, "error": traceback.format_exc()}
        finally:
            connection.close()

    threads = [
        threading.Thread(target=act, args=(index, name, arg))
        for index, (name, arg) in enumerate(actions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def main(spec):
    spec = json.loads(spec)
    user, accepted = prepare(spec["username"], spec["selfie"], spec["prepared"])
    before = head()[0]
    results = at_once(user, spec["actions"])
    print(json.dumps({"user": user.pk, "accepted": accepted, "head": before, "done": results}))


if __name__ == "__main__":
    main(sys.argv[1])
