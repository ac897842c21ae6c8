"""Anchoring the audit log: exports kept elsewhere, and checking the live log against them.

An export is JSON Lines: one line per event with every field its hash covers (``at`` and
``details`` in their canonical forms), then one line with the head: ``{"head_seq": N,
"head_hash": H, "since": S, "events": K}``. The head hash commits to every event up to N, so a
copy kept where the operator cannot rewrite it proves later that history up to N is unchanged.
"""

import hashlib
import json
from dataclasses import dataclass

from .log import head
from .models import AuditEvent, canonical_encoding, canonical_json, canonical_time

EVENT_FIELDS = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "details",
    "prev_hash",
    "hash",
)


def write_export(out, since=0, batch_size=20_000):
    """Write the events after ``since`` and the head line to ``out``; returns the head line."""
    count, last = 0, None
    events = (
        AuditEvent.objects.filter(seq__gt=since)
        .order_by("seq")
        .values_list(*EVENT_FIELDS)
        .iterator(batch_size)
    )
    for values in events:
        line = dict(zip(EVENT_FIELDS, values, strict=True))
        line["at"] = canonical_time(line["at"])
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count, last = count + 1, (line["seq"], line["hash"])
    head_seq, head_hash = last or head()
    head_line = {"head_seq": head_seq, "head_hash": head_hash, "since": since, "events": count}
    out.write(json.dumps(head_line) + "\n")
    return head_line


@dataclass
class AnchorReport:
    matches: bool
    head_seq: int | None = None
    head_hash: str = ""
    first_bad_seq: int | None = None
    problem: str = ""

    def as_dict(self):
        return {
            "matches": self.matches,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "first_bad_seq": self.first_bad_seq,
            "problem": self.problem,
        }


def _event_hash(line):
    """The hash an exported event's fields give (KeyError, TypeError or ValueError if it is
    not an event line)."""
    text_fields = [line[name] for name in EVENT_FIELDS[2:7]]
    if not all(isinstance(value, str) for value in [line["at"], line["prev_hash"], *text_fields]):
        raise TypeError("a field that must be text is not")
    return hashlib.sha256(
        canonical_encoding(
            line["prev_hash"],
            int(line["seq"]),
            line["at"],
            *text_fields,
            canonical_json(line["details"]),
        )
    ).hexdigest()


def _live_hashes(first_seq):
    return (
        AuditEvent.objects.filter(seq__gte=first_seq)
        .order_by("seq")
        .values_list("seq", "hash")
        .iterator(20_000)
    )


def check_anchor(lines):
    """Check the live log against a kept export, line by line: every exported event must be
    intact in the export and still in the log at the same sequence number with the same hash;
    an export of no events anchors its head alone."""
    previous, live, head_line = None, None, None
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
            if head_line is not None:
                raise ValueError("a line after the head line")
            if "head_seq" in line:
                head_line = (int(line["head_seq"]), str(line["head_hash"]))
                continue
            seq, stored, computed = int(line["seq"]), line["hash"], _event_hash(line)
        except (ValueError, KeyError, TypeError) as error:
            return AnchorReport(
                False, problem=f"the export is unreadable at line {number}: {error}"
            )
        if previous is not None and seq != previous[0] + 1:
            return AnchorReport(
                False, first_bad_seq=previous[0] + 1, problem="the export itself lacks this event"
            )
        if computed != stored or (previous is not None and line["prev_hash"] != previous[1]):
            return AnchorReport(
                False, first_bad_seq=seq, problem="the export itself was altered here"
            )
        live = live or _live_hashes(seq)
        if next(live, None) != (seq, stored):
            return AnchorReport(
                False, first_bad_seq=seq, problem="the log no longer holds this exported event"
            )
        previous = (seq, stored)
    if head_line is None:
        return AnchorReport(False, problem="the export has no head line")
    head_seq, head_hash = head_line
    if previous is not None and previous != head_line:
        return AnchorReport(
            False,
            head_seq,
            head_hash,
            head_seq,
            "the export's head line does not match its last event",
        )
    if previous is None and head_seq and next(_live_hashes(head_seq), None) != head_line:
        return AnchorReport(
            False, head_seq, head_hash, head_seq, "the log no longer holds the exported head"
        )
    return AnchorReport(True, head_seq, head_hash)
