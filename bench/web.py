"""Job-status benchmark: the live progress panel under load, with 6,000 jobs in the queue.

    python -m bench.web [--json] [--jobs 6000] [--seconds 10] [--connections 16]
                        [--workers 2] [--threads 1] [--postgres URL] [--cache URL]

A scratch database (a temporary SQLite file, or with --postgres a database created on that
server and dropped afterwards) is migrated, and ``--jobs`` people each get a queued job, in
bulk, plus a history of finished jobs for the ETA's medians. Gunicorn serves the site on
127.0.0.1 with the settings ``sitter_run`` serves it with (config/gunicorn.py, access log
included), ``--workers`` processes of ``--threads`` threads each and persistent database
connections: 2 single-threaded workers, as behind a buffering proxy, served the most on 2
cores. wrk, in a process of its own, requests the panel that the clone and gallery pages poll,
``GET /jobs/{id}/progress/``, logged in (a session cookie), for 200 people spread through the
queue in turn. Every answer is computed: the person's session and user, the job, its place in
the queue and its ETA from the jobs ahead (each process reads the queue at most once a second),
the recent durations (cached in the process for 10 s) and the live workers (5 s), rendered as
HTML.

Prints requests per second and p50/p99 latency, and the goal: 1,000 requests/s with p99 under
50 ms on this machine's 2 cores. Since other work on the machine takes its share of the cores,
it also prints the CPU time gunicorn spent per request, which that share changes much less,
and the load average as the load ends.
Without wrk (``apt-get install wrk``) a bounded Python client (one process per connection,
keep-alive) loads it instead.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import dj_database_url

from tests.local_server import free_port, wait_until_serving
from tests.scratch_database import scratch_database

REPO_ROOT = Path(__file__).resolve().parents[1]
GOAL_RPS = 1000
GOAL_P99_MS = 50
TARGETS = 200

POPULATE = """
import json, random, sys
from datetime import timedelta
import django
django.setup()
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.utils import timezone
from portrait.models import Job, Render, Subject

jobs, targets = int(sys.argv[1]), int(sys.argv[2])
rng = random.Random(1)
User = get_user_model()
password = make_password("bench-password")
users = User.objects.bulk_create(
    [User(username=f"bench-{n}", password=password) for n in range(jobs)], batch_size=2000)
subjects = Subject.objects.bulk_create([Subject(user=user) for user in users], batch_size=2000)
now = timezone.now()
kinds = [Job.Kind.TRAIN] * 3 + [Job.Kind.REFINE] + [Job.Kind.RENDER] * 6
queued = Job.objects.bulk_create(
    [Job(subject=subject, kind=rng.choice(kinds), queued_at=now - timedelta(seconds=jobs - n))
     for n, subject in enumerate(subjects)], batch_size=2000)
Render.objects.bulk_create(
    [Render(subject=job.subject, job=job, style=rng.choice(["business", "hanfu", "id_photo"]),
            seed=n) for n, job in enumerate(queued) if job.kind == Job.Kind.RENDER],
    batch_size=2000)
history = [Job(subject=subjects[n], kind=kind, status=Job.Status.DONE,
               queued_at=now - timedelta(days=1), started_at=now - timedelta(hours=2, seconds=s),
               finished_at=now - timedelta(hours=2))
           for n in range(50)
           for kind, s in ((Job.Kind.TRAIN, 300 + n), (Job.Kind.REFINE, 120 + n),
                           (Job.Kind.RENDER, 20 + n % 7))]
Job.objects.bulk_create(history)
Job.objects.bulk_create([Job(subject=subjects[-1 - n], kind=kind, status=Job.Status.RUNNING,
                             started_at=now - timedelta(seconds=30), step=10, total_steps=100)
                         for n, kind in enumerate((Job.Kind.TRAIN, Job.Kind.RENDER))])
# As autovacuum would have by the time such a queue has built up: statistics, and (PostgreSQL)
# the visibility map that lets a COUNT read the index alone.
with connection.cursor() as cursor:
    cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
