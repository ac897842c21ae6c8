"""Verifying the audit chain.

The database assembles each row's canonical encoding (``models.canonical_encoding``) itself,
from the canonical JSON text it stores and ``at`` written in canonical form, so the walk only
receives (seq, encoding, hash) and hashes the bytes as they come: nothing is parsed or
re-encoded in Python, and an encoding that differs from Python's in any byte fails the check.

A long log can be walked in several processes at once, each taking a range of sequence
numbers; each checks its own rows and the links inside its range, and the links across range
borders are checked when the ranges are put together.
"""

import hashlib
import multiprocessing
from contextlib import contextmanager
from dataclasses import dataclass

from django.db import connection, connections, transaction

from .models import GENESIS_HASH, AuditEvent

# A range smaller than this is not worth a process of its own.
MIN_ROWS_PER_RANGE = 50_000


@dataclass
class ChainReport:
    intact: bool
    count: int
    head_hash: str
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self):
        return {
            "intact": self.intact,
            "count": self.count,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


@dataclass
class _Walk:
    """What walking one range of sequence numbers found."""

    first_link: bytes | None  # the first row's stored previous hash + newline (range > 1)
    last_hash: str | None  # the hash of the last good row
    last_seq: int  # the sequence number of the last good row
    bad_seq: int | None = None
    problem: str = ""


def _encoding_sql():
    """SQL for a row's canonical encoding as UTF-8 bytes, and the column names it uses."""
    opts = AuditEvent._meta
    quote = connection.ops.quote_name
    column = {field.name: quote(field.column) for field in opts.concrete_fields}
    at = column["at"]
    if connection.vendor == "postgresql":
        at_text = f"""to_char({at} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""
        seq_text, newline = f"{column['seq']}::text", "E'\\n'"
    elif connection.vendor == "sqlite":
        # Django stores UTC as "YYYY-MM-DD HH:MM:SS[.ffffff]", without a fraction when it is 0.
        at_text = (
            f"substr({at}, 1, 10) || 'T' || substr({at}, 12, 8) || '.' || "
            f"substr(substr({at}, 21) || '000000', 1, 6) || 'Z'"
        )
        seq_text, newline = column["seq"], "char(10)"
    else:
        raise NotImplementedError(f"no audit chain verification for {connection.vendor}")
    fields = [column["prev_hash"], seq_text, at_text] + [
        column[name] for name in ("actor", "role", "action", "object_type", "object_id", "details")
    ]
    text = f" || {newline} || ".join(fields)
    encoded = (
        f"convert_to({text}, 'UTF8')"
        if connection.vendor == "postgresql"
        else f"CAST({text} AS BLOB)"
    )
    return encoded, column, quote(opts.db_table)


@contextmanager
def _streamed(sql, params):
    """A cursor over the query's rows that does not hold them all in memory: on PostgreSQL a
    server-side one, in binary (bytes arrive as they are, not as hex text), in a transaction
    so that it streams instead of materialising the whole result first."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            yield cursor
        return
    with transaction.atomic():
        connection.ensure_connection()
        with connection.connection.cursor(name="audit_walk", binary=True) as cursor:
            cursor.execute(sql, params)
            yield cursor


def _walk(first_seq, last_seq, prev_hash, batch_size):
    """Check the rows from ``first_seq`` to ``last_seq`` (None: to the end). ``prev_hash`` is
    the hash the first row must link to; None leaves that link to the caller."""
    encoded, column, table = _encoding_sql()
    seq_column = column["seq"]
    upto, params = (
        ("", [first_seq])
        if last_seq is None
        else (f" AND {seq_column} <= %s", [first_seq, last_seq])
    )
    # Only the model's own table and column names go into the text; values are parameters.
    sql = (
        f"SELECT {seq_column}, {encoded}, {column['hash']} FROM {table} "  # noqa: S608
        f"WHERE {seq_column} >= %s{upto} ORDER BY {seq_column}"
    )
    sha256 = hashlib.sha256
    link = None if prev_hash is None else prev_hash.encode() + b"\n"
    first_link, good_hash, expected = None, prev_hash, first_seq

    def stop(bad_seq, problem):
        return _Walk(first_link, good_hash, expected - 1, bad_seq, problem)

    with _streamed(sql, params) as cursor:
        while batch := cursor.fetchmany(batch_size):
            for seq, encoding, stored in batch:
                encoding = bytes(encoding or b"")
                if seq != expected:
                    return stop(expected, f"sequence gap: {expected} is missing")
                if link is None:
                    first_link = encoding[:65]
                elif not encoding.startswith(link):
                    return stop(seq, "previous-hash link broken")
                if sha256(encoding).hexdigest() != stored:
                    return stop(seq, "row hash does not match its fields")
                link = stored.encode() + b"\n"
                good_hash = stored
                expected += 1
    if last_seq is not None and expected <= last_seq:
        return stop(expected, f"sequence gap: {expected} is missing")
    return stop(None, "")


def _walk_in_child(first_seq, last_seq, batch_size):
    try:
        return _walk(first_seq, last_seq, None, batch_size)
    finally:
        connection.close()


def _walk_ranges(ranges, workers, batch_size):
    """Walk ``ranges`` in forked processes, each through a connection of its own; in this
    process, one after the other, inside a transaction (whose rows no other connection sees)."""
    if connection.in_atomic_block:
        return [_walk(lo, hi, None, batch_size) for lo, hi in ranges]
    connections.close_all()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        return pool.starmap(_walk_in_child, [(lo, hi, batch_size) for lo, hi in ranges])


def _ranges(last_seq, workers, min_rows):
    """Split 1..last_seq into about four ranges per worker, none under ``min_rows``."""
    count = max(1, min(workers * 4, last_seq // min_rows))
    size = max(1, -(-last_seq // count))
    return [(lo, min(lo + size - 1, last_seq)) for lo in range(1, last_seq + 1, size)]


def verify_chain(batch_size=20_000, workers=1, min_rows_per_range=MIN_ROWS_PER_RANGE):
    """Walk the whole log in sequence order and check every link and hash.

    With ``workers`` > 1 a long log is walked in ranges, in that many forked processes at once
    (so only from a process that may fork, such as a management command); the report is the
    same as from one walk over the events there were when it began.
    """
    last_seq = AuditEvent.objects.order_by("-seq").values_list("seq", flat=True).first() or 0
    ranges = _ranges(last_seq, workers, min_rows_per_range)
    if workers <= 1 or len(ranges) <= 1:
        walk = _walk(1, None, GENESIS_HASH, batch_size)
        if walk.bad_seq is not None:
            return ChainReport(False, walk.bad_seq - 1, walk.last_hash, walk.bad_seq, walk.problem)
        return ChainReport(True, walk.last_seq, walk.last_hash)
    walks = _walk_ranges(ranges, workers, batch_size)
    head_hash = GENESIS_HASH
    for (first_seq, _last), walk in zip(ranges, walks, strict=True):
        gap_at_start = walk.bad_seq == first_seq and walk.first_link is None
        if not gap_at_start and walk.first_link != head_hash.encode() + b"\n":
            return ChainReport(
                False, first_seq - 1, head_hash, first_seq, "previous-hash link broken"
            )
        if walk.bad_seq is not None:
            return ChainReport(
                False, walk.bad_seq - 1, walk.last_hash or head_hash, walk.bad_seq, walk.problem
            )
        head_hash = walk.last_hash
    return ChainReport(True, last_seq, head_hash)
