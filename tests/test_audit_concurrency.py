"""Several processes appending at once never fork or break the chain: real processes, on a
database of the test's own (SQLite, or PostgreSQL when the suite runs on it)."""

import json
import os
import secrets
import subprocess
import sys

import pytest
from django.conf import settings

from tests.conftest import REPO_ROOT
from tests.scratch_database import scratch_database

pytestmark = pytest.mark.slow

WRITERS = 4
APPENDS = 60

# Each writer connects, says it is ready, waits for "go" so that all append at once, then
# appends through the service's own function.
WRITER = """
import sys, django
django.setup()
from django.db import connection
from audit.log import record
connection.ensure_connection()
writer, count = int(sys.argv[1]), int(sys.argv[2])
print("ready", flush=True)
sys.stdin.readline()
for n in range(count):
    record("render.queued", object_type="render", object_id=f"{writer}-{n}",
           details={"writer": writer, "n": n})
"""

# verify_chain over ranges in forked processes, each with a connection of its own.
VERIFY_IN_RANGES = """
import json, django
django.setup()
from audit.chain import verify_chain
print(json.dumps(verify_chain(workers=2, min_rows_per_range=25).as_dict()))
"""


@pytest.fixture
def database_url(tmp_path):
    with scratch_database(
        settings.DATABASES["default"], "sitter_audit", tmp_path / "audit.sqlite3"
    ) as url:
        yield url


@pytest.fixture
def env(tmp_path, database_url):
    key = tmp_path / "pseudonym.key"
    key.write_bytes(secrets.token_bytes(32))
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": database_url,
        "SITTER_PSEUDONYM_KEY_FILE": str(key),
    }
    python(["manage.py", "migrate", "audit", "--noinput"], env)
    return env


def python(args, env):
    done = subprocess.run(
        [sys.executable, *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def append_at_once(env):
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(n), str(APPENDS)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    for writer in writers:
        assert writer.stdout.readline().strip() == "ready", writer.stderr.read()[-3000:]
    for writer in writers:
        writer.stdin.write("go\n")
        writer.stdin.flush()
    for writer in writers:
        _out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err[-3000:]


def test_concurrent_writers_keep_one_unbroken_chain(env):
    append_at_once(env)

    report = json.loads(python(["manage.py", "audit_verify", "--json"], env))
    assert report["intact"], report
    assert report["count"] == WRITERS * APPENDS

    lines = [json.loads(line) for line in python(["manage.py", "audit_export"], env).splitlines()]
    events, head = lines[:-1], lines[-1]
    assert [event["seq"] for event in events] == list(range(1, WRITERS * APPENDS + 1))
    assert sorted((e["details"]["writer"], e["details"]["n"]) for e in events) == [
        (writer, n) for writer in range(WRITERS) for n in range(APPENDS)
    ]
    assert head == {
        "head_seq": WRITERS * APPENDS,
        "head_hash": report["head_hash"],
        "since": 0,
        "events": WRITERS * APPENDS,
    }

    in_ranges = json.loads(python(["-c", VERIFY_IN_RANGES], env))
    assert in_ranges == report