chosen = []
for job in queued[:: max(1, jobs // targets)][:targets]:
    user = job.subject.user
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    chosen.append([f"/jobs/{job.pk}/progress/", session.session_key])
print(json.dumps(chosen))
"""

WRK_SCRIPT = """
local targets = {%s}
local threads = {}
local n = 0
not_ok = 0
setup = function(thread) table.insert(threads, thread) end
request = function()
  n = n + 1
  local t = targets[(n %% #targets) + 1]
  return wrk.format("GET", t[1], {["Cookie"] = "sessionid=" .. t[2], ["HX-Request"] = "true"})
end
response = function(status, headers, body)
  if status ~= 200 then not_ok = not_ok + 1 end
end
done = function(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("not_ok") end
  io.write(string.format("not 200: %%d\\n", total))
end
"""


def manage(env, *args, timeout=600):
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode:
        raise SystemExit(f"manage.py {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def check_answer(base, path, session):
    """One request before the load: the panel must show a real place in the queue."""
    request = urllib.request.Request(  # noqa: S310 (loopback)
        f"{base}{path}", headers={"Cookie": f"sessionid={session}"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (loopback)
        text = response.read().decode()
    match = re.search(r"(\d+) jobs? (?:is|are) ahead of yours", text)
    if response.status != 200 or not match or "Expected to start in" not in text:
        raise SystemExit(f"the panel did not show a queue position and ETA:\n{text[:2000]}")
    return int(match.group(1))


def cpu_seconds(pid):
    """CPU time used so far by a process and its children that are still running."""
    ticks = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = 0.0
    for each in [str(pid), *children]:
        try:
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def load_with_wrk(base, targets, seconds, connections, folder):
    script = folder / "targets.lua"
    script.write_text(WRK_SCRIPT % ", ".join(f'{{"{p}", "{s}"}}' for p, s in targets))
    done = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), base],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    out = done.stdout
    units = {"us": 0.001, "ms": 1.0, "s": 1000.0}

    def percentile(name):
        value, unit = re.search(rf"^\s+{name}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * units[unit]

    errors = re.search(r"not 200: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    return {
        "client": "wrk",
        "requests": int(re.search(r"(\d+) requests in", out).group(1)),
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50_ms": percentile(50),
        "p99_ms": percentile(99),
        "errors": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _client(args):
    host, port, targets, seconds, offset = args
    connection = http.client.HTTPConnection(host, port, timeout=10)
    latencies, errors = [], 0
    deadline = time.perf_counter() + seconds
    n = offset
    while time.perf_counter() < deadline:
        path, session = targets[n % len(targets)]
        n += 1
        start = time.perf_counter()
        connection.request(
            "GET", path, headers={"Cookie": f"sessionid={session}", "HX-Request": "true"}
        )
        response = connection.getresponse()
        response.read()
        latencies.append(time.perf_counter() - start)
        errors += response.status != 200
    return latencies, errors


def load_with_python(base, targets, seconds, connections):
    host, port = base.removeprefix("http://").split(":")
    with multiprocessing.Pool(connections) as pool:
        results = pool.map(
            _client, [(host, int(port), targets, seconds, n * 7) for n in range(connections)]
        )
    latencies = sorted(value * 1000 for part, _errors in results for value in part)
    return {
        "client": "python",
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1],
        "errors": sum(errors for _part, errors in results),
        "socket_errors": "",
    }


def run(options, database, folder):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_DATA_DIR": str(folder),
        "DATABASE_URL": database,
        "SITTER_BROKER": "orm",
        "SITTER_CACHE": options.cache or "",
        "SITTER_QUEUE_SYNC": "0",
        "SITTER_DEBUG": "false",
        "SITTER_DB_CONN_MAX_AGE": "600",
        "SITTER_LOG_LEVEL": "WARNING",
        # The queued jobs were never sent to the broker: without this, the workers' recovery
        # (portrait/recovery.py) would send all 6,000 again once they had waited this long.
        "SITTER_JOB_STALL_SECONDS": str(24 * 3600),
    }
    manage(env, "migrate", "--noinput")
    manage(env, "createcachetable")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    populate = subprocess.run(
        [sys.executable, "-c", POPULATE, str(options.jobs), str(TARGETS)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if populate.returncode:
        raise SystemExit(f"populating failed:\n{populate.stderr[-3000:]}")
    targets = json.loads(populate.stdout.strip().splitlines()[-1])
    # Idle queue workers, one cluster per queue as `sitter_run` starts them: the panel counts
    # the live workers from their stats. No task is queued for them, so they stay idle.
    workers = [
        subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=REPO_ROOT,
            env={**env, "Q_CLUSTER_NAME": queue, "OMP_NUM_THREADS": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for queue in ("train", "render")
    ]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            # As sitter_run serves the site, access log included (to nowhere).
            "--config",
            "python:config.gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(options.workers),
            "--threads",
            str(options.threads),
            "--log-level",
            "warning",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until_serving(f"{base}/accounts/login/", server, timeout=60)
        time.sleep(6)  # the clusters' first stats, and the panel's 5-second cache of them
        deepest = max(check_answer(base, path, session) for path, session in targets[-3:])
        use_wrk = shutil.which("wrk") and not options.python_client
        load = (
            (lambda s: load_with_wrk(base, targets, s, options.connections, folder))
            if use_wrk
            else (lambda s: load_with_python(base, targets, s, options.connections))
        )
        load(2)  # warm up: connections, caches, the workers' first imports
        before = cpu_seconds(server.pid)
        figures = load(options.seconds)
        figures["server_cpu_ms_per_request"] = (
            (cpu_seconds(server.pid) - before) * 1000 / max(1, figures["requests"])
        )
        # The 1-minute load average as the load ends: on a machine others share, their work
        # lowers the requests per second and still raises the CPU time per request (by up to a
        # fifth between runs minutes apart on this 2-core machine), so figures go with it.
        figures["load_average"] = os.getloadavg()[0]
    finally:
        for process in (server, *workers):
            process.terminate()
        for process in (server, *workers):
            process.wait(timeout=30)
    return {**figures, "deepest_position": deepest}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--jobs", type=int, default=6000)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="threads per worker; over 1, gunicorn's gthread worker",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="also run on PostgreSQL, in a scratch database on this server",
    )
    parser.add_argument(
        "--cache",
        metavar="URL",
        help="the cache every process shares, e.g. redis://127.0.0.1:6379/7 (else a table)",
    )
    parser.add_argument(
        "--python-client",
        action="store_true",
        help="load with the Python client even where wrk is installed",
    )
    options = parser.parse_args()

    results = {}
    with tempfile.TemporaryDirectory(prefix="sitter-bench-web-") as folder:
        folder = Path(folder)
        results["sqlite"] = run(options, f"sqlite:///{folder / 'bench.sqlite3'}", folder / "sqlite")
        if options.postgres:
            config = dj_database_url.parse(options.postgres)
            with scratch_database(config, "sitter_bench_web", None) as url:
                results["postgresql"] = run(options, url, folder / "postgresql")
    summary = {
        "endpoint": "GET /jobs/{id}/progress/ (htmx panel, session cookie)",
        "queued_jobs": options.jobs,
        "server": f"gunicorn {options.workers} workers x {options.threads} threads",
        "connections": options.connections,
        "seconds": options.seconds,
        "goal": {"rps": GOAL_RPS, "p99_ms": GOAL_P99_MS},
        **{
            name: {
                **figures,
                "meets_goal": figures["rps"] >= GOAL_RPS
                and figures["p99_ms"] < GOAL_P99_MS
                and not figures["errors"],
            }
            for name, figures in results.items()
        },
    }
    if options.json:
        print(json.dumps(summary))
        return
    print(
        f"{summary['endpoint']}, {options.jobs} jobs queued, {summary['server']}, "
        f"{options.connections} connections, {options.seconds} s"
    )
    print(
        f"{'database':<12}{'client':>8}{'req/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}"
        f"{'goal':>6}{'server CPU ms/req':>19}{'load':>6}"
    )
    for name, figures in results.items():
        met = "yes" if summary[name]["meets_goal"] else "no"
        print(
            f"{name:<12}{figures['client']:>8}{figures['rps']:>10.0f}"
            f"{figures['p50_ms']:>9.2f}{figures['p99_ms']:>9.2f}{figures['errors']:>8}"
            f"{met:>6}{figures['server_cpu_ms_per_request']:>19.2f}{figures['load_average']:>6.1f}"
        )
    print(f"goal: {GOAL_RPS} req/s with p99 under {GOAL_P99_MS} ms")


if __name__ == "__main__":
    main()
