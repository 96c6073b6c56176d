"""The audit log: masked details, append-only rows, tamper detection by hash chains."""

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction

from wangyin.audit import services as audit
from wangyin.audit.models import AuditChainHead, AuditEvent
from wangyin.audit.selectors import audit_verify

pytestmark = pytest.mark.req("AD-01", "AD-04")


def _events(n=6, actor="staff:7"):
    return [
        audit.record(actor=actor, action="test.thing.done", target=f"thing:{i}",
                     ip="10.0.0.1", device="dev-1", details={"i": i})
        for i in range(n)
    ]


@pytest.mark.django_db
def test_record_stores_who_what_when_where_and_result():
    event = audit.record(actor="staff:7", action="customers.person.created",
                         target="person:1", result="SUCCESS", ip="::ffff:192.0.2.1",
                         device="counter-12", details={"branch": "001"})
    event.refresh_from_db()
    assert (event.actor, event.action, event.target, event.result) == (
        "staff:7", "customers.person.created", "person:1", "SUCCESS")
    assert event.ip and event.device == "counter-12" and event.occurred_at is not None
    assert event.seq == 1 and len(event.hash) == 64


@pytest.mark.django_db
@pytest.mark.req("AD-03")
def test_secrets_never_reach_the_log_and_identifiers_are_masked():
    event = audit.record(
        actor="customer:1", action="identity.login.failed",
        details={"password": "Secret123", "sms_code": "123456", "login_pin": "8888",
                 "id_number": "110101199003071234", "phone": "13812345678",
                 "account_number": "6230123412341234567", "nested": {"otp": "999999"}},
    )
    row = AuditEvent.objects.get(pk=event.pk).details
    text = str(row)
    for secret in ("Secret123", "123456", "8888", "999999", "110101199003071234",
                   "13812345678", "6230123412341234567"):
        assert secret not in text
    assert row["id_number"] == "110101199003******"
    assert row["phone"] == "138****5678"
    assert row["account_number"] == "6230***********4567"


@pytest.mark.django_db
def test_unknown_result_is_refused():
    with pytest.raises(ValueError):
        audit.record(actor="x", action="y", result="MAYBE")


@pytest.mark.django_db
def test_each_actor_stays_in_one_chain_with_consecutive_sequence_numbers():
    events = _events(5)
    assert len({e.chain for e in events}) == 1
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert all(b.prev_hash == a.hash for a, b in zip(events, events[1:], strict=False))


@pytest.mark.django_db
@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET result = 'FAILURE'",
    "DELETE FROM audit_auditevent",
])
def test_rows_cannot_be_changed_or_removed(statement):
    _events(2)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), \
            connection.cursor() as cursor:
        cursor.execute(statement)


@pytest.mark.django_db
def test_verify_passes_on_an_untouched_log(capsys):
    _events(4, actor="staff:1")
    _events(3, actor="customer:9")
    report = audit_verify()
    assert report.ok and report.events == 7
    call_command("audit_verify")
    assert "OK" in capsys.readouterr().out


def _tamper(conn, sql, params):
    with conn.transaction():
        conn.execute("SET LOCAL session_replication_role = replica")  # bypasses the trigger
        conn.execute(sql, params)


def test_altered_row_is_detected_and_named(superuser_conn):
    events = _events(5)
    victim = events[2]
    _tamper(superuser_conn, "UPDATE audit_auditevent SET details = '{\"i\": 99}' WHERE id = %s",
            [victim.pk])
    problems = audit_verify().problems
    assert any(f"id={victim.pk}" in p and "altered" in p for p in problems), problems
    with pytest.raises(CommandError):
        call_command("audit_verify")


def test_removed_row_is_detected(superuser_conn):
    events = _events(5)
    _tamper(superuser_conn, "DELETE FROM audit_auditevent WHERE id = %s", [events[1].pk])
    problems = audit_verify().problems
    assert any(f"id={events[2].pk}" in p and "removed" in p for p in problems), problems


def test_removed_last_row_is_detected_by_the_chain_head(superuser_conn):
    events = _events(3)
    _tamper(superuser_conn, "DELETE FROM audit_auditevent WHERE id = %s", [events[-1].pk])
    problems = audit_verify().problems
    assert any("head says seq 3" in p for p in problems), problems


def test_reordered_rows_are_detected(superuser_conn):
    events = _events(4)
    a, b = events[1], events[2]
    _tamper(superuser_conn,
            "UPDATE audit_auditevent SET seq = CASE id WHEN %s THEN -1 ELSE seq END "
            "WHERE id = %s", [a.pk, a.pk])
    _tamper(superuser_conn, "UPDATE audit_auditevent SET seq = %s WHERE id = %s",
            [a.seq, b.pk])
    _tamper(superuser_conn, "UPDATE audit_auditevent SET seq = %s WHERE id = %s",
            [b.seq, a.pk])
    assert not audit_verify().ok


def test_rewritten_timestamp_is_detected(superuser_conn):
    events = _events(2)
    _tamper(superuser_conn, "UPDATE audit_auditevent SET occurred_at = occurred_at - "
            "interval '1 day' WHERE id = %s", [events[0].pk])
    assert any(f"id={events[0].pk}" in p for p in audit_verify().problems)


def test_chain_heads_match_the_log(transactional_db):
    _events(3, actor="a")
    _events(2, actor="b")
    for head in AuditChainHead.objects.all():
        last = AuditEvent.objects.filter(chain=head.chain).order_by("-seq").first()
        assert (head.seq, head.hash) == (last.seq, last.hash)


@pytest.mark.django_db
def test_the_returned_event_is_the_stored_row(django_assert_num_queries):
    """``record`` writes the row with its own statement: what it returns is what is
    stored, and it writes every column of the model."""
    written = {f.name for f in AuditEvent._meta.concrete_fields if not f.primary_key}
    assert set(audit._COLUMNS) == written
    with django_assert_num_queries(2):  # the chain head, then the row with the head's hash
        event = audit.record(actor="staff:7", action="test.thing.done", target="thing:1",
                             ip="192.0.2.1", device="dev-1", details={"i": 1, "note": "额"})
    stored = AuditEvent.objects.get(pk=event.pk)
    assert {name: getattr(stored, name) for name in written} == {
        name: getattr(event, name) for name in written}
    assert audit_verify().ok
