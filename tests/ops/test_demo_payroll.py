"""The demo company's payroll file (FC-04), as a person uses it after ``make run``: pay01
uploads var/demo/payroll.csv, finds the two deliberate mistakes, removes them and submits;
chk01 checks and auth01 authorises with their USB-Keys; the job the last authorisation
left for the worker pays every row once."""

import json
from pathlib import Path

import pytest
from django.db import connection

from tests.ops.test_demo import _approve, _real_now, _signin, own_var_dir  # noqa: F401
from wangyin.corporate import batches, selectors, tasks
from wangyin.customers.models import CustomerAccount
from wangyin.ledger.selectors import ledger_verify
from wangyin.ops.demo import COMPANY, EMPLOYEES, PAYROLL_MISTYPED, load_demo

pytestmark = [pytest.mark.django_db, pytest.mark.req("FC-04", "DT-05")]


def _jobs() -> list[tuple[str, dict]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT task_name, args FROM procrastinate_jobs WHERE status = 'todo' "
            "AND queue_name = 'corporate' ORDER BY id"
        )
        return [
            (name, json.loads(args) if isinstance(args, str) else args)
            for name, args in cursor.fetchall()
        ]


def test_the_demo_payroll_is_corrected_approved_and_paid_by_the_worker(own_var_dir):  # noqa: F811
    now = _real_now()
    result = load_demo(now=now, history_size=250)
    payroll = result.corporate["payroll"]
    path = Path(payroll["file"])
    assert path == own_var_dir / "demo" / "payroll.csv"
    assert (payroll["rows"], payroll["errors"], payroll["paid_rows"]) == (22, 2, 20)
    assert payroll["total"] == "¥122,731.30"
    entries = {e["code"]: e for e in result.corporate["operators"]}
    number = result.corporate["service"]
    pay01, chk01, auth01 = (_signin(entries[c], number, now) for c in ("pay01", "chk01", "auth01"))
    basic = CustomerAccount.objects.get(product="CORPORATE_BASIC", company__name=COMPANY["name"])

    draft = batches.batch_upload(
        pay01,
        debit_account_id=basic.pk,
        purpose="十一月工资",
        filename=path.name,
        data=path.read_bytes(),
        idempotency_key="demo-payroll",
        at=now,
    )
    assert draft.batch.rows_count == 22
    invalid = list(selectors.batch_rows(draft, status="INVALID"))
    assert [(r.line, r.payee_name) for r in invalid] == [
        (4, EMPLOYEES[0][0]),
        (7, PAYROLL_MISTYPED),
    ]
    assert all(r.error for r in invalid)
    batches.rows_remove(pay01, draft.pk, invalid=True, at=now)
    instruction = batches.batch_submit(pay01, draft.pk, now)
    assert instruction.amount_fen == 12_273_130 and instruction.status == "ENTERED"
    assert instruction.checkers_required == 1  # above ¥100,000: chk01 checks first
    _approve(entries["chk01"], chk01, instruction, now)
    _approve(entries["auth01"], auth01, instruction, now)
    instruction.refresh_from_db()
    assert instruction.status == "AUTHORISED"

    # What the worker `make run` starts does: the job the authorisation left, by its name.
    zhang = CustomerAccount.objects.get(person__channel_users__login_name="zhangwei")
    before = zhang.ledger_account.balance
    ran = 0
    while jobs := _jobs():
        name, args = jobs[0]
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE procrastinate_jobs SET status = 'succeeded' WHERE id = "
                "(SELECT min(id) FROM procrastinate_jobs WHERE status = 'todo' "
                "AND queue_name = 'corporate')"
            )
        {
            "corporate.execute_instruction": tasks.execute_instruction,
            "corporate.execute_batch": tasks.execute_batch,
        }[name](**args)
        ran += 1
        assert ran < 10
    instruction.refresh_from_db()
    assert instruction.status == "EXECUTED"
    assert (instruction.batch.paid_count, instruction.batch.failed_count) == (20, 0)
    zhang.ledger_account.refresh_from_db()
    assert zhang.ledger_account.balance - before == 912_000
    filename, _type, content = batches.result_file(instruction, "csv")
    assert filename.endswith(".csv") and content.decode("utf-8-sig").count("\n") == 23
    assert ledger_verify().ok
