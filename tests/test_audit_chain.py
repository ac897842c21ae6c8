import datetime
import hashlib
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit import log
from audit.chain import verify_chain
from audit.log import head, record
from audit.models import Action, AuditEvent, Role


@pytest.fixture
def events(db):
    return [record(Action.CONSENT_GRANTED, details={"n": n}) for n in range(5)]


# One walk; ranges of two rows; ranges of one row, so that every link is a range border.
@pytest.fixture(params=[(1, 1), (2, 2), (2, 1)], ids=["one-walk", "ranges-of-2", "ranges-of-1"])
def verify(request):
    workers, min_rows = request.param
    return lambda: verify_chain(workers=workers, min_rows_per_range=min_rows)


def drop_triggers():
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("ALTER TABLE audit_auditevent DISABLE TRIGGER USER")
        else:
            cursor.execute("DROP TRIGGER audit_no_update")
            cursor.execute("DROP TRIGGER audit_no_delete")


def test_events_chain_from_genesis(events):
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert events[0].prev_hash == "0" * 64
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


def test_hash_covers_the_documented_encoding(user):
    event = record(
        Action.PHOTO_ACCEPTED,
        actor=user,
        object_type="photo",
        object_id="7",
        details={"number": 3, "method": "web"},
    )
    encoding = "\n".join(
        [
            "0" * 64,
            "1",
            event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            event.actor,
            "person",
            "photo.accepted",
            "photo",
            event.object_id,
            '{"method":"web","number":3}',
        ]
    )
    assert event.hash == hashlib.sha256(encoding.encode()).hexdigest()


def test_intact_chain_verifies(events, verify):
    report = verify()
    assert report.intact
    assert (report.count, report.head_hash) == (5, events[-1].hash)
    assert head() == (5, events[-1].hash)


def test_empty_log_verifies(db, verify):
    assert verify().as_dict() == {
        "intact": True,
        "count": 0,
        "head_hash": "0" * 64,
        "first_bad_seq": None,
        "problem": "",
    }


def test_stored_text_verifies_as_written(db, monkeypatch):
    # A whole second (SQLite stores it without a fraction), text beyond ASCII, a newline and
    # a float inside details: the database's own encoding of each must match Python's.
    whole_second = datetime.datetime(2026, 11, 27, 6, 15, tzinfo=datetime.UTC)
    monkeypatch.setattr(log.timezone, "now", lambda: whole_second)
    record(Action.RENDER_QUEUED, details={"style": "汉服", "note": "a\nb", "seconds": 0.1})
    monkeypatch.undo()
    record(Action.RENDER_QUEUED, details={"style": "é"})
    assert verify_chain().intact
    assert AuditEvent.objects.get(seq=1).details == {
        "style": "汉服",
        "note": "a\nb",
        "seconds": 0.1,
    }


def test_unknown_action_is_refused(db):
    with pytest.raises(ValueError):
        record("photo.stolen")
    assert not AuditEvent.objects.exists()


def test_object_type_must_be_a_model_name(db):
    with pytest.raises(ValueError, match="model name"):
        record(Action.RENDER_QUEUED, object_type="render\nforged", object_id="1")


def test_update_is_rejected_by_the_database(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).update(action=Action.STAFF_LOGIN)


def test_delete_is_rejected_by_the_database(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()


@pytest.mark.parametrize("seq", [1, 3, 5])
def test_edited_row_is_found(events, verify, seq):
    drop_triggers()
    AuditEvent.objects.filter(seq=seq).update(details={"n": 99})
    report = verify()
    assert (report.intact, report.first_bad_seq, report.count) == (False, seq, seq - 1)
    assert report.problem == "row hash does not match its fields"


def test_edited_and_rehashed_row_is_found_at_the_next_link(events, verify):
    drop_triggers()
    forged = AuditEvent.objects.get(seq=3)
    forged.details = {"n": 99}
    AuditEvent.objects.filter(seq=3).update(details=forged.details, hash=forged.compute_hash())
    report = verify()
    assert (report.intact, report.first_bad_seq) == (False, 4)
    assert report.problem == "previous-hash link broken"


@pytest.mark.parametrize("seq", [1, 2, 4])
def test_deleted_row_is_found(events, verify, seq):
    drop_triggers()
    AuditEvent.objects.filter(seq=seq).delete()
    report = verify()
    assert (report.intact, report.first_bad_seq) == (False, seq)
    assert report.problem == f"sequence gap: {seq} is missing"


def test_inserted_row_is_found(events, verify):
    drop_triggers()
    forged = AuditEvent.objects.get(seq=5)
    forged.seq = 6
    forged.prev_hash = "f" * 64
    forged.hash = "e" * 64
    forged.save(force_insert=True)
    report = verify()
    assert (report.intact, report.first_bad_seq) == (False, 6)


def test_reordered_rows_are_found(events, verify):
    drop_triggers()
    second, third = AuditEvent.objects.get(seq=2), AuditEvent.objects.get(seq=3)
    AuditEvent.objects.filter(seq__in=[2, 3]).delete()
    second.seq, third.seq = 3, 2
    AuditEvent.objects.bulk_create([third, second])
    report = verify()
    assert (report.intact, report.first_bad_seq) == (False, 2)


def test_audit_verify_prints_count_and_head(events, capsys):
    call_command("audit_verify", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is True
    assert (out["count"], out["head_hash"]) == (5, events[-1].hash)


def test_audit_verify_fails_on_a_broken_chain(events, capsys):
    drop_triggers()
    AuditEvent.objects.filter(seq=4).update(role="staff")
    with pytest.raises(CommandError, match="seq 4") as failed:
        call_command("audit_verify")
    assert failed.value.returncode == 2
    assert "BROKEN at seq 4" in capsys.readouterr().out


def test_actor_is_a_pseudonym_not_the_user_id(user):
    event = record(Action.CONSENT_GRANTED, actor=user)
    assert event.actor not in ("", str(user.pk), user.username)
    assert len(event.actor) == 32


def test_roles_follow_the_actor(user, django_user_model):
    from django.contrib.auth.models import Group

    staff = django_user_model.objects.create_user("sam", is_staff=True)
    officer = django_user_model.objects.create_user("oli", is_staff=True)
    officer.groups.add(Group.objects.create(name=log.OFFICER_GROUP))
    roles = [
        record(Action.STAFF_VIEWED, actor=actor).role for actor in (user, staff, officer, None)
    ]
    assert roles == [Role.PERSON, Role.STAFF, Role.OFFICER, Role.SYSTEM]
