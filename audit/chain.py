"""Verifying the audit chain."""

from dataclasses import dataclass

from .models import GENESIS_HASH, AuditEvent, row_hash


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


_FIELDS = ("seq", "at", "actor", "role", "action", "object_type", "object_id", "details",
           "prev_hash", "hash")


def verify_chain(batch_size=20_000):
    """Walk the whole log in sequence order and check every link and hash."""
    prev_hash = GENESIS_HASH
    expected_seq = 1
    count = 0
    rows = AuditEvent.objects.order_by("seq").values_list(*_FIELDS).iterator(batch_size)
    for seq, at, actor, role, action, object_type, object_id, details, stored_prev, stored in rows:
        if seq != expected_seq:
            return ChainReport(False, count, prev_hash, expected_seq,
                               f"sequence gap: expected {expected_seq}, found {seq}")
        if stored_prev != prev_hash:
            return ChainReport(False, count, prev_hash, seq, "previous-hash link broken")
        computed = row_hash(stored_prev, seq, at, actor, role, action, object_type, object_id,
                            details)
        if computed != stored:
            return ChainReport(False, count, prev_hash, seq, "row hash does not match its fields")
        prev_hash = stored
        expected_seq += 1
        count += 1
    return ChainReport(True, count, prev_hash)
