"""A database of its own for tests and benchmarks whose server and workers run as separate
processes, so they cannot share the test's transaction."""

import contextlib
import uuid

import psycopg


@contextlib.contextmanager
def scratch_database(config, prefix, sqlite_path):
    """The URL of a fresh database: on the PostgreSQL server of ``config`` (a Django database
    setting) one named ``prefix`` plus a random suffix, dropped afterwards; else ``sqlite_path``."""
    if config["ENGINE"] != "django.db.backends.postgresql":
        yield f"sqlite:///{sqlite_path}"
        return
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    server = dict(
        host=config["HOST"],
        port=config["PORT"] or 5432,
        user=config["USER"],
        password=config["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    )
    with psycopg.connect(**server) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{config['USER']}@{config['HOST']}:{server['port']}/{name}"
    finally:
        with psycopg.connect(**server) as connection:
            connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
