"""Paying authorised corporate instructions (FC-02, TX-06, TX-09, FC-01): exactly once, only
as signed, from the right money — same bank, the company's own account, another bank,
money reserved on entry; refusals (tampering, risk, funds) post nothing."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

from unittest import mock

import pytest
from django.conf import settings
from django.db import connection

from tests.corporate.approving import YUAN, approve, enter, payee
from tests.race import race
from wangyin.audit.models import AuditEvent
from wangyin.core.money import Money
from wangyin.corporate import execution
from wangyin.corporate.models import Instruction, InstructionEvent, InstructionStatus
from wangyin.ledger import services as ledger
from wangyin.ledger.models import Account, Hold, HoldStatus, Journal
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments import directory
from wangyin.payments.models import (
    Bank,
    ClearingMessage,
    Transfer,
    TransferKind,
    TransferStatus,
)
from wangyin.risk import lists

AMOUNT = 1234_56


def _balance(account) -> tuple[int, int]:
    row = Account.objects.get(pk=account.ledger_account_id)
    return row.balance, row.held


def _authorised(enterer, authoriser, payee, sign, now, **kwargs) -> Instruction:
    instruction = enter(enterer, payee, at=now, **kwargs)
    approve(authoriser, instruction, sign, now)
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    return instruction


def _other_bank() -> Bank:
    directory.banks_load()
    return Bank.objects.exclude(code=settings.BANK_CNAPS_CODE).first()


def _jobs(instruction_id: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s "
                       "AND args->>'instruction_id' = %s",
                       ["corporate.execute_instruction", str(instruction_id)])
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.req("FC-02")
@pytest.mark.req("TX-09")
def test_a_same_bank_payment_is_posted_once_and_the_payee_told(service, enterer, authoriser,
                                                              payee, sign, now):
    company = service.company
    before = _balance(company.basic)
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    assert _jobs(instruction.pk) == 1  # deferred with the last authorisation
    done = execution.instruction_execute(instruction.pk, now)
    assert done.status == InstructionStatus.EXECUTED and done.ended_by == "system:corporate"
    transfer = done.transfer
    assert (transfer.company_id, transfer.person_id) == (company.pk, None)
    assert (transfer.kind, transfer.status, transfer.amount_fen, transfer.fee_fen) == (
        TransferKind.SAME_BANK, TransferStatus.DONE, AMOUNT, 0)  # corporate same-bank: free
    assert transfer.idempotency_key == f"corporate:{instruction.pk}"
    assert transfer.digest == instruction.digest
    assert _balance(company.basic) == (before[0] - AMOUNT, 0)
    assert Account.objects.get(pk=payee.ledger_account_id).balance == AMOUNT
    # again (a retried job, the sweep): nothing more
    assert execution.instruction_execute(instruction.pk, now).status == "EXECUTED"
    assert execution.execute_authorised(now) == 0
    assert Transfer.objects.count() == 1 and _balance(company.basic)[0] == before[0] - AMOUNT
    assert InstructionEvent.objects.filter(instruction=instruction, action="executed").count() == 1
    assert AuditEvent.objects.filter(action="corporate.instruction.executed").count() == 1
    # the payee hears who paid: the company, masked
    credit = SmsMessage.objects.filter(purpose="payments.credit").get()
    assert "转入" in credit.body and "¥1,234.56" in credit.body
    # the company's contact hears of the debit (no message centre for a company)
    debit = SmsMessage.objects.filter(purpose="payments.debit").get()
    assert debit.phone == company.contact_phone and company.basic.number[-4:] in debit.body
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_paying_the_companys_own_other_account_is_an_own_transfer(service, enterer,
                                                                   authoriser, sign, now):
    company = service.company
    instruction = _authorised(enterer, authoriser, company.general, sign, now,
                              name=company.name)
    transfer = execution.instruction_execute(instruction.pk, now).transfer
    assert transfer.kind == TransferKind.OWN and transfer.credit_account == company.general
    assert not SmsMessage.objects.filter(purpose="payments.credit").exists()
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
@pytest.mark.req("FC-01")
def test_an_interbank_payment_goes_to_clearing_with_the_corporate_fee(service, enterer,
                                                                      authoriser, sign, now):
    bank = _other_bank()
    external = mock.Mock(number="6217000012345678")
    instruction = _authorised(enterer, authoriser, external, sign, now, name="某某公司",
                              bank=bank.code)
    before = _balance(service.company.basic)
    transfer = execution.instruction_execute(instruction.pk, now).transfer
    # the schedule's corporate INTERBANK tier up to ¥10,000.00: ¥2.00
    assert (transfer.kind, transfer.status, transfer.fee_fen) == (
        TransferKind.INTERBANK, TransferStatus.PROCESSING, 200)
    assert transfer.fee_journal is not None and transfer.credit_account is None
    message = ClearingMessage.objects.get(transfer=transfer)
    assert message.payload["payer_name"] == service.company.name
    assert _balance(service.company.basic)[0] == before[0] - AMOUNT - 200
    execution.instruction_execute(instruction.pk, now)
    assert ClearingMessage.objects.count() == 1 and Transfer.objects.count() == 1
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
@pytest.mark.parametrize("interbank", [False, True])
def test_money_reserved_on_entry_pays_and_the_hold_is_gone(service, enterer, authoriser,
                                                           payee, sign, now, interbank):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    basic = service.company.basic
    before = _balance(basic)
    kwargs = ({"bank": _other_bank().code, "name": "某某公司"} if interbank else {})
    target = mock.Mock(number="6217000012345678") if interbank else payee
    instruction = _authorised(enterer, authoriser, target, sign, now, **kwargs)
    fee = 200 if interbank else 0
    assert instruction.hold.amount == AMOUNT + fee
    assert _balance(basic) == (before[0], AMOUNT + fee)
    transfer = execution.instruction_execute(instruction.pk, now).transfer
    hold = Hold.objects.get(pk=instruction.hold_id)
    assert hold.status == HoldStatus.CAPTURED and hold.capture_journal_id == transfer.journal_id
    assert _balance(basic) == (before[0] - AMOUNT - fee, 0)  # paid once, nothing held
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_not_enough_money_fails_the_instruction_and_posts_nothing(service, enterer,
                                                                 authoriser, payee, sign,
                                                                 now):
    basic = service.company.basic
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    balance, held = _balance(basic)
    ledger.hold_place(account_id=basic.ledger_account_id, amount=Money(balance - 100),
                      idempotency_key="test:drain", reason="court order",
                      actor="staff:test", placed_at=now)
    journals = Journal.objects.count()
    failed = execution.instruction_execute(instruction.pk, now)
    assert failed.status == InstructionStatus.FAILED and failed.transfer is None
    assert failed.end_reason == "可用余额不足。"
    assert failed.events.last().action == "failed"
    assert Journal.objects.count() == journals and not Transfer.objects.exists()
    assert _balance(basic)[0] == balance
    assert execution.instruction_execute(instruction.pk, now).status == "FAILED"
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("TX-06")
@pytest.mark.parametrize("change", [{"amount_fen": AMOUNT + 1}, {"payee_name": "王五"},
                                    {"authorisers_required": 0}])
def test_an_instruction_changed_after_authorisation_is_never_paid(service, enterer,
                                                                  authoriser, payee, sign,
                                                                  now, change):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    Instruction.objects.filter(pk=instruction.pk).update(**change)
    refused = execution.instruction_execute(instruction.pk, now)
    assert refused.status == InstructionStatus.FAILED and refused.transfer is None
    assert refused.events.last().action == "failed"
    assert not Transfer.objects.exists()
    assert Hold.objects.get(pk=instruction.hold_id).status == HoldStatus.RELEASED
    assert _balance(service.company.basic)[1] == 0
    audit = AuditEvent.objects.get(action="corporate.instruction.refused")
    assert audit.result == "FAILURE"
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_risk_control_blocking_at_execution_fails_it_and_keeps_the_decision(
        service, enterer, authoriser, payee, sign, now):
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    lists.entry_add(colour="BLACK", subject="ACCOUNT", value=payee.number, reason="涉案",
                    staff="staff:risk1", at=now)
    blocked = execution.instruction_execute(instruction.pk, now)
    assert blocked.status == InstructionStatus.FAILED and blocked.risk_action == "block"
    assert blocked.events.last().action == "blocked"
    assert not Transfer.objects.exists()
    from wangyin.risk.models import Decision

    assert Decision.objects.filter(ref=f"corporate:{instruction.pk}", action="block").exists()


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_a_crash_after_paying_before_marking_pays_once_when_run_again(service, enterer,
                                                                     authoriser, payee,
                                                                     sign, now):
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    before = _balance(service.company.basic)[0]
    real = execution.approvals._audit

    def crash(*args, **kwargs):
        if kwargs.get("action") == "executed":
            raise RuntimeError("worker died")
        return real(*args, **kwargs)

    with mock.patch.object(execution.approvals, "_audit", crash):
        with pytest.raises(RuntimeError):
            execution.instruction_execute(instruction.pk, now)
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.AUTHORISED
    assert not Transfer.objects.exists()  # the payment rolled back with the marking
    assert execution.execute_authorised(now) == 1  # the sweep finds it
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.EXECUTED
    assert Transfer.objects.count() == 1
    assert _balance(service.company.basic)[0] == before - AMOUNT
    assert ledger_verify().ok


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_an_instruction_not_authorised_is_left_alone(service, enterer, authoriser, payee,
                                                     now):
    instruction = enter(enterer, payee, at=now)
    assert execution.instruction_execute(instruction.pk, now).status == "ENTERED"
    assert execution.instruction_execute(999_999, now) is None
    assert not Transfer.objects.exists() and _jobs(instruction.pk) == 0


@pytest.mark.django_db
@pytest.mark.req("FC-02")
def test_the_job_pays_the_instruction(service, enterer, authoriser, payee, sign, now):
    from wangyin.corporate import tasks

    instruction = _authorised(enterer, authoriser, payee, sign, now)
    assert tasks.execute_instruction(instruction_id=instruction.pk) == "EXECUTED"
    assert tasks.execute_instruction(instruction_id=instruction.pk) == "EXECUTED"
    assert Transfer.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
@pytest.mark.req("FC-02")
def test_two_workers_at_once_pay_once(service, enterer, authoriser, payee, sign, now):
    """Real commits: the job and the sweep (or a retried job) on two connections at once."""
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    instruction = _authorised(enterer, authoriser, payee, sign, now)
    before = _balance(service.company.basic)[0]
    runs = [lambda: execution.instruction_execute(instruction.pk, now).status,
            lambda: execution.instruction_execute(instruction.pk, now).status,
            lambda: execution.execute_authorised(now)]
    results, errors = race(3, lambda i: runs[i]())
    assert not errors, errors
    assert Transfer.objects.count() == 1
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.EXECUTED
    assert _balance(service.company.basic) == (before - AMOUNT, 0)
    assert Journal.objects.filter(idempotency_key__startswith="transfer:company:").count() == 1
    assert ledger_verify().ok
