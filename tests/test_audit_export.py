"""audit_export writes events and the head; audit_verify --anchor checks the live log against
such a kept export."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.anchor import check_anchor
from audit.log import record
from audit.models import Action, AuditEvent
from tests.test_audit_chain import drop_triggers


@pytest.fixture
def events(db):
    return [
        record(
            Action.RENDER_QUEUED,
            object_type="render",
            object_id=str(n),
            details={"style": "汉服", "n": n},
        )
        for n in range(6)
    ]


def export(*args):
    out = io.StringIO()
    call_command("audit_export", *args, stdout=out)
    return out.getvalue()


def test_export_writes_every_hashed_field_then_the_head(events):
    lines = [json.loads(line) for line in export().splitlines()]
    assert [line["seq"] for line in lines[:-1]] == [1, 2, 3, 4, 5, 6]
    first = AuditEvent.objects.get(seq=1)
    assert lines[0] == {
        "seq": 1,
        "at": first.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "actor": "",
        "role": "system",
        "action": "render.queued",
        "object_type": "render",
        "object_id": first.object_id,
        "details": {"style": "汉服", "n": 0},
        "prev_hash": "0" * 64,
        "hash": first.hash,
    }
    assert lines[-1] == {"head_seq": 6, "head_hash": events[-1].hash, "since": 0, "events": 6}


def test_export_since_a_sequence_number(events):
    lines = [json.loads(line) for line in export("--since", "4", "--format", "jsonl").splitlines()]
    assert [line.get("seq") for line in lines] == [5, 6, None]
    assert lines[-1]["head_seq"] == 6


def test_export_past_the_head_still_names_the_head(events):
    lines = [json.loads(line) for line in export("--since", "6").splitlines()]
    assert lines == [{"head_seq": 6, "head_hash": events[-1].hash, "since": 6, "events": 0}]


def test_export_to_a_file_never_overwrites(events, tmp_path):
    path = tmp_path / "anchor.jsonl"
    summary = export("--output", str(path))
    assert f"head seq 6, hash {events[-1].hash}" in summary
    assert len(path.read_text().splitlines()) == 7
    with pytest.raises(CommandError, match="cannot write"):
        export("--output", str(path))


def test_negative_since_is_refused(db):
    with pytest.raises(CommandError, match="--since"):
        export("--since", "-1")


def test_anchor_holds_while_the_log_only_grows(events):
    kept = export().splitlines()
    record(Action.RENDER_QUEUED)
    report = check_anchor(kept)
    assert (report.matches, report.head_seq, report.head_hash) == (True, 6, events[-1].hash)
    assert check_anchor(export("--since", "3").splitlines()).matches


def test_anchor_of_the_head_alone(events):
    kept = export("--since", "6").splitlines()
    assert check_anchor(kept).matches
    drop_triggers()
    AuditEvent.objects.filter(seq=6).delete()
    report = check_anchor(kept)
    assert (report.matches, report.first_bad_seq) == (False, 6)


def test_rewritten_history_fails_the_anchor_though_the_chain_verifies(events):
    kept = export().splitlines()
    drop_triggers()
    AuditEvent.objects.filter(seq__gte=3).delete()
    record(Action.RENDER_QUEUED, details={"rewritten": True})  # a new, valid seq 3
    report = check_anchor(kept)
    assert (report.matches, report.first_bad_seq) == (False, 3)
    assert report.problem == "the log no longer holds this exported event"


def test_truncated_log_fails_the_anchor(events):
    kept = export().splitlines()
    drop_triggers()
    AuditEvent.objects.filter(seq__gte=5).delete()
    report = check_anchor(kept)
    assert (report.matches, report.first_bad_seq) == (False, 5)


@pytest.mark.parametrize(
    "change, bad_seq",
    [
        (lambda lines: lines.__setitem__(2, lines[2].replace('"n": 2', '"n": 7')), 3),
        (lambda lines: lines.pop(3), 4),
        (
            lambda lines: lines.__setitem__(
                -1, lines[-1].replace('"head_seq": 6', '"head_seq": 5')
            ),
            5,
        ),
    ],
)
def test_altered_export_is_refused(events, change, bad_seq):
    kept = export().splitlines()
    change(kept)
    report = check_anchor(kept)
    assert (report.matches, report.first_bad_seq) == (False, bad_seq)


def test_unreadable_export_is_refused(events):
    report = check_anchor(["not json"])
    assert not report.matches
    assert "unreadable at line 1" in report.problem
    assert check_anchor(export().splitlines()[:-1]).problem == "the export has no head line"


def test_audit_verify_with_an_anchor(events, tmp_path, capsys):
    path = tmp_path / "anchor.jsonl"
    export("--output", str(path))
    call_command("audit_verify", "--anchor", str(path), "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] and out["anchor"]["matches"]
    assert out["anchor"]["head_seq"] == 6

    drop_triggers()
    AuditEvent.objects.filter(seq__gte=4).delete()
    with pytest.raises(CommandError, match="seq 4"):
        call_command("audit_verify", "--anchor", str(path))
    assert "ANCHOR FAILS at seq 4" in capsys.readouterr().out


def test_audit_verify_names_a_missing_anchor_file(events, tmp_path):
    with pytest.raises(CommandError, match="cannot read"):
        call_command("audit_verify", "--anchor", str(tmp_path / "missing.jsonl"))
