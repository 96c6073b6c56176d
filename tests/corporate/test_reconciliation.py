"""Bank–enterprise reconciliation (FC-07): monthly balance statements issued once per
account with the ledger's balance at the end of the month (Beijing time); only an
authorising operator answers, signed with their USB-Key for the company over the canonical
answer; differences reported; reminders at most once per interval, stopped by the answer;
staff follow-up and resolution; another company's statement is out of reach."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import _uscc, cny
from tests.corporate.conftest import _person, make_operator
from tests.ops.test_demo import own_var_dir  # noqa: F401 -- fixture
from wangyin.audit.models import AuditEvent
from wangyin.authn.errors import ChallengeFailed, DigestMismatch, NotAuthorised
from wangyin.core.calendar import add_working_days
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.errors import (
    CompanyBalanceRequired,
    DifferenceInvalid,
    DifferencesOnAgreement,
    DifferencesRequired,
    NoteRequired,
    ReconcileRoleRequired,
    StatementAnswered,
    StatementNotDisputed,
    StatementNotFound,
)
from wangyin.corporate.models import CorporateService, ServiceAccount
from wangyin.corporate.models.reconciliation import BalanceStatement, StatementStatus
from wangyin.corporate.reconciliation import Answer, DifferenceSpec
from wangyin.customers import services as customers
from wangyin.customers.models import CustomerAccount
from wangyin.ledger import services as ledger
from wangyin.notify.models import SmsMessage

pytestmark = pytest.mark.django_db

BEIJING = ZoneInfo("Asia/Shanghai")
OCTOBER = date(2026, 10, 1)
NOVEMBER = date(2026, 11, 1)
LONG_AGO = datetime(2026, 1, 1, tzinfo=UTC)


def _post(cash, account, yuan: str, at: datetime, key: str):
    return ledger.journal_post(
        idempotency_key=key,
        type="DEPOSIT",
        actor="staff:test",
        posted_at=at,
        lines=[
            ledger.debit(cash.pk, cny(yuan)),
            ledger.credit(account.ledger_account_id, cny(yuan)),
        ],
    )


@pytest.fixture
def opened_long_ago(service, company):
    CustomerAccount.objects.filter(company=company).update(opened_at=LONG_AGO)
    return service


@pytest.fixture
def statements(opened_long_ago, company, now):
    """October's statements, issued now (the accounts were funded in November)."""
    assert recon.statements_issue(OCTOBER, now) == 2
    return {s.account_id: s for s in BalanceStatement.objects.all()}


@pytest.fixture
def statement(statements, company):
    return statements[company.basic.pk]


def _answer(operator, statement, answer, sign, at):
    sign.key_of(operator)
    challenge = recon.answer_challenge(operator, statement.pk, answer, at)
    recon.answer_verify(
        operator, statement.pk, answer, challenge.pk, sign(operator, challenge)["USBKEY"], at
    )
    return recon.answer_submit(operator, statement.pk, answer, challenge.pk, at)


DISAGREE = Answer(
    agree=False,
    company_balance_fen=-150_00,
    differences=(
        DifferenceSpec(
            kind="COMPANY_OUT",
            day=date(2026, 10, 31),
            amount_fen=200_00,
            description="  支票 No.1234   未兑付 ",
        ),
        DifferenceSpec(
            kind="BANK_IN", day=date(2026, 10, 30), amount_fen=50_00, description="利息"
        ),
    ),
)


