"""The counter's cancellation ends every instruction not paid yet (ON-05, FC-02): open ones
as before, and now authorised and held-for-review ones too — at once, with the reason,
reserved money released — under the instruction's row lock, so the worker never pays one
the counter has cancelled, and the counter never cancels one the worker has paid."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import threading
import time
from unittest import mock

import pytest
from django.db import connections

from tests.corporate.approving import approve, enter, payee
from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.corporate import approvals, counter, execution
from wangyin.corporate.models import Instruction, InstructionStatus
from wangyin.ledger.models import Account, Hold, HoldStatus
from wangyin.ledger.selectors import ledger_verify
from wangyin.payments.models import Transfer

STAFF = "staff:teller1"


def _authorised(enterer, authoriser, payee, sign, now, key) -> Instruction:
    instruction = enter(enterer, payee, at=now, key=key)
    approve(authoriser, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    return instruction


def _reserve(service) -> None:
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])


def _held(account) -> int:
    return Account.objects.get(pk=account.ledger_account_id).held


@pytest.mark.django_db
@pytest.mark.req("ON-05", "FC-02")
def test_cancelling_the_service_ends_authorised_and_held_instructions_at_once(
    service, enterer, authoriser, payee, sign, now
):
    _reserve(service)
    authorised = _authorised(enterer, authoriser, payee, sign, now, "k1")
    held = _authorised(enterer, authoriser, payee, sign, now, "k2")
    live_rules(now, ("corp_review", "is_funds && segment == 'corporate'", "review"))
    assert execution.instruction_execute(held.pk, now).status == InstructionStatus.HELD
    assert _held(service.company.basic) > 0
    counter.service_cancel(service_id=service.pk, staff=STAFF, reason="单位申请注销", at=now)
    for instruction in (authorised, held):
        instruction.refresh_from_db()
        assert instruction.status == InstructionStatus.CANCELLED
        assert instruction.ended_by == STAFF and "单位申请注销" in instruction.end_reason
        assert instruction.events.last().action == "cancelled"
        assert Hold.objects.get(pk=instruction.hold_id).status == HoldStatus.RELEASED
    assert _held(service.company.basic) == 0
    audit = AuditEvent.objects.get(action="corporate.service.cancelled")
    assert audit.details["instructions_cancelled"] == 2
    # The job written at authorisation and the sweep find nothing to pay.
    assert execution.instruction_execute(authorised.pk, now).status == "CANCELLED"
    assert execution.execute_authorised(now) == 0
    assert not Transfer.objects.exists() and ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("ON-05", "FC-02")
def test_unlinking_an_account_ends_its_authorised_instructions_only(
    service, enterer, authoriser, payee, sign, now
):
    company = service.company
    from_basic = _authorised(enterer, authoriser, payee, sign, now, "k1")
    from_general = enter(enterer, payee, at=now, key="k2", account=company.general)
    approve(authoriser, from_general, sign, now)
    counter.account_unlink(
        service_id=service.pk, account_id=company.general.pk, staff=STAFF, reason="账户销户", at=now
    )
    assert Instruction.objects.get(pk=from_general.pk).status == InstructionStatus.CANCELLED
    assert Instruction.objects.get(pk=from_basic.pk).status == InstructionStatus.AUTHORISED
    assert execution.execute_authorised(now) == 1
    assert Transfer.objects.count() == 1
    assert Instruction.objects.get(pk=from_basic.pk).status == InstructionStatus.EXECUTED


def _in_thread(target):
    """Run ``target`` on its own connection; the thread and a box for its result."""
    box = {}

    def run():
        try:
            box["result"] = target()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            box["error"] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, box


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.req("ON-05", "FC-02")
def test_the_counter_waits_for_a_payment_under_way_and_leaves_it_paid(
    service, enterer, authoriser, payee, sign, now
):
    """The worker has paid and not yet committed when the counter cancels the service: the
    counter waits on the row lock, then finds it paid and does not cancel it."""
    _reserve(service)
    instruction = _authorised(enterer, authoriser, payee, sign, now, "k1")
    paying, real = threading.Event(), execution.payments.company_transfer_execute

    def slow_pay(**kwargs):
        transfer = real(**kwargs)
        paying.set()
        time.sleep(1.0)  # paid, not committed: the row lock is held
        return transfer

    with mock.patch.object(execution.payments, "company_transfer_execute", slow_pay):
        worker, paid = _in_thread(lambda: execution.instruction_execute(instruction.pk, now))
        assert paying.wait(30)
        teller, cancelled = _in_thread(
            lambda: counter.service_cancel(
                service_id=service.pk, staff=STAFF, reason="单位申请注销", at=now
            )
        )
        worker.join(60), teller.join(60)
    assert "error" not in paid and "error" not in cancelled, (paid, cancelled)
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.EXECUTED
    assert Transfer.objects.count() == 1
    audit = AuditEvent.objects.get(action="corporate.service.cancelled")
    assert audit.details["instructions_cancelled"] == 0
    assert _held(service.company.basic) == 0 and ledger_verify().ok


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.req("ON-05", "FC-02")
def test_the_worker_waits_for_the_counter_and_never_pays_what_it_cancelled(
    service, enterer, authoriser, payee, sign, now
):
    """The counter has cancelled it and not yet committed when the worker comes to pay it:
    the worker waits on the row lock, then finds it cancelled and pays nothing."""
    _reserve(service)
    instruction = _authorised(enterer, authoriser, payee, sign, now, "k1")
    cancelling, real = threading.Event(), approvals.instruction_end

    def slow_end(*args, **kwargs):
        ended = real(*args, **kwargs)
        cancelling.set()
        time.sleep(1.0)  # cancelled, not committed: the row lock is held
        return ended

    with mock.patch.object(approvals, "instruction_end", slow_end):
        teller, cancelled = _in_thread(
            lambda: counter.service_cancel(
                service_id=service.pk, staff=STAFF, reason="单位申请注销", at=now
            )
        )
        assert cancelling.wait(30)
        worker, paid = _in_thread(lambda: execution.instruction_execute(instruction.pk, now))
        teller.join(60), worker.join(60)
    assert "error" not in paid and "error" not in cancelled, (paid, cancelled)
    assert paid["result"].status == InstructionStatus.CANCELLED
    assert not Transfer.objects.exists()
    assert _held(service.company.basic) == 0 and ledger_verify().ok
