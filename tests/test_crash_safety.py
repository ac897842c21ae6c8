"""Crash safety with real processes: queue workers and the web server are killed with SIGKILL
(the whole process group) in the middle of their work and started again, and nothing is lost,
nothing is made twice, nothing is left readable.

The random kills follow a fixed seed and a bounded count, both settable for longer runs:
``SITTER_TEST_KILLS`` (default 5) and ``SITTER_TEST_KILL_SEED``.
"""

import os
import random
import threading
import time
import uuid

import pytest

from audit.models import Action
from portrait.management.commands.sitter_run import QUEUES
from portrait.render_job import KEEP_PER_RENDER as KEEP
from tests.conftest import FACES
from tests.flow import SELFIE, SET
from tests.live_site import Person, scratch_site
from tests.plaintext import signatures_in, windows

pytestmark = pytest.mark.slow

KILLS = int(os.environ.get("SITTER_TEST_KILLS", "5"))
KILL_SEED = int(os.environ.get("SITTER_TEST_KILL_SEED", "9"))
CHECKPOINT_EVERY = 5
SITE_ENV = {
    "SITTER_MIN_PHOTOS": str(len(SET)),
    # Long enough to be killed after a checkpoint and well before the end.
    "SITTER_TRAIN_STEPS": "30",
    "SITTER_TRAIN_RESOLUTION": "128",
    "SITTER_TRAIN_CHECKPOINT_EVERY": str(CHECKPOINT_EVERY),
    "SITTER_RENDER_STEPS": "2",
    "SITTER_RENDER_CANDIDATES": "3",
    # Only a job that waited this long is sent to the queue again (workers on this host that
    # died are found at once, by their pid).
    "SITTER_JOB_STALL_SECONDS": "4",
    # The random kills may hit one job several times; giving up is tested on its own.
    "SITTER_JOB_MAX_ATTEMPTS": "50",
    "SITTER_RATE_LOGIN": "100/m",
}
ID_PHOTO = {"spec": "us_passport", "background": "white"}