@pytest.mark.req("FC-07")
def test_a_statement_has_the_balance_at_the_end_of_the_month_and_is_issued_once(
    service, company, cash, at
):
    # ¥1,000,000 arrived on 1 November (the fixture); two more movements around the end
    # of November in Beijing: one second before midnight is in, midnight is not.
    _post(
        cash,
        company.basic,
        "100.00",
        datetime(2026, 11, 30, 23, 59, 59, tzinfo=BEIJING),
        "late-november",
    )
    _post(
        cash,
        company.basic,
        "50.00",
        datetime(2026, 12, 1, 0, 0, tzinfo=BEIJING),
        "first-of-december",
    )
    issue_at = datetime(2026, 12, 1, 2, 0, tzinfo=BEIJING)
    with pytest.raises(ValueError):  # the month is not over yet
        recon.statements_issue(date(2026, 12, 1), issue_at)

    assert recon.statements_issue(NOVEMBER, issue_at) == 2
    basic = BalanceStatement.objects.get(account=company.basic)
    assert basic.period == NOVEMBER and basic.service == service
    assert basic.opening_fen == 0 and basic.closing_fen == 1_000_100_00
    assert basic.money_in_fen == 1_000_100_00 and basic.money_out_fen == 0
    assert basic.postings == 2 and basic.status == StatementStatus.ISSUED
    assert basic.due_on == add_working_days(date(2026, 12, 1), recon.DUE_WORKING_DAYS)
    general = BalanceStatement.objects.get(account=company.general)
    assert general.closing_fen == 200_000_00

    # Again (the daily job, a second worker): nothing new, nothing changed.
    assert recon.statements_issue(NOVEMBER, issue_at + timedelta(days=1)) == 0
    assert BalanceStatement.objects.count() == 2
    basic.refresh_from_db()
    assert basic.closing_fen == 1_000_100_00 and basic.issued_at == issue_at
    assert AuditEvent.objects.filter(action="corporate.statement.issued").count() == 2
    # October: the accounts were opened later and had no movement by its end: no statement.
    assert recon.statements_issue(OCTOBER, issue_at) == 0


@pytest.mark.req("FC-07")
def test_no_statement_for_a_cancelled_service_or_the_query_edition(service, company, now):
    CustomerAccount.objects.filter(company=company).update(opened_at=LONG_AGO)
    CorporateService.objects.filter(pk=service.pk).update(edition="QUERY")
    assert recon.statements_issue(OCTOBER, now) == 0
    CorporateService.objects.filter(pk=service.pk).update(
        edition="STANDARD", status="CANCELLED", cancelled_at=now
    )
    assert recon.statements_issue(OCTOBER, now) == 0
    assert not BalanceStatement.objects.exists()


@pytest.mark.req("FC-07", "FC-02")
@pytest.mark.parametrize("who", ["admin", "enterer", "checker"])
def test_only_an_authorising_operator_answers(request, statement, sign, now, who):
    operator = request.getfixturevalue(who)
    sign.key_of(operator)
    with pytest.raises(ReconcileRoleRequired):
        recon.answer_challenge(operator, statement.pk, Answer(agree=True), now)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED


@pytest.mark.req("FC-07", "TX-02")
def test_the_authoriser_agrees_with_a_signature_that_is_kept_and_verifies(
    statement, authoriser, sign, now
):
    sign.key_of(authoriser)
    challenge = recon.answer_challenge(authoriser, statement.pk, Answer(agree=True), now)
    # The key shows the account, the month, the bank's balance and the answer in words.
    shown = challenge.sign_payload
    assert statement.account.number in shown and "2026年10月" in shown
    assert "确认余额相符" in shown and "银企对账余额确认" in shown
    done = _answer(authoriser, statement, Answer(agree=True), sign, now)

    assert done.status == StatementStatus.AGREED and done.answered_by == authoriser
    assert done.signature.certificate.usb_key.company_id == statement.service.company_id
    assert recon.signed_answer_holds(BalanceStatement.objects.get(pk=statement.pk))
    event = AuditEvent.objects.get(action="corporate.statement.answered")
    assert event.actor == authoriser.actor and event.details["answer"] == "AGREE"
    with pytest.raises(StatementAnswered):  # answered once
        _answer(authoriser, statement, Answer(agree=True), sign, now)


