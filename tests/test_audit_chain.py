import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, connection, transaction

from audit.chain import verify_chain
from audit.log import head, record
from audit.models import Action, AuditEvent


@pytest.fixture
def events(db):
    return [record(Action.CONSENT_GRANTED, details={"n": n}) for n in range(5)]


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


def test_intact_chain_verifies(events):
    report = verify_chain()
    assert report.intact
    assert (report.count, report.head_hash) == (5, events[-1].hash)
    assert head() == (5, events[-1].hash)


def test_update_is_rejected_by_the_database(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).update(action=Action.STAFF_LOGIN)


def test_delete_is_rejected_by_the_database(events):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(seq=2).delete()


def test_edited_row_is_found(events):
    drop_triggers()
    AuditEvent.objects.filter(seq=3).update(details={"n": 99})
    report = verify_chain()
    assert (report.intact, report.first_bad_seq) == (False, 3)


def test_deleted_row_is_found(events):
    drop_triggers()
    AuditEvent.objects.filter(seq=2).delete()
    report = verify_chain()
    assert (report.intact, report.first_bad_seq) == (False, 2)


def test_inserted_row_is_found(events):
    drop_triggers()
    forged = AuditEvent.objects.get(seq=5)
    forged.seq = 6
    forged.prev_hash = "f" * 64
    forged.hash = "e" * 64
    forged.save(force_insert=True)
    report = verify_chain()
    assert (report.intact, report.first_bad_seq) == (False, 6)


def test_reordered_rows_are_found(events):
    drop_triggers()
    second, third = AuditEvent.objects.get(seq=2), AuditEvent.objects.get(seq=3)
    AuditEvent.objects.filter(seq__in=[2, 3]).delete()
    second.seq, third.seq = 3, 2
    AuditEvent.objects.bulk_create([third, second])
    report = verify_chain()
    assert (report.intact, report.first_bad_seq) == (False, 2)


def test_audit_verify_prints_count_and_head(events, capsys):
    call_command("audit_verify", "--json")
    out = json.loads(capsys.readouterr().out)
    assert out["intact"] is True
    assert (out["count"], out["head_hash"]) == (5, events[-1].hash)


def test_audit_verify_fails_on_a_broken_chain(events):
    drop_triggers()
    AuditEvent.objects.filter(seq=4).update(role="staff")
    with pytest.raises(CommandError, match="seq 4"):
        call_command("audit_verify")


def test_actor_is_a_pseudonym_not_the_user_id(user):
    event = record(Action.CONSENT_GRANTED, actor=user)
    assert event.actor not in ("", str(user.pk), user.username)
    assert len(event.actor) == 32
