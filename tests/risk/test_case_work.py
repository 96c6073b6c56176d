"""Working a case: the queue by desk, assignment, notes, call-backs, escalation, outcomes
that move the held money, stop-payment after a call-back, the customer's confirmation and
the fraud-loss compensation under maker–checker."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction

from tests.payments.conftest import instruction, pay
from tests.risk.conftest import live_rules
from wangyin.audit.models import AuditEvent
from wangyin.ledger.models import Account, AccountStatus, Hold
from wangyin.notify.models import Notice, SmsMessage
from wangyin.payments import services as payments
from wangyin.payments.errors import AccountCannotPay
from wangyin.payments.models import Transfer
from wangyin.risk import cases, errors
from wangyin.risk.models import Case, CaseEvent

pytestmark = pytest.mark.django_db

BRANCH, HEAD = "BRANCH", "HEAD"
OFFICER, OTHER, MANAGER = "staff:risk01", "staff:risk02", "staff:riskhq01"


def _case(at, subject, severity, level=BRANCH, minutes=0, person_id=None):
    when = at + timedelta(minutes=minutes)
    return Case.objects.create(subject=subject, person_id=person_id, opened_at=when,
                               updated_at=when, severity=severity, level=level)


def _held(payer, payee, at, key="idem-1", yuan="1234.56", capture=None):
    """A payment held for review by a rule that holds any payment; its case."""
    user, account = payer
    live_rules(at, ("hold", "is_funds", "review"))
    if capture is None:
        transfer = pay(user, instruction(account, payee, yuan=yuan), at, key=key)
    else:
        with capture(execute=True):
            transfer = pay(user, instruction(account, payee, yuan=yuan), at, key=key)
    assert transfer.status == "HELD"
    return transfer, Case.objects.get(person_id=user.person_id, status="OPEN")


def _balance(account):
    row = Account.objects.get(pk=account.ledger_account_id)
    return row.balance, row.held


@pytest.mark.req("RK-06", "RK-14")
def test_the_queue_puts_the_strongest_grade_first_then_the_oldest_by_desk(at):
    low = _case(at, "ip:203.0.113.1", 1)
    old_high = _case(at, "ip:203.0.113.2", 3, minutes=1)
    new_high = _case(at, "ip:203.0.113.3", 3, minutes=5)
    critical = _case(at, "ip:203.0.113.4", 4, minutes=9)
    escalated = _case(at, "ip:203.0.113.5", 2, level=HEAD, minutes=10)
    closed = _case(at, "ip:203.0.113.6", 4)
    Case.objects.filter(pk=closed.pk).update(status="CLOSED", outcome="dismissed")
    assert cases.queue(desk=BRANCH) == [critical, old_high, new_high, low]
    # Head office sees every case, the escalations first.
    assert cases.queue(desk=HEAD) == [escalated, critical, old_high, new_high, low]
    assert cases.queue(desk=HEAD, level=HEAD) == [escalated]
    assert cases.queue(desk=BRANCH, level=HEAD) == [critical, old_high, new_high, low]
    assert cases.queue(desk=BRANCH)[0].who == "ip:203.0.113.4"


@pytest.mark.req("RK-14", "TX-08")
def test_assignment_notes_call_backs_and_escalation_are_recorded_and_audited(at, make_person):
    person = make_person()
    case = _case(at, f"person:{person.pk}", 2, person_id=person.pk)
    cases.case_assign(case_id=case.pk, to=OFFICER, by=OFFICER, desk=BRANCH, at=at)
    assert cases.queue(desk=BRANCH, assigned_to=OFFICER) == [case]
    assert cases.queue(desk=BRANCH, assigned_to=OTHER) == []
    assert cases.queue(desk=BRANCH)[0].who == "*伟"  # masked, never the full name
    cases.case_note(case_id=case.pk, text="客户近期更换设备", by=OFFICER, desk=BRANCH, at=at)
    cases.case_callback(case_id=case.pk, reached=False, text="无人接听", by=OFFICER,
                        desk=BRANCH, at=at)
    with pytest.raises(errors.ReasonRequired):
        cases.case_note(case_id=case.pk, text="  ", by=OFFICER, desk=BRANCH, at=at)
    later = at + timedelta(minutes=30)
    cases.case_escalate(case_id=case.pk, reason="金额大，疑似电信诈骗", by=OFFICER,
                        desk=BRANCH, at=later)
    case.refresh_from_db()
    assert (case.level, case.assigned_to, case.updated_at) == (HEAD, "", later)
    assert cases.queue(desk=HEAD)[0] == case and cases.queue(desk=BRANCH) == []
    # The branch no longer sees it; head office cannot escalate it further.
    with pytest.raises(errors.CaseNotFound):
        cases.case_note(case_id=case.pk, text="还在吗", by=OFFICER, desk=BRANCH, at=later)
    with pytest.raises(errors.CaseNotFound):
        cases.case_file(case_id=case.pk, desk=BRANCH)
    with pytest.raises(errors.NotAtBranch):
        cases.case_escalate(case_id=case.pk, reason="again", by=MANAGER, desk=HEAD, at=later)
    events = list(case.events.values_list("kind", "actor"))
    assert events == [("assigned", OFFICER), ("note", OFFICER), ("callback", OFFICER),
                      ("escalated", OFFICER)]
    assert case.events.get(kind="callback").details == {"reached": False}
    audited = AuditEvent.objects.filter(target=f"case:{case.pk}")
    assert sorted(audited.values_list("action", flat=True)) == [
        "risk.case.assigned", "risk.case.callback", "risk.case.escalated", "risk.case.note"]
    assert cases.case_file(case_id=case.pk, desk=HEAD).reached is False


def test_releasing_pays_the_held_transfer_and_closes_the_case(payer, payee, at):
    transfer, case = _held(payer, payee, at)
    cases.case_callback(case_id=case.pk, reached=True, text="客户确认本人操作", by=OFFICER,
                        desk=BRANCH, at=at)
    file = cases.case_file(case_id=case.pk, desk=BRANCH)
    assert [t.pk for t in file.held] == [transfer.pk] and file.held[0].payee_shown == "*四"
    assert file.decisions[-1].reasons == ["hold"]
    assert ("is_funds", True) in file.decisions[-1].feature_rows  # what the rule saw
    cases.case_close(case_id=case.pk, outcome="released", reason="回访确认本人", by=OFFICER,
                     desk=BRANCH, at=at)
    transfer.refresh_from_db()
    case.refresh_from_db()
    assert transfer.status == "RELEASED" and _balance(payee) == (123_456, 0)
    assert (case.status, case.outcome, case.closed_by) == ("CLOSED", "released", OFFICER)
    assert case.events.last().details["transfers"] == [transfer.pk]
    with pytest.raises(errors.CaseClosed):
        cases.case_note(case_id=case.pk, text="补充", by=OFFICER, desk=BRANCH, at=at)
    with pytest.raises(errors.CaseClosed):
        cases.case_close(case_id=case.pk, outcome="rejected", reason="改主意", by=OFFICER,
                         desk=BRANCH, at=at)


def test_rejecting_declines_the_held_money(payer, payee, at):
    transfer, case = _held(payer, payee, at)
    cases.case_close(case_id=case.pk, outcome="rejected", reason="收款人涉诈", by=OFFICER,
                     desk=BRANCH, at=at)
    transfer.refresh_from_db()
    assert transfer.status == "REJECTED" and _balance(payer[1]) == (10_000_000, 0)
    assert Notice.objects.filter(kind="funds.declined").exists()


def test_dismissing_is_refused_while_money_is_held_and_an_outcome_must_be_known(payer,
                                                                               payee, at):
    transfer, case = _held(payer, payee, at)
    with pytest.raises(errors.MoneyStillHeld):
        cases.case_close(case_id=case.pk, outcome="dismissed", reason="无风险", by=OFFICER,
                         desk=BRANCH, at=at)
    with pytest.raises(errors.UnknownOutcome):
        cases.case_close(case_id=case.pk, outcome="forgiven", reason="?", by=OFFICER,
                         desk=BRANCH, at=at)
    with pytest.raises(errors.ReasonRequired):
        cases.case_close(case_id=case.pk, outcome="released", reason="", by=OFFICER,
                         desk=BRANCH, at=at)
    transfer.refresh_from_db()
    assert transfer.status == "HELD" and Case.objects.get(pk=case.pk).status == "OPEN"


def test_reporting_declines_the_held_money_and_marks_the_case_for_aml(payer, payee, at):
    transfer, case = _held(payer, payee, at)
    cases.case_close(case_id=case.pk, outcome="reported", reason="可疑交易", by=OFFICER,
                     desk=BRANCH, at=at)
    assert Transfer.objects.get(pk=transfer.pk).status == "REJECTED"
    assert Case.objects.filter(status="CLOSED", outcome="reported").get() == case


@pytest.mark.req("RK-13", "TX-13")
def test_stop_payment_needs_a_call_back_that_reached_the_customer(payer, payee, at):
    user, account = payer
    transfer, case = _held(payer, payee, at)
    with pytest.raises(errors.CallbackRequired):
        cases.case_close(case_id=case.pk, outcome="stop_payment", reason="客户要求止付",
                         by=OFFICER, desk=BRANCH, at=at)
    cases.case_callback(case_id=case.pk, reached=False, text="无人接听", by=OFFICER,
                        desk=BRANCH, at=at)
    with pytest.raises(errors.CallbackRequired):  # a call that did not reach them
        cases.case_close(case_id=case.pk, outcome="stop_payment", reason="客户要求止付",
                         by=OFFICER, desk=BRANCH, at=at)
    assert Transfer.objects.get(pk=transfer.pk).status == "HELD"
    cases.case_callback(case_id=case.pk, reached=True, text="客户称非本人操作，要求止付",
                        by=OFFICER, desk=BRANCH, at=at)
    cases.case_close(case_id=case.pk, outcome="stop_payment", reason="客户要求止付",
                     by=OFFICER, desk=BRANCH, at=at)
    assert Transfer.objects.get(pk=transfer.pk).status == "REJECTED"
    frozen = Account.objects.get(pk=account.ledger_account_id)
    assert frozen.status == AccountStatus.FROZEN and frozen.held == 0
    assert not Hold.objects.filter(account_id=frozen.pk, status="PENDING").exists()
    # The customer is told, in-app and by SMS; the account pays nothing more.
    notice = Notice.objects.get(person_id=user.person_id, kind="risk.stop_payment")
    assert notice.params == {"tail": account.number[-4:]}
    assert SmsMessage.objects.filter(purpose="risk.stop_payment").exists()
    assert AuditEvent.objects.filter(action="ledger.account.frozen", actor=OFFICER).exists()
    with pytest.raises(AccountCannotPay):
        payments.transfer_quote(user=user, instruction=instruction(account, payee),
                                device_id="dev-1", ip=None, at=at)


def test_stop_payment_and_call_backs_need_a_customer(at):
    case = _case(at, "ip:203.0.113.9", 2)
    with pytest.raises(errors.NoCustomer):
        cases.case_callback(case_id=case.pk, reached=True, text="?", by=OFFICER, desk=BRANCH,
                            at=at)
    with pytest.raises(errors.NoCustomer):
        cases.case_close(case_id=case.pk, outcome="stop_payment", reason="?", by=OFFICER,
                         desk=BRANCH, at=at)
    cases.case_close(case_id=case.pk, outcome="dismissed", reason="扫描器", by=OFFICER,
                     desk=BRANCH, at=at)


@pytest.mark.req("RK-12", "TX-08")
def test_the_customer_is_asked_once_to_confirm_held_money(payer, payee, at,
                                                         django_capture_on_commit_callbacks):
    user, account = payer
    live_rules(at, ("hold", "is_funds", "review"))
    with django_capture_on_commit_callbacks(execute=True):  # a quote holds nothing
        payments.transfer_quote(user=user, instruction=instruction(account, payee),
                                device_id="dev-1", ip=None, at=at)
    assert Case.objects.get().confirmation == "" and not Notice.objects.filter(
        kind="risk.confirm").exists()
    transfer, case = _held(payer, payee, at, capture=django_capture_on_commit_callbacks)
    assert (case.confirmation, case.confirmation_asked_at) == ("asked", at)
    notice = Notice.objects.get(kind="risk.confirm")
    assert notice.params["amount_fen"] == 123_456 and notice.params["payee"] == "*四"
    sms = SmsMessage.objects.get(purpose="risk.confirm")
    assert "¥1,234.56" in sms.body and "登录网上银行" in sms.body and "http" not in sms.body
    waiting = cases.awaiting_confirmation(person_id=user.person_id)
    assert [(w.case, [t.pk for t in w.held]) for w in waiting] == [(case, [transfer.pk])]
    assert list(case.events.filter(kind="asked").values_list("details", flat=True)) == [
        {"transfers": [transfer.pk]}]
    # Confirmed: recorded, nothing moves; the question is gone.
    cases.confirmation_answer(case_id=case.pk, person_id=user.person_id, confirmed=True,
                              at=at)
    case.refresh_from_db()
    assert case.confirmation == "confirmed" and case.level == BRANCH
    assert Transfer.objects.get(pk=transfer.pk).status == "HELD"
    assert cases.awaiting_confirmation(person_id=user.person_id) == []
    with pytest.raises(errors.NothingToConfirm):
        cases.confirmation_answer(case_id=case.pk, person_id=user.person_id, confirmed=False,
                                  at=at)
    assert AuditEvent.objects.filter(action="risk.case.confirmed",
                                     actor=f"customer:{user.person_id}").exists()
    # Another held payment later is asked about again.
    later = at + timedelta(minutes=10)
    with django_capture_on_commit_callbacks(execute=True):
        pay(user, instruction(account, payee, yuan="10.00"), later, key="idem-2")
    case.refresh_from_db()
    assert (case.confirmation, case.confirmation_asked_at) == ("asked", later)
    assert Notice.objects.filter(kind="risk.confirm").count() == 2


@pytest.mark.req("RK-12", "RK-14")
def test_not_me_makes_the_case_critical_and_sends_it_to_head_office(
        payer, payee, make_person, at, django_capture_on_commit_callbacks):
    user, _account = payer
    transfer, case = _held(payer, payee, at, capture=django_capture_on_commit_callbacks)
    Case.objects.filter(pk=case.pk).update(severity=2, assigned_to=OFFICER)
    stranger = make_person(id_type="PASSPORT", id_number="G00000001", name="王五",
                           phone="13900000002")
    with pytest.raises(errors.CaseNotFound):  # another customer's case looks like none
        cases.confirmation_answer(case_id=case.pk, person_id=stranger.pk, confirmed=True,
                                  at=at)
    cases.confirmation_answer(case_id=case.pk, person_id=user.person_id, confirmed=False,
                              at=at)
    case.refresh_from_db()
    assert (case.confirmation, case.severity, case.level, case.assigned_to) == (
        "denied", 4, HEAD, "")
    assert cases.queue(desk=HEAD)[0] == case and case not in cases.queue(desk=BRANCH)
    assert list(case.events.filter(kind__in=["denied", "escalated"])
                .values_list("kind", flat=True)) == ["denied", "escalated"]
    assert Transfer.objects.get(pk=transfer.pk).status == "HELD"  # staff decide
    assert AuditEvent.objects.filter(action="risk.case.denied").exists()


@pytest.mark.req("RK-17")
def test_compensation_is_decided_by_someone_else_within_the_loss(at, make_person):
    person = make_person()
    case = _case(at, f"person:{person.pk}", 3, person_id=person.pk)
    with pytest.raises(errors.NoLossRecorded):
        cases.case_compensation_decide(case_id=case.pk, decision="bank", amount_fen=100,
                                       reason="先行赔付", by=MANAGER, desk=HEAD, at=at)
    cases.case_close(case_id=case.pk, outcome="dismissed", reason="已处理", by=OFFICER,
                     desk=BRANCH, at=at)
    with pytest.raises(errors.LossInvalid):
        cases.case_loss_record(case_id=case.pk, loss_fen=0, by=OFFICER, desk=BRANCH, at=at)
    # A closed case still takes its loss and compensation record.
    cases.case_loss_record(case_id=case.pk, loss_fen=500_000, by=OFFICER, desk=BRANCH, at=at)
    with pytest.raises(errors.SameAsLossRecorder):
        cases.case_compensation_decide(case_id=case.pk, decision="bank", amount_fen=100,
                                       reason="先行赔付", by=OFFICER, desk=BRANCH, at=at)
    with pytest.raises(errors.CompensationInvalid):
        cases.case_compensation_decide(case_id=case.pk, decision="bank", amount_fen=500_001,
                                       reason="多赔", by=MANAGER, desk=HEAD, at=at)
    with pytest.raises(errors.CompensationInvalid):
        cases.case_compensation_decide(case_id=case.pk, decision="pending", amount_fen=1,
                                       reason="?", by=MANAGER, desk=HEAD, at=at)
    cases.case_compensation_decide(case_id=case.pk, decision="insurance",
                                   amount_fen=300_000, reason="保险理赔", by=MANAGER,
                                   desk=HEAD, at=at)
    case.refresh_from_db()
    assert (case.loss_fen, case.compensation, case.compensation_fen,
            case.compensation_decided_by) == (500_000, "insurance", 300_000, MANAGER)
    with pytest.raises(errors.CompensationDecided):
        cases.case_compensation_decide(case_id=case.pk, decision="bank", amount_fen=1,
                                       reason="再赔", by=OTHER, desk=BRANCH, at=at)
    with pytest.raises(errors.CompensationDecided):
        cases.case_loss_record(case_id=case.pk, loss_fen=9, by=OTHER, desk=BRANCH, at=at)
    assert list(CaseEvent.objects.filter(case=case, kind__in=["loss", "compensation"])
                .values_list("actor", flat=True)) == [OFFICER, MANAGER]


@pytest.mark.req("RK-17")
def test_the_database_refuses_self_checked_or_excess_compensation(at):
    case = _case(at, "ip:203.0.113.7", 3)
    Case.objects.filter(pk=case.pk).update(loss_fen=100, loss_recorded_by=OFFICER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(compensation="bank", compensation_fen=50,
                                               compensation_decided_by=OFFICER)
    with pytest.raises(IntegrityError), transaction.atomic():
        Case.objects.filter(pk=case.pk).update(compensation="bank", compensation_fen=101,
                                               compensation_decided_by=MANAGER)