@pytest.mark.req("FC-07", "TX-06")
def test_an_answer_needs_its_own_verified_signature(statement, authoriser, sign, now):
    sign.key_of(authoriser)
    agree = Answer(agree=True)
    challenge = recon.answer_challenge(authoriser, statement.pk, agree, now)
    with pytest.raises(NotAuthorised):  # not signed yet
        recon.answer_submit(authoriser, statement.pk, agree, challenge.pk, now)
    # The key's signature over another challenge (the "disagree" answer's).
    other = recon.answer_challenge(authoriser, statement.pk, DISAGREE, now)
    with pytest.raises(ChallengeFailed):
        recon.answer_verify(
            authoriser, statement.pk, agree, challenge.pk, sign(authoriser, other)["USBKEY"], now
        )
    # Signed "agree", submitted as "disagree": another digest, refused and burnt.
    challenge = recon.answer_challenge(authoriser, statement.pk, agree, now)
    recon.answer_verify(
        authoriser, statement.pk, agree, challenge.pk, sign(authoriser, challenge)["USBKEY"], now
    )
    with pytest.raises(DigestMismatch):
        recon.answer_submit(authoriser, statement.pk, DISAGREE, challenge.pk, now)
    with pytest.raises(NotAuthorised):
        recon.answer_submit(authoriser, statement.pk, agree, challenge.pk, now)
    statement.refresh_from_db()
    assert statement.status == StatementStatus.ISSUED and statement.signature is None


@pytest.mark.req("FC-07")
def test_a_disagreement_is_signed_with_the_companys_balance_and_the_differences(
    statement, authoriser, sign, now
):
    done = _answer(authoriser, statement, DISAGREE, sign, now)
    assert done.status == StatementStatus.DISAGREED and done.company_balance_fen == -150_00
    lines = list(done.differences.all())
    assert [(d.line, d.kind, d.amount_fen) for d in lines] == [
        (1, "COMPANY_OUT", 200_00),
        (2, "BANK_IN", 50_00),
    ]
    assert lines[0].description == "支票 No.1234 未兑付"
    # Bank 0 − cheque 200 = −200; company −150 + interest 50 = −100: ¥100 unexplained.
    assert recon.unexplained_fen(statement, recon.answer_clean(DISAGREE)) == -100_00
    assert recon.signed_answer_holds(BalanceStatement.objects.get(pk=statement.pk))
    # Changing a stored difference breaks the signed answer.
    lines[0].__class__.objects.filter(pk=lines[0].pk).update(amount_fen=1)
    assert not recon.signed_answer_holds(BalanceStatement.objects.get(pk=statement.pk))


@pytest.mark.req("FC-07")
@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (Answer(agree=False, company_balance_fen=1, differences=()), DifferencesRequired),
        (Answer(agree=False, differences=DISAGREE.differences), CompanyBalanceRequired),
        (Answer(agree=True, differences=DISAGREE.differences), DifferencesOnAgreement),
        (
            Answer(
                agree=False,
                company_balance_fen=1,
                differences=(
                    DifferenceSpec(
                        kind="BANK_IN", day=date(2026, 10, 1), amount_fen=0, description="x"
                    ),
                ),
            ),
            DifferenceInvalid,
        ),
        (
            Answer(
                agree=False,
                company_balance_fen=1,
                differences=(
                    DifferenceSpec(
                        kind="NOPE", day=date(2026, 10, 1), amount_fen=1, description="x"
                    ),
                ),
            ),
            DifferenceInvalid,
        ),
        (
            Answer(
                agree=False,
                company_balance_fen=1,
                differences=(
                    DifferenceSpec(
                        kind="OTHER", day=date(2026, 10, 1), amount_fen=1, description="   "
                    ),
                ),
            ),
            DifferenceInvalid,
        ),
    ],
)
def test_an_answer_that_does_not_say_enough_is_refused(
    statement, authoriser, sign, now, answer, error
):
    sign.key_of(authoriser)
    with pytest.raises(error):
        recon.answer_challenge(authoriser, statement.pk, answer, now)


