"""Audit log benchmark: append rate with concurrent writer processes, and verify rate.

    python -m bench.audit [--json] [--writers 4] [--appends N] [--events N] [--postgres URL]

On SQLite and on PostgreSQL, each in a scratch database of its own (a temporary file; a
database created on the server and dropped afterwards) with the audit tables migrated into it:

- append: ``--writers`` processes append ``--appends`` events each through ``audit.log.record``,
  all at once; events per second over the time from the first writer's start to the last one's
  end (and, for reference, one writer alone);
- verify: ``--events`` valid chained events (one person's whole flow, over and over) are
  bulk-inserted after those, then ``verify_chain`` walks the whole log, in one process and in
  one per core (as ``audit_verify`` does). Goal: 200,000 events/s.

Each phase runs in processes of its own, pointed at the scratch database by ``DATABASE_URL``.
Prints a table, or with --json one JSON line.
"""

import argparse
import hashlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import dj_database_url
import psycopg

REPO_ROOT = Path(__file__).resolve().parents[1]
VERIFY_GOAL = 200_000
DEFAULT_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres"

# One person's flow as (action, role, object type, details), with details of realistic size:
# the destruction event lists the ciphertext digests of 20 photos and their descriptors.
_DIGESTS = [hashlib.sha256(str(n).encode()).hexdigest() for n in range(40)]
FLOW = (
    [
        (
            "consent.granted",
            "person",
            "consentrecord",
            {
                "purposes": ["biometric", "keep_clone", "render"],
                "policy_version": 1,
                "method": "web",
            },
        ),
        ("selfie.recorded", "person", "subject", {"method": "web"}),
    ]
    + [("photo.accepted", "person", "photo", {"number": n, "method": "web"}) for n in range(1, 21)]
    + [("photo.rejected", "person", "subject", {"reasons": ["near_duplicate"], "method": "web"})]
    * 3
    + [
        ("clone.queued", "person", "clone", {"photos": 20}),
        ("clone.started", "system", "clone", {"attempt": 1}),
        ("clone.finished", "system", "clone", {"steps": 600, "seconds": 312.482}),
        (
            "uploads.destroyed",
            "system",
            "subject",
            {
                "reason": "clone_stored",
                "counts": {"photo": 20, "signature": 20},
                "ciphertext_sha256": _DIGESTS,
            },
        ),
    ]
    + [
        event
        for style in ("business", "id-photo", "hanfu", "watercolour", "film-noir")
        for event in (
            ("render.queued", "person", "render", {"style": style}),
            ("render.started", "system", "render", {"attempt": 1}),
            ("output.signed", "system", "output", {"watermark": "5a17c0de9e", "rank": 1}),
            ("output.signed", "system", "output", {"watermark": "5a17c0dea0", "rank": 2}),
            (
                "render.finished",
                "system",
                "render",
                {"style": style, "outputs": 2, "candidates": 4},
            ),
            ("output.downloaded", "person", "output", {}),
        )
    ]
    + [("staff.viewed", "officer", "clone", {"view": "change"})]
)

WRITER = """
import sys, time, json, django
django.setup()
from django.db import connection
from audit.log import record
connection.ensure_connection()
print("ready", flush=True)
sys.stdin.readline()
start = time.time()
for n in range(int(sys.argv[1])):
    record("render.queued", object_type="render", object_id=str(n), details={"n": n})
print(json.dumps({"start": start, "end": time.time()}), flush=True)
"""


def _env(data_dir, database_url):
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SITTER_DATA_DIR": str(data_dir),
        "DATABASE_URL": database_url,
        "SITTER_PSEUDONYM_KEY_FILE": str(data_dir / "pseudonym.key"),
    }


def _run(args, env):
    done = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])} failed: {done.stderr[-2000:]}")
    return done.stdout