@pytest.fixture(scope="module")
def site(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("crash-site")
    with scratch_site(root, "crash", SITE_ENV, tiny_model) as site:
        site.ensure("web", *QUEUES)
        yield site


def new_person(site):
    return Person(site, f"p{uuid.uuid4().hex[:10]}").sign_up().consent().upload_photos()


@pytest.fixture(scope="module")
def person(site):
    """A person with photos and no clone yet (the first test trains it)."""
    return new_person(site)


@pytest.fixture
def trained(person):
    assert person.wait_for(person.start_clone())["status"] == "done"
    return person


def wait(condition, timeout=240, every=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"still waiting after {timeout} s")


def clone_of(site, job_id):
    (row,) = site.query(
        "SELECT status, checkpoint_step, checkpoint_blob, subject_id FROM portrait_clone "
        "WHERE job_id = %s",
        uuid.UUID(job_id),
    )
    status, checkpoint_step, checkpoint_blob, subject = row
    return {
        "status": status,
        "checkpoint_step": checkpoint_step,
        "checkpoint_blob": checkpoint_blob,
        "subject": subject,
        "owner": str(uuid.UUID(str(subject))),
    }


def photos_of(site, clone):
    rows = site.query("SELECT COUNT(*) FROM portrait_photo WHERE subject_id = %s", clone["subject"])
    kinds = (f"{clone['owner']}/photo/", f"{clone['owner']}/signature/")
    return rows[0][0], len([name for name in site.stored_blobs() if name.startswith(kinds)])


def outputs_of(site, render_id):
    return site.query(
        "SELECT id, rank, seed, blob FROM portrait_output WHERE render_id = %s ORDER BY rank",
        uuid.UUID(render_id),
    )


def assert_nothing_readable_at_rest(site, plaintexts):
    """No image or adapter, and no window of what people uploaded or were given, anywhere in
    the data folder (but the public base model and static files) or the database."""
    stored = {
        str(path): path.read_bytes()
        for path in site.data.rglob("*")
        if path.is_file() and path.relative_to(site.data).parts[0] not in {"models", "static"}
    }
    blobs = [data for name, data in stored.items() if "/blobs/" in name]
    assert blobs and all(data.startswith(b"SITV") for data in blobs)
    secrets = [window for data in plaintexts for window in windows(data)]
    for where, data in {**stored, **site.database_bytes()}.items():
        assert signatures_in(data) == [], where
        assert not any(window in data for window in secrets), where


def uploaded():
    return [(FACES / name).read_bytes() for name in (SELFIE, *SET)]


def test_a_killed_training_resumes_from_its_checkpoint_in_a_new_worker(site, person):
    site.ensure("train")
    job_id = person.start_clone()
    all_uploads = (len(SET), 2 * len(SET))  # photo rows, photo and descriptor blobs

    def watched(done):
        """Checks that every upload is there until the clone is stored, until ``done``."""

        def check():
            uploads = photos_of(site, clone_of(site, job_id))
            clone = clone_of(site, job_id)  # after: the uploads go once the clone is stored
            assert clone["status"] == "ready" or uploads == all_uploads, uploads
            return done(clone)

        return check

    wait(watched(lambda clone: clone["checkpoint_step"] >= CHECKPOINT_EVERY))
    head = site.audit_head()
    site.kill("train")
    killed = clone_of(site, job_id)
    assert site.job(job_id)["status"] == "running"
    assert killed["status"] != "ready" and killed["checkpoint_blob"] in site.stored_blobs()
    assert photos_of(site, killed) == all_uploads

    site.start("train")
    wait(watched(lambda _clone: site.job(job_id)["status"] not in ("queued", "running")))
    assert site.job(job_id)["status"] == "done"
    # The new worker found the job its dead predecessor left and resumed it.
    assert site.audit_events(Action.CLONE_STARTED, after=head) == [
        {"attempt": 2, "from_step": killed["checkpoint_step"]}
    ]
    assert killed["checkpoint_step"] > 0
    done = clone_of(site, job_id)
    assert done["status"] == "ready"
    assert photos_of(site, done) == (0, 0)
    assert done["checkpoint_blob"] == ""
    assert not any(f"{done['owner']}/checkpoint/" in name for name in site.stored_blobs())
    assert_nothing_readable_at_rest(site, uploaded())


def test_a_killed_render_worker_leaves_no_duplicate_outputs(site, trained):
    person = trained
    site.ensure("render")
    # An ID photo frames each portrait after rendering: time to kill between two of them.
    render = person.request_render("id_photo", ID_PHOTO)
    before = wait(lambda: outputs_of(site, render["id"]), every=0.01)
    head = site.audit_head()
    site.kill("render")
    before = outputs_of(site, render["id"])
    assert len(before) < KEEP, "the render finished before the kill"

    site.start("render")
    job = person.wait_for(render["job"]["id"])
    assert job["status"] == "done", job
    assert site.audit_events(Action.RENDER_STARTED, after=head) == [
        {"attempt": 2, "outputs_kept": len(before)}
    ]
    after = outputs_of(site, render["id"])
    assert [rank for _id, rank, _seed, _blob in after] == list(range(1, KEEP + 1))
    assert len({seed for _id, _rank, seed, _blob in after}) == KEEP
    assert set(before) <= set(after)  # what was stored before the kill is kept as it was
    assert {blob for *_, blob in after} <= site.stored_blobs()
    downloads = [person.download(output) for output in person.outputs()]
    assert len(downloads) == KEEP
    assert all(person.verify(data, "portrait")["watermark"]["found"] for data in downloads)
    assert_nothing_readable_at_rest(site, uploaded() + downloads)


def flow(person, results):
    """One person's whole flow through the API: clone, two renders, every portrait fetched."""
    clone_job = person.start_clone()
    assert person.wait_for(clone_job)["status"] == "done"
    renders = [person.request_render("business"), person.request_render("id_photo", ID_PHOTO)]
    for render in renders:
        assert person.wait_for(render["job"]["id"])["status"] == "done"
    downloads = [(output, person.download(output)) for output in person.outputs()]
    jobs = [clone_job, *(render["job"]["id"] for render in renders)]
    results.append({"person": person, "renders": renders, "downloads": downloads, "jobs": jobs})


def test_the_flow_survives_random_kills_of_web_server_and_workers(site):
    site.ensure(*QUEUES)
    rng = random.Random(KILL_SEED)
    results, errors, enough = [], [], threading.Event()

    def people():
        try:
            while not enough.is_set():
                flow(new_person(site), results)
        except BaseException as error:
            errors.append(error)

    driver = threading.Thread(target=people)
    driver.start()
    kills = {"web": 0, "train": 0, "render": 0}
    try:
        for _kill in range(KILLS):
            time.sleep(rng.uniform(1, 6))
            if errors:
                break
            target = rng.choice(sorted(kills))
            site.kill(target)
            time.sleep(rng.uniform(0, 2))
            site.start(target)
            kills[target] += 1
    finally:
        enough.set()
        driver.join(timeout=900)
    assert not driver.is_alive(), "the flow did not finish"
    if errors:
        raise errors[0]
    survived = sum(kills.values())
    resumed = [
        (job_id, attempts)
        for result in results
        for job_id in result["jobs"]
        if (attempts := site.job(job_id)["attempts"]) > 1
    ]
    print(
        f"kills survived: {survived} {kills}; flows completed: {len(results)}; "
        f"jobs started again after a kill (id, attempts): {resumed}"
    )
    assert survived == KILLS and results

    # Every flow ended with its clone and its portraits, each made once and intact.
    assert site.query(
        "SELECT COUNT(*) FROM portrait_job WHERE status IN ('queued', 'running')"
    ) == [(0,)]
    for result in results:
        for render in result["renders"]:
            outputs = outputs_of(site, render["id"])
            assert [rank for _id, rank, _seed, _blob in outputs] == list(range(1, KEEP + 1))
            assert len({seed for _id, _rank, seed, _blob in outputs}) == KEEP
        assert len(result["downloads"]) == KEEP * len(result["renders"])
        for _output, data in result["downloads"]:
            verdict = result["person"].verify(data, "portrait")
            assert verdict["c2pa"]["state"] in ("Trusted", "Valid"), verdict
            assert verdict["watermark"]["found"], verdict
    # The uploads went once the clones were stored; no row names a blob that is not there.
    assert site.query("SELECT COUNT(*) FROM portrait_photo") == [(0,)]
    assert site.referenced_blobs() <= site.stored_blobs()
    site.manage("audit_verify")
    downloads = [data for result in results for _output, data in result["downloads"]]
    assert_nothing_readable_at_rest(site, uploaded() + downloads)