def _reminders() -> list[str]:
    return list(
        SmsMessage.objects.filter(purpose="corporate.reconciliation")
        .order_by("pk")
        .values_list("body", flat=True)
    )


@pytest.mark.req("FC-07", "TX-09")
def test_unanswered_statements_are_reminded_at_most_once_per_interval_until_answered(
    statements, company, authoriser, sign, now
):
    assert recon.reminders_send(now + timedelta(days=4)) == 0  # too early
    first = now + timedelta(days=recon.REMIND_AFTER_DAYS)
    assert recon.reminders_send(first) == 1  # one SMS for the company's two statements
    [body] = _reminders()
    assert company.basic.number[-4:] in body and company.general.number[-4:] in body
    assert "2026年10月" in body and company.name in body
    assert SmsMessage.objects.get(purpose="corporate.reconciliation").phone == company.contact_phone
    assert recon.reminders_send(first + timedelta(days=1)) == 0  # not again so soon
    assert len(_reminders()) == 1

    _answer(authoriser, statements[company.basic.pk], Answer(agree=True), sign, now)
    second = first + timedelta(days=recon.REMIND_EVERY_DAYS)
    assert recon.reminders_send(second) == 1
    body = _reminders()[-1]
    assert company.general.number[-4:] in body and company.basic.number[-4:] not in body
    assert "已超过回复期限" in body or "前" in body
    third = second + timedelta(days=recon.REMIND_EVERY_DAYS)
    assert recon.reminders_send(third) == 1
    # REMINDERS_MAX reached: staff follow it up from here.
    assert recon.reminders_send(third + timedelta(days=30)) == 0
    general = BalanceStatement.objects.get(account=company.general)
    assert general.reminders_sent == recon.REMINDERS_MAX == 3
    basic = BalanceStatement.objects.get(account=company.basic)
    assert basic.reminders_sent == 1


@pytest.mark.req("FC-07", "AD-02")
def test_staff_follow_up_a_disagreement_and_resolve_it(statements, company, authoriser, sign, now):
    basic, general = statements[company.basic.pk], statements[company.general.pk]
    _answer(authoriser, basic, DISAGREE, sign, now)
    later = now + timedelta(days=40)  # general is now overdue
    queue = list(recon.staff_queue(later))
    assert [s.pk for s in queue] == [basic.pk, general.pk]
    assert list(recon.staff_queue(now)) == [basic]  # general not due yet

    with pytest.raises(NoteRequired):
        recon.note_add(statement_id=basic.pk, staff="staff:teller1", text="  ", at=later)
    note = recon.note_add(
        statement_id=basic.pk, staff="staff:teller1", text="已致电企业财务，支票尚未兑付", at=later
    )
    assert note.actor == "staff:teller1"
    with pytest.raises(StatementNotDisputed):  # nothing to resolve on an unanswered one
        recon.resolve(statement_id=general.pk, staff="staff:teller1", text="x", at=later)
    done = recon.resolve(
        statement_id=basic.pk,
        staff="staff:teller1",
        text="未达账项已核对，差异为企业记账错误",
        at=later,
    )
    assert done.status == StatementStatus.RESOLVED and done.resolved_by == "staff:teller1"
    assert [n.action for n in done.notes.all()] == ["NOTE", "RESOLVED"]
    assert {"corporate.statement.noted", "corporate.statement.resolved"} <= set(
        AuditEvent.objects.filter(actor="staff:teller1").values_list("action", flat=True)
    )
    assert "差异已由本行核实处理" in _reminders()[-1]
    assert [s.pk for s in recon.staff_queue(later)] == [general.pk]
    with pytest.raises(StatementNotDisputed):
        recon.resolve(statement_id=basic.pk, staff="staff:teller1", text="again", at=later)


