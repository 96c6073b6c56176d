"""`wangyin ledger verify`: clean on good data, names each problem on bad data."""

import pytest
from django.core.management import CommandError, call_command

from tests.conftest import cny
from wangyin.ledger import services
from wangyin.ledger.selectors import ledger_verify

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.req("DT-05")]


def _some_activity(make_account, fund, at):
    a, b = make_account(), make_account()
    fund(a, "100.00")
    services.transfer(debit_account_id=a.pk, credit_account_id=b.pk, amount=cny("30.00"),
                      idempotency_key="v1", actor="customer:1", posted_at=at)
    services.hold_place(account_id=a.pk, amount=cny("5.00"), idempotency_key="vh",
                        reason="r", actor="system:test", placed_at=at)
    return a, b


def test_verify_passes_on_consistent_data(make_account, fund, at, capsys):
    _some_activity(make_account, fund, at)
    report = ledger_verify()
    assert report.ok and report.journals == 2 and report.postings == 4
    call_command("ledger_verify")
    assert "OK" in capsys.readouterr().out


def test_balance_drift_is_reported(make_account, fund, at, superuser_conn):
    a, _ = _some_activity(make_account, fund, at)
    superuser_conn.execute("UPDATE ledger_account SET balance = balance + 1 WHERE id = %s",
                           [a.pk])
    with pytest.raises(CommandError, match="problem"):
        call_command("ledger_verify")
    problems = ledger_verify().problems
    assert any(p.startswith("account balance") and a.number in p for p in problems)


def test_held_drift_is_reported(make_account, fund, at, superuser_conn):
    a, _ = _some_activity(make_account, fund, at)
    superuser_conn.execute("UPDATE ledger_account SET held = 0 WHERE id = %s", [a.pk])
    assert any(p.startswith("held amount") for p in ledger_verify().problems)


def test_wrong_balance_after_is_reported(make_account, fund, at, superuser_conn):
    a, _ = _some_activity(make_account, fund, at)
    with superuser_conn.transaction():
        superuser_conn.execute("SET LOCAL session_replication_role = replica")
        superuser_conn.execute(
            "UPDATE ledger_posting SET balance_after = balance_after + 7 WHERE account_id = %s",
            [a.pk])
    assert any(p.startswith("running balance") for p in ledger_verify().problems)


def test_unbalanced_journal_is_reported(make_account, fund, at, superuser_conn):
    _some_activity(make_account, fund, at)
    with superuser_conn.transaction():
        superuser_conn.execute("SET LOCAL session_replication_role = replica")
        superuser_conn.execute(
            "DELETE FROM ledger_posting WHERE id = (SELECT max(id) FROM ledger_posting)")
    problems = ledger_verify().problems
    assert any(p.startswith("unbalanced journal") for p in problems)
    assert any(p.startswith("trial balance") for p in problems)
