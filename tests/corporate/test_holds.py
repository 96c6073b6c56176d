"""Company payments held for the risk desk's review (RK-02, RK-18, FC-02): a *review* at
execution holds the authorised instruction in the entering operator's risk case instead of
failing it; closing the case releases it (the worker pays it once, as signed) or refuses
it (nothing posted, reserved money released); the sweep never pays a held one."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import pytest

from tests.backoffice.conftest import staff_signed_in
from tests.corporate.approving import approve, enter, payee
from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.corporate import execution, holds
from wangyin.corporate.errors import InstructionStateRefused
from wangyin.corporate.models import Instruction, InstructionStatus
from wangyin.ledger.models import Account, Hold, HoldStatus
from wangyin.ledger.selectors import ledger_verify
from wangyin.notify.models import SmsMessage
from wangyin.payments.models import Transfer
from wangyin.risk import cases
from wangyin.risk import errors as risk_errors
from wangyin.risk.models import Case

pytestmark = pytest.mark.django_db

AMOUNT = 1234_56
REVIEW = ("corp_review", "is_funds && segment == 'corporate'", "review")


def _balance(account) -> tuple[int, int]:
    row = Account.objects.get(pk=account.ledger_account_id)
    return row.balance, row.held


def _held(enterer, authoriser, payee, sign, now) -> tuple[Instruction, Case]:
    """Authorised, then held: the risk engine says review when it is to be paid."""
    instruction = enter(enterer, payee, at=now)
    approve(authoriser, instruction, sign, now)
    live_rules(now, REVIEW)
    held = execution.instruction_execute(instruction.pk, now)
    assert held.status == InstructionStatus.HELD and held.risk_action == "review"
    return held, Case.objects.get(pk=held.held_case_id)


def _jobs(instruction_id: int) -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE task_name = %s "
            "AND args->>'instruction_id' = %s",
            ["corporate.execute_instruction", str(instruction_id)],
        )
        return cursor.fetchone()[0]


@pytest.mark.req("RK-18", "RK-02", "FC-02")
def test_a_review_at_execution_holds_it_in_the_enterers_case_and_tells_the_company(
    service, enterer, authoriser, payee, sign, now
):
    before = _balance(service.company.basic)
    instruction, case = _held(enterer, authoriser, payee, sign, now)
    assert case.subject == f"person:{enterer.person_id}" and case.status == "OPEN"
    assert not Transfer.objects.exists() and _balance(service.company.basic) == before
    assert instruction.ended_at is None  # not ended: waiting for the desk
    assert instruction.events.last().action == "held"
    texts = {m.phone: m.body for m in SmsMessage.objects.filter(purpose="corporate.held")}
    assert set(texts) == {service.company.contact_phone, enterer.person.phone}
    assert f"指令号{instruction.pk}" in texts[enterer.person.phone]
    assert "暂停支付" in texts[enterer.person.phone]
    assert AuditEvent.objects.filter(
        action="corporate.instruction.held", target=f"instruction:{instruction.pk}"
    ).exists()
    # The desk's case file lists it (masked), and money that is held cannot be dismissed.
    file = cases.case_file(case_id=case.pk, desk="BRANCH")
    assert [i.pk for i in file.company_held] == [instruction.pk]
    assert file.company_held[0].payee_shown == "*四"
    with pytest.raises(risk_errors.MoneyStillHeld):
        cases.case_close(
            case_id=case.pk,
            outcome="dismissed",
            reason="无风险",
            by="staff:risk01",
            desk="BRANCH",
            at=now,
        )


@pytest.mark.req("RK-18", "FC-02")
def test_a_held_instruction_is_not_paid_by_the_sweep_or_a_late_job(
    service, enterer, authoriser, payee, sign, now
):
    instruction, _case = _held(enterer, authoriser, payee, sign, now)
    live_rules(now)  # even with nothing to say any more: only the desk lets it go
    assert execution.execute_authorised(now) == 0
    assert execution.instruction_execute(instruction.pk, now).status == InstructionStatus.HELD
    assert not Transfer.objects.exists()


@pytest.mark.req("RK-18", "RK-02", "FC-02", "TX-06")
def test_released_by_the_desk_it_is_paid_once_as_signed(
    service, enterer, authoriser, payee, sign, now
):
    instruction, case = _held(enterer, authoriser, payee, sign, now)
    before = _balance(service.company.basic)[0]
    jobs = _jobs(instruction.pk)
    cases.case_close(
        case_id=case.pk,
        outcome="released",
        reason="回访单位确认",
        by="staff:risk01",
        desk="BRANCH",
        at=now,
    )
    released = Instruction.objects.get(pk=instruction.pk)
    assert released.status == InstructionStatus.AUTHORISED
    assert released.review_released_by == "staff:risk01"
    assert _jobs(instruction.pk) == jobs + 1  # the worker is asked in the release's transaction
    # The rule still says review: the desk's release stands, the engine is not asked again.
    paid = execution.instruction_execute(instruction.pk, now)
    assert paid.status == InstructionStatus.EXECUTED
    assert execution.instruction_execute(instruction.pk, now).status == "EXECUTED"
    assert execution.execute_authorised(now) == 0
    assert Transfer.objects.count() == 1
    assert Transfer.objects.get().risk_reasons[0] == holds.RELEASED
    assert _balance(service.company.basic)[0] == before - AMOUNT
    assert [e.action for e in paid.events.all()][-3:] == ["held", "released", "executed"]
    assert paid.events.get(action="released").actor == "staff:risk01"
    assert ledger_verify().ok
    # Releasing again changes nothing; refusing now is refused.
    holds.held_release(instruction_id=instruction.pk, staff="staff:risk01", reason="再次", at=now)
    with pytest.raises(InstructionStateRefused):
        holds.held_refuse(
            instruction_id=instruction.pk, staff="staff:risk01", reason="拒绝", at=now
        )
    assert Transfer.objects.count() == 1


@pytest.mark.req("RK-18", "TX-06")
def test_a_released_instruction_altered_while_held_is_still_never_paid(
    service, enterer, authoriser, payee, sign, now
):
    instruction, case = _held(enterer, authoriser, payee, sign, now)
    Instruction.objects.filter(pk=instruction.pk).update(amount_fen=AMOUNT * 10)
    cases.case_close(
        case_id=case.pk,
        outcome="released",
        reason="回访确认",
        by="staff:risk01",
        desk="BRANCH",
        at=now,
    )
    refused = execution.instruction_execute(instruction.pk, now)
    assert refused.status == InstructionStatus.FAILED and not Transfer.objects.exists()


@pytest.mark.req("RK-18", "RK-02", "FC-02")
@pytest.mark.parametrize("outcome", ["rejected", "reported"])
def test_refused_by_the_desk_nothing_is_posted_and_the_reserved_money_is_freed(
    service, enterer, authoriser, payee, sign, now, outcome
):
    service.reserve_on_entry = True
    service.save(update_fields=["reserve_on_entry"])
    before = _balance(service.company.basic)
    instruction, case = _held(enterer, authoriser, payee, sign, now)
    assert _balance(service.company.basic)[1] > 0  # still reserved while held
    cases.case_close(
        case_id=case.pk,
        outcome=outcome,
        reason="收款账户涉嫌诈骗",
        by="staff:risk01",
        desk="BRANCH",
        at=now,
    )
    refused = Instruction.objects.get(pk=instruction.pk)
    assert refused.status == InstructionStatus.REJECTED and refused.ended_by == "staff:risk01"
    assert refused.end_reason and "诈骗" not in refused.end_reason  # the staff's own words
    audit = AuditEvent.objects.get(action="corporate.instruction.declined")
    assert audit.details["reason"].endswith("收款账户涉嫌诈骗")  # ... are audited
    assert Hold.objects.get(pk=refused.hold_id).status == HoldStatus.RELEASED
    assert _balance(service.company.basic) == before
    assert execution.instruction_execute(instruction.pk, now).status == "REJECTED"
    assert not Transfer.objects.exists() and ledger_verify().ok
    told = SmsMessage.objects.filter(purpose="corporate.declined")
    assert {m.phone for m in told} == {service.company.contact_phone, enterer.person.phone}
    assert all("未予支付" in m.body for m in told)
    closed = Case.objects.get(pk=case.pk)
    assert closed.events.get(kind="closed").details["instructions"] == [instruction.pk]


@pytest.mark.req("RK-15", "RK-18")
def test_the_case_page_shows_the_company_payment_held(
    service, enterer, authoriser, payee, sign, now
):
    instruction, case = _held(enterer, authoriser, payee, sign, now)
    page = (
        staff_signed_in("risk01", staff.RISK_OFFICER)
        .get(f"/bo/risk/cases/{case.pk}/")
        .content.decode()
    )
    assert 'id="company-held"' in page and service.company.name in page
    assert "¥1,234.56" in page and payee.number not in page


@pytest.mark.req("RK-18", "FC-02")
def test_the_instruction_page_shows_the_hold(
    client, service, enterer, authoriser, payee, sign, now
):
    from tests.corpweb.conftest import sign_in

    instruction, case = _held(enterer, authoriser, payee, sign, now)
    sign_in(client, enterer, sign.key_of(enterer))
    page = client.get(f"/corp/instructions/{instruction.pk}/").content.decode()
    assert "等待风险审核" in page or "风险审核" in page
    assert "staff:" not in page
    cases.case_close(
        case_id=case.pk,
        outcome="rejected",
        reason="涉嫌诈骗",
        by="staff:risk01",
        desk="BRANCH",
        at=now,
    )
    page = client.get(f"/corp/instructions/{instruction.pk}/").content.decode()
    assert "staff:risk01" not in page and "涉嫌诈骗" not in page