def measure_appends(env, writers, appends):
    """Events per second that ``writers`` processes appending at once achieve together."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(appends)],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(writers)
    ]
    for process in processes:
        if process.stdout.readline().strip() != "ready":
            raise RuntimeError("an append writer did not start")
    for process in processes:
        process.stdin.write("go\n")
        process.stdin.flush()
    spans = []
    for process in processes:
        out, _err = process.communicate()
        if process.returncode != 0:
            raise RuntimeError("an append writer failed")
        spans.append(json.loads(out))
    seconds = max(s["end"] for s in spans) - min(s["start"] for s in spans)
    return writers * appends / seconds


def measure_backend(database_url, data_dir, writers, appends, events):
    env = _env(data_dir, database_url)
    _run(["manage.py", "migrate", "audit", "--noinput"], env)
    one_writer = measure_appends(env, 1, appends)
    together = measure_appends(env, writers, appends)
    verified = json.loads(
        _run(["-m", "bench.audit", "--verify-phase", "--events", str(events)], env)
        .strip()
        .splitlines()[-1]
    )
    return {
        "append_writers": writers,
        "append_events_per_s": round(together),
        "append_1_writer_events_per_s": round(one_writer),
        **verified,
    }


def _scratch_postgres(server_url):
    """(URL of a new empty database, a function that drops it)."""
    server = dj_database_url.parse(server_url)
    name = f"sitter_bench_audit_{uuid.uuid4().hex[:8]}"
    params = dict(
        host=server["HOST"] or "127.0.0.1",
        port=server["PORT"] or 5432,
        user=server["USER"],
        password=server["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with psycopg.connect(**params) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')

    def drop():
        with psycopg.connect(**params) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')

    password = f":{params['password']}" if params["password"] else ""
    url = f"postgres://{params['user']}{password}@{params['host']}:{params['port']}/{name}"
    return url, drop


def run(writers, appends, events, postgres_url):
    figures = {}
    with tempfile.TemporaryDirectory(prefix="sitter-bench-audit-") as tmp:
        data_dir = Path(tmp)
        (data_dir / "pseudonym.key").write_bytes(secrets.token_bytes(32))
        figures["sqlite"] = measure_backend(
            f"sqlite:///{data_dir / 'audit.sqlite3'}", data_dir, writers, appends, events
        )
        try:
            url, drop = _scratch_postgres(postgres_url)
        except psycopg.OperationalError as error:  # no server: a result, not a crash
            figures["postgresql"] = {"error": f"no PostgreSQL at {postgres_url}: {error}"}
        else:
            try:
                figures["postgresql"] = measure_backend(url, data_dir, writers, appends, events)
            finally:
                drop()
    figures["verify_goal_events_per_s"] = VERIFY_GOAL
    return figures


# --- the verify phase, in a process of its own pointed at the scratch database ---


def chained_rows(count, start_seq, prev_hash, start_at):
    """``count`` valid events after (start_seq, prev_hash), one person's flow over and over,
    as (seq, at, actor, role, action, object_type, object_id, details text, prev, hash)."""
    from audit.models import canonical_encoding, canonical_json

    flow = [
        (action, role, object_type, canonical_json(details))
        for action, role, object_type, details in FLOW
    ]
    sha256 = hashlib.sha256
    step = timedelta(milliseconds=7)
    for offset in range(count):
        seq = start_seq + offset
        person, index = divmod(offset, len(flow))
        action, role, object_type, details = flow[index]
        at = start_at + step * offset
        at_text = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        actor = "" if role == "system" else sha256(b"actor%d" % person).hexdigest()[:32]
        object_id = sha256(b"object%d" % seq).hexdigest()[:32]
        row_hash = sha256(
            canonical_encoding(
                prev_hash, seq, at_text, actor, role, action, object_type, object_id, details
            )
        ).hexdigest()
        yield seq, at, actor, role, action, object_type, object_id, details, prev_hash, row_hash
        prev_hash = row_hash


def bulk_insert(count):
    """Append ``count`` valid events after the log's head: COPY on PostgreSQL, executemany in
    batches on SQLite (which stores ``at`` as Django does: naive UTC text)."""
    from django.db import connection, transaction

    from audit.log import head
    from audit.models import AuditEvent

    last_seq, last_hash = head()
    rows = chained_rows(count, last_seq + 1, last_hash, datetime.now(UTC))
    columns = [f.column for f in AuditEvent._meta.concrete_fields]
    table = AuditEvent._meta.db_table
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with (
                connection.connection.cursor() as cursor,
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        sql = (
            f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (the model's names)
            f"VALUES ({', '.join(['?'] * len(columns))})"
        )
        batch = []
        for row in rows:
            batch.append((row[0], str(row[1].replace(tzinfo=None)), *row[2:]))
            if len(batch) == 50_000:
                connection.connection.executemany(sql, batch)
                batch.clear()
        connection.connection.executemany(sql, batch)


def verify_phase(events):
    """Bulk-insert, then walk the whole log in one process and in one per core (what
    ``audit_verify`` does by default)."""
    import django

    django.setup()
    from audit.chain import verify_chain

    started = time.perf_counter()
    bulk_insert(events)
    figures = {"insert_seconds": round(time.perf_counter() - started, 2)}
    for label, workers in (("1_process", 1), ("processes", os.cpu_count() or 1)):
        started = time.perf_counter()
        report = verify_chain(workers=workers)
        seconds = time.perf_counter() - started
        if not report.intact:
            raise RuntimeError(f"the benchmark's chain does not verify: {report.problem}")
        figures |= {
            "verify_events": report.count,
            f"verify_{label}": workers,
            f"verify_{label}_seconds": round(seconds, 3),
            f"verify_{label}_events_per_s": round(report.count / seconds),
        }
    return figures


def _table(figures):
    lines = [
        f"{'database':<12}{'append ev/s':>12}{'(1 writer)':>11}{'verify events':>15}"
        f"{'1 process ev/s':>16}{'N processes ev/s':>18}"
    ]
    for backend in ("sqlite", "postgresql"):
        row = figures[backend]
        if "error" in row:
            lines.append(f"{backend:<12}{row['error']}")
            continue
        lines.append(
            f"{backend:<12}{row['append_events_per_s']:>12,}"
            f"{row['append_1_writer_events_per_s']:>11,}{row['verify_events']:>15,}"
            f"{row['verify_1_process_events_per_s']:>16,}"
            f"{row['verify_processes_events_per_s']:>18,}"
        )
    sqlite = figures["sqlite"]
    lines.append(
        f"append: {sqlite['append_writers']} writer processes at once (and one alone); "
        f"verify: N = {sqlite['verify_processes']}; goal {VERIFY_GOAL:,} events/s"
    )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    parser.add_argument("--writers", type=int, default=4, help="concurrent append processes")
    parser.add_argument("--appends", type=int, default=500, help="events each writer appends")
    parser.add_argument("--events", type=int, default=1_000_000, help="events to verify")
    parser.add_argument(
        "--postgres",
        default=None,
        help=f"PostgreSQL server URL (default: DATABASE_URL if it is one, else {DEFAULT_POSTGRES})",
    )
    parser.add_argument("--verify-phase", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.verify_phase:
        print(json.dumps(verify_phase(args.events)))
        return
    postgres_url = args.postgres or os.environ.get("DATABASE_URL", "")
    if not postgres_url.startswith(("postgres://", "postgresql://")):
        postgres_url = DEFAULT_POSTGRES
    figures = run(args.writers, args.appends, args.events, postgres_url)
    print(json.dumps(figures) if args.json else _table(figures))


if __name__ == "__main__":
    main()