@pytest.mark.req("FC-07", "SE-09")
def test_another_companys_statement_is_out_of_reach(
    statement, make_company, make_person, sign, now
):
    other = make_company(name="另一家公司", uscc=_uscc("91360702MA35R8LX2"))
    account = customers.corporate_account_open(
        company_id=other.pk, product="CORPORATE_BASIC", actor="staff:1", opened_at=now
    )
    service = CorporateService.objects.create(
        company=other,
        number="2000000002",
        edition="STANDARD",
        opened_at=now,
        opened_by="staff:teller1",
    )
    ServiceAccount.objects.create(
        service=service, account=account, linked_at=now, linked_by="staff:teller1"
    )
    stranger = make_operator(
        service, _person(make_person, 9), code="auth09", roles=["AUTHORISE"], at=now
    )
    sign.key_of(stranger)
    assert not recon.statements_for(stranger).exists()
    with pytest.raises(StatementNotFound):
        recon.statement_of(stranger, statement.pk)
    with pytest.raises(StatementNotFound):
        recon.answer_challenge(stranger, statement.pk, Answer(agree=True), now)


@pytest.mark.req("FC-07", "SE-09")
def test_an_operator_sees_only_the_statements_of_accounts_in_their_scope(
    statements, company, authoriser, sign, now
):
    authoriser.scopes.filter(account=company.general).delete()
    assert [s.account_id for s in recon.statements_for(authoriser)] == [company.basic.pk]
    with pytest.raises(StatementNotFound):
        _answer(authoriser, statements[company.general.pk], Answer(agree=True), sign, now)


@pytest.mark.req("FC-07")
def test_the_demo_company_has_last_months_statements_to_answer(own_var_dir):
    from django.db.models import Sum
    from django.utils import timezone

    from wangyin.ledger.models import Posting
    from wangyin.ops.demo import load_demo

    now = timezone.now().replace(microsecond=0)
    first = load_demo(now=now, history_size=250)
    month = recon.previous_month(now)
    statements = list(BalanceStatement.objects.select_related("account__ledger_account"))
    assert {s.account.product for s in statements} == {"CORPORATE_BASIC", "CORPORATE_GENERAL"}
    assert {s.period for s in statements} == {month}
    assert any("balance statement" in line for line in first.created)
    _start, end = recon.month_bounds(month)
    for statement in statements:
        # The month-end balance is the sum of every posting before the month ended.
        ledger_account = statement.account.ledger_account
        total = Posting.objects.filter(account=ledger_account, posted_at__lt=end).aggregate(
            total=Sum("amount", default=0)
        )["total"]
        assert statement.closing_fen == ledger_account.sign * total
        assert statement.status == StatementStatus.ISSUED
    again = load_demo(now=now, history_size=250)
    assert BalanceStatement.objects.count() == 2
    assert not any("balance statement" in line for line in again.created)


@pytest.mark.req("FC-07")
def test_the_daily_jobs_issue_last_months_statements_and_remind(
    opened_long_ago, company, monkeypatch
):
    from procrastinate.contrib.django import app

    from wangyin.core import clock
    from wangyin.corporate import tasks

    periodic = {p.periodic_id for p in app.periodic_registry.periodic_tasks.values()}
    assert {"corporate-issue-statements", "corporate-statement-reminders"} <= periodic
    first = datetime(2026, 11, 1, 1, 10, tzinfo=BEIJING)
    monkeypatch.setattr(clock, "now", lambda: first)
    assert tasks.issue_statements(timestamp=0) == 2  # October's, on the 1st
    assert tasks.issue_statements(timestamp=0) == 0
    assert set(BalanceStatement.objects.values_list("period", flat=True)) == {OCTOBER}
    monkeypatch.setattr(clock, "now", lambda: first + timedelta(days=6))
    assert tasks.statement_reminders(timestamp=0) == 1
    assert tasks.statement_reminders(timestamp=0) == 0
