"""A Sitter site of a test's own, run by real processes that the test starts, kills and starts
again: the web server (``sitter_run --no-workers``) and a queue worker cluster per queue, each
in a process group of its own, over a scratch database and data folder.

People use it over HTTP as an API client would (``Person``), retrying while the web server is
down; the test reads the database directly to see what the service cannot be asked.
"""

import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import psycopg
import requests
from django.conf import settings

from portrait.management.commands.sitter_run import worker_command
from tests.conftest import FACES, REPO_ROOT
from tests.flow import SELFIE, SET
from tests.local_server import free_port, wait_until_serving
from tests.scratch_database import scratch_database


@contextlib.contextmanager
def scratch_site(root, name, env, tiny_model):
    """A set-up ``Site`` in ``root`` over a scratch database named after ``name``, on the tiny
    model; whatever processes it still runs at the end are killed."""
    with scratch_database(
        settings.DATABASES["default"], f"sitter_{name}", root / "site.sqlite3"
    ) as database_url:
        site = Site(root, database_url, {**env, "SITTER_BASE_MODEL": str(tiny_model)})
        site.set_up()
        try:
            yield site
        finally:
            site.kill_all()


class Site:
    def __init__(self, root, database_url, env):
        self.root = Path(root)
        self.data = self.root / "data"
        self.logs = self.root / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.database_url = database_url
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SITTER_DATA_DIR": str(self.data),
            "DATABASE_URL": database_url,
            "SITTER_QUEUE_SYNC": "0",
            # The queue lives in the site's own database whatever the run's broker: a shared
            # Redis would hand this site's tasks to any other test run's workers.
            "SITTER_BROKER": "orm",
            "SITTER_CACHE": "",
            "SITTER_WEB_WORKERS": "1",
        }
        self.processes = {}
        self.starts = {}

    def manage(self, *args, timeout=600):
        done = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert done.returncode == 0, (args, done.stdout[-2000:], done.stderr[-3000:])
        return done.stdout

    def set_up(self):
        for command in (["migrate", "--noinput"], ["sitter_setup"]):
            self.manage(*command)

    # --- processes ---

    def command(self, name):
        if name == "web":
            bind = f"127.0.0.1:{self.port}"
            return [sys.executable, "manage.py", "sitter_run", "--no-workers", "--bind", bind], {}
        command, env = worker_command(name)
        threads = {key: env[key] for key in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
        return command, {**threads, "Q_CLUSTER_NAME": name}

    def start(self, name):
        command, extra = self.command(name)
        self.starts[name] = self.starts.get(name, 0) + 1
        log = (self.logs / f"{name}.log").open("a")
        log.write(f"\n--- start {self.starts[name]} ---\n")
        log.flush()
        self.processes[name] = subprocess.Popen(
            command,
            cwd=REPO_ROOT,
            env={**self.env, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own, for kill()
        )
        log.close()
        if name == "web":
            wait_until_serving(f"{self.url}/", self.processes[name])

    def kill(self, name):
        """SIGKILL the whole process group: the cluster's sentinel, pusher, monitor and
        workers, or the supervisor, gunicorn's master and its workers."""
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def ensure(self, *names):
        for name in names:
            if name not in self.processes:
                self.start(name)

    def kill_all(self):
        for name in list(self.processes):
            self.kill(name)

    # --- the database, read directly ---

    @property
    def sqlite(self):
        return self.database_url.startswith("sqlite:")

    def query(self, sql, *params):
        """Rows of ``sql`` (placeholders %s; UUIDs given as uuid.UUID)."""
        params = [self._uuid(value) if isinstance(value, uuid.UUID) else value for value in params]
        if self.sqlite:
            path = self.database_url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as connection:
                return connection.execute(sql.replace("%s", "?"), params).fetchall()
        with psycopg.connect(self.database_url, autocommit=True) as connection:
            return connection.execute(sql, params).fetchall()

    def _uuid(self, value):
        # Django keeps UUIDs as 32 hex digits on SQLite, in a uuid column on PostgreSQL.
        return value.hex if self.sqlite else value

    def job(self, job_id):
        row = self.query(
            "SELECT status, step, attempts FROM portrait_job WHERE id = %s", uuid.UUID(job_id)
        )
        return dict(zip(("status", "step", "attempts"), row[0], strict=True)) if row else None

    def audit_head(self):
        return self.query("SELECT COALESCE(MAX(seq), 0) FROM audit_auditevent")[0][0]

    def audit_events(self, action, after=0):
        rows = self.query(
            "SELECT details FROM audit_auditevent WHERE action = %s AND seq > %s ORDER BY seq",
            action,
            after,
        )
        return [json.loads(details) if isinstance(details, str) else details for (details,) in rows]

    def referenced_blobs(self):
        """Every blob a row names (portrait.maintenance.referenced_blobs, read directly)."""
        columns = {
            "portrait_photo": ["blob", "signature_blob"],
            "portrait_clone": ["adapter_blob", "reference_blob", "checkpoint_blob"],
            "portrait_output": ["blob"],
            "portrait_subject": ["selfie_blob"],
        }
        names = set()
        for table, fields in columns.items():
            for field in fields:
                names.update(name for (name,) in self.query(f"SELECT {field} FROM {table}"))  # noqa: S608
        names.discard("")
        return names

    def database_bytes(self):
        """What the database holds at rest: its files on SQLite, every value on PostgreSQL."""
        if self.sqlite:
            path = Path(self.database_url.removeprefix("sqlite:///"))
            return {
                name.name: name.read_bytes()
                for name in (path, Path(f"{path}-wal"))
                if name.exists()
            }
        tables = self.query(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        )
        values = []
        for (table,) in tables:
            for row in self.query(f'SELECT * FROM "{table}"'):  # noqa: S608
                values += [
                    bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode()
                    for value in row
                    if value is not None
                ]
        return {"database rows": b"\n\x00\n".join(values)}

    def stored_blobs(self):
        folder = self.data / "blobs"
        return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


class Person:
    """Someone using the site through its API, as a client over a flaky network would: a
    request that finds the web server down is sent again once it is back."""

    def __init__(self, site, name):
        self.site = site
        self.username = name
        self.password = f"{name}-a-long-password-7"
        self.session = requests.Session()

    def request(self, method, path, *, patience=180, **kwargs):
        deadline = time.monotonic() + patience
        while True:
            try:
                return self.session.request(method, self.site.url + path, timeout=120, **kwargs)
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def upload(self, path, name):
        return self.request("POST", path, files={"file": (name, (FACES / name).read_bytes())})

    def sign_up(self):
        page = self.request("GET", "/accounts/signup/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        answer = self.request(
            "POST",
            "/accounts/signup/",
            data={
                "csrfmiddlewaretoken": token,
                "username": self.username,
                "password1": self.password,
                "password2": self.password,
            },
            allow_redirects=False,
        )
        # 400 saying the name is taken: an earlier try went through, its answer lost.
        assert answer.status_code == 302 or "already exists" in answer.text, answer.text[-500:]
        # From here on, as an API client: a token, no session cookie.
        self.session = requests.Session()
        token = self.request(
            "POST",
            "/api/v1/auth/token/",
            data={"username": self.username, "password": self.password},
        )
        assert token.status_code == 200, token.text
        self.session.headers["Authorization"] = f"Token {token.json()['token']}"
        return self

    def consent(self):
        policy = self.request("GET", "/api/v1/policy/").json()
        answer = self.request(
            "POST",
            "/api/v1/consents/",
            json={
                "policy_version": policy["version"],
                "policy_hash": policy["hash"],
                "purposes": [purpose["id"] for purpose in policy["purposes"]],
                "age_confirmed": True,
            },
        )
        assert answer.status_code == 201, answer.text
        return self

    def upload_photos(self, selfie=SELFIE, photos=SET):
        answer = self.upload("/api/v1/selfie/", selfie)
        assert answer.status_code == 201, answer.text
        for name in photos:
            answer = self.upload("/api/v1/photos/", name)
            # A repeated upload whose first answer was lost is refused as the same photo.
            reasons = [reason["code"] for reason in answer.json().get("reasons", [])]
            assert answer.status_code == 201 or reasons == ["near_duplicate"], answer.text
        return self

    def start_clone(self):
        ready = self.request("GET", "/api/v1/clones/")
        if ready.status_code == 200:
            return ready.json()["job"]["id"]
        answer = self.request("POST", "/api/v1/clones/")
        assert answer.status_code == 202, answer.text
        return answer.json()["job"]["id"]

    def request_render(self, style, options=None):
        body = {"style": style, **({"options": options} if options else {})}
        answer = self.request("POST", "/api/v1/renders/", json=body)
        assert answer.status_code == 202, answer.text
        return answer.json()

    def wait_for(self, job_id, timeout=300):
        """The job's last state once it has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.request("GET", f"/api/v1/jobs/{job_id}/").json()
            if job["status"] not in ("queued", "running"):
                return job
            time.sleep(0.5)
        raise AssertionError(f"job {job_id} still {job['status']} after {timeout} s")

    def outputs(self):
        return self.request("GET", "/api/v1/outputs/").json()

    def download(self, output):
        answer = self.request("GET", f"/api/v1/outputs/{output['id']}/download/")
        assert answer.status_code == 200, answer.status_code
        return answer.content

    def verify(self, data, name):
        answer = self.request("POST", "/api/v1/verify/", files={"file": (name, data)})
        assert answer.status_code == 200, answer.text
        return answer.json()
