"""PostgreSQL itself refuses unbalanced or tampered ledger data, whatever Python does.

Deferred constraint triggers fire at COMMIT, so these tests commit for real
(``transaction=True``)."""

import psycopg
import pytest
from django.db import IntegrityError, connection, transaction
from django.db.utils import DatabaseError

from tests.conftest import cny
from wangyin.ledger import services
from wangyin.ledger.models import Journal, Posting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.req("DT-05")]


def _journal(at, key="raw", currency="CNY"):
    return Journal.objects.create(idempotency_key=key, request_hash="x" * 64, type="ADJUSTMENT",
                                  currency=currency, posted_at=at)


def test_unbalanced_postings_are_refused_at_commit(make_account, at):
    a, b = make_account(), make_account()
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        journal = _journal(at)
        Posting.objects.create(journal=journal, account=a, amount=100, balance_after=0,
                               posted_at=at)
        Posting.objects.create(journal=journal, account=b, amount=-99, balance_after=0,
                               posted_at=at)
    assert not Journal.objects.filter(idempotency_key="raw").exists()


def test_journal_without_postings_is_refused_at_commit(at):
    with pytest.raises(IntegrityError, match="at least 2"), transaction.atomic():
        _journal(at)


def test_posting_to_an_account_of_another_currency_is_refused(make_account, at):
    a, b = make_account(currency="USD"), make_account(currency="USD")
    with pytest.raises(IntegrityError, match="currency"), transaction.atomic():
        journal = _journal(at, currency="CNY")
        Posting.objects.create(journal=journal, account=a, amount=100, balance_after=0,
                               posted_at=at)
        Posting.objects.create(journal=journal, account=b, amount=-100, balance_after=0,
                               posted_at=at)


def test_balanced_raw_postings_commit(make_account, at):
    a, b = make_account(), make_account()
    with transaction.atomic():
        journal = _journal(at)
        Posting.objects.create(journal=journal, account=a, amount=100, balance_after=0,
                               posted_at=at)
        Posting.objects.create(journal=journal, account=b, amount=-100, balance_after=0,
                               posted_at=at)
    assert Posting.objects.filter(journal=journal).count() == 2


def test_a_posting_added_later_to_a_committed_journal_is_refused(make_account, at):
    a, b = make_account(), make_account()
    with transaction.atomic():
        journal = _journal(at)
        for account, amount in ((a, 100), (b, -100)):
            Posting.objects.create(journal=journal, account=account, amount=amount,
                                   balance_after=0, posted_at=at)
    with pytest.raises(IntegrityError, match="unbalanced"), transaction.atomic():
        Posting.objects.create(journal=journal, account=a, amount=5, balance_after=0,
                               posted_at=at)
    assert Posting.objects.filter(journal=journal).count() == 2


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_posting SET amount = amount * 2",
    "DELETE FROM ledger_posting",
    "UPDATE ledger_journal SET memo = 'changed'",
    "DELETE FROM ledger_journal",
])
def test_journals_and_postings_are_append_only(make_account, fund, at, statement):
    a = make_account()
    fund(a, "1.00")
    with pytest.raises(DatabaseError, match="append-only"), connection.cursor() as cursor:
        cursor.execute(statement)


def test_zero_posting_is_refused_by_a_check_constraint(make_account, at):
    a = make_account()
    with pytest.raises(IntegrityError), transaction.atomic():
        Posting.objects.create(journal=_journal(at), account=a, amount=0, balance_after=0,
                               posted_at=at)


def test_superuser_tampering_is_found_by_verify(make_account, fund, at, superuser_conn):
    from wangyin.ledger.selectors import ledger_verify

    a, b = make_account(), make_account()
    fund(a, "50.00")
    services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("20.00"),
                      idempotency_key="victim", actor="customer:1", posted_at=at)
    assert ledger_verify().ok
    with superuser_conn.transaction():
        superuser_conn.execute("SET LOCAL session_replication_role = replica")
        superuser_conn.execute(
            "UPDATE ledger_posting SET amount = amount - 1 WHERE account_id = %s", [b.pk])
    report = ledger_verify()
    assert not report.ok
    text = "\n".join(report.problems)
    assert "trial balance" in text and "account balance" in text and a.number not in text
    assert b.number in text


def test_application_role_cannot_switch_off_triggers(superuser_conn):
    from wangyin.core import embedded_db

    if connection.settings_dict["USER"] != embedded_db.APP_ROLE:
        pytest.skip("only meaningful with the embedded server's unprivileged app role")
    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    assert isinstance(superuser_conn, psycopg.Connection)
