"""Reconciliation follow-up in the back office (FC-07, AD-02): tellers see disagreements and
overdue statements, open one with the company's signed answer and differences, record
notes and resolve it (audited, the company told); no other role reaches these pages."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

from datetime import UTC, date, datetime, timedelta

import pytest

from tests.backoffice.conftest import staff_signed_in
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    authoriser,
    company,
    key_of,
    now,
    service,
    sign,
)
from wangyin.audit.models import AuditEvent
from wangyin.backoffice import staff
from wangyin.core import clock
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.models.reconciliation import BalanceStatement, StatementStatus
from wangyin.customers.models import CustomerAccount
from wangyin.notify.models import SmsMessage

pytestmark = pytest.mark.django_db


@pytest.fixture
def disputed(service, company, authoriser, sign, now):
    """October's statements; the basic account's answered "do not agree"."""
    CustomerAccount.objects.filter(company=company).update(
        opened_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    recon.statements_issue(date(2026, 10, 1), now)
    statement = BalanceStatement.objects.get(account=company.basic)
    answer = recon.Answer(
        agree=False,
        company_balance_fen=-150_00,
        differences=(
            recon.DifferenceSpec("COMPANY_OUT", date(2026, 10, 31), 200_00, "支票1234未兑付"),
        ),
    )
    sign.key_of(authoriser)
    challenge = recon.answer_challenge(authoriser, statement.pk, answer, now)
    recon.answer_verify(
        authoriser, statement.pk, answer, challenge.pk, sign(authoriser, challenge)["USBKEY"], now
    )
    return recon.answer_submit(authoriser, statement.pk, answer, challenge.pk, now)


@pytest.mark.req("FC-07", "AD-02")
def test_a_teller_follows_up_and_resolves_a_disagreement(disputed, company, monkeypatch, now):
    bo = staff_signed_in("teller01", staff.TELLER)
    queue = bo.get("/bo/reconciliation/").content.decode()
    assert f"/bo/reconciliation/{disputed.pk}/" in queue and company.name in queue
    general = BalanceStatement.objects.get(account=company.general)
    assert f"/bo/reconciliation/{general.pk}/" not in queue  # not due yet
    monkeypatch.setattr(clock, "now", lambda: now + timedelta(days=40))
    assert f"/bo/reconciliation/{general.pk}/" in bo.get("/bo/reconciliation/").content.decode()

    url = f"/bo/reconciliation/{disputed.pk}/"
    page = bo.get(url).content.decode()
    assert "支票1234未兑付" in page and 'id="statement-differences"' in page
    assert 'id="resolve-form"' in page and 'id="statement-signature"' in page
    assert "statement-unexplained" in page
    assert bo.post(f"{url}note/", {"text": ""}).status_code == 302  # refused, shown once
    assert not disputed.notes.exists()
    bo.post(f"{url}note/", {"text": "已致电企业财务，支票尚未兑付"})
    assert bo.post(f"{url}resolve/", {"text": "未达账项已核对，余额一致"}).status_code == 302
    disputed.refresh_from_db()
    assert disputed.status == StatementStatus.RESOLVED
    assert disputed.resolved_by == "staff:teller01"
    assert [n.text for n in disputed.notes.all()] == [
        "已致电企业财务，支票尚未兑付",
        "未达账项已核对，余额一致",
    ]
    actions = set(
        AuditEvent.objects.filter(actor="staff:teller01").values_list("action", flat=True)
    )
    assert {
        "backoffice.statement.viewed",
        "corporate.statement.noted",
        "corporate.statement.resolved",
    } <= actions
    told = SmsMessage.objects.filter(purpose="corporate.reconciliation").latest("id")
    assert told.phone == company.contact_phone and "已由本行核实处理" in told.body
    page = bo.get(url).content.decode()
    assert 'id="resolve-form"' not in page and "未达账项已核对" in page
    assert (
        f"/bo/reconciliation/{disputed.pk}/" not in bo.get("/bo/reconciliation/").content.decode()
    )
    assert url in bo.get("/bo/reconciliation/?all=1").content.decode()


@pytest.mark.req("FC-07", "AD-02")
@pytest.mark.parametrize("role", [staff.SECURITY_ADMIN, staff.AUDITOR, staff.RISK_OFFICER])
def test_other_roles_do_not_reach_reconciliation(disputed, role):
    bo = staff_signed_in("other01", role)
    url = f"/bo/reconciliation/{disputed.pk}/"
    assert bo.get("/bo/reconciliation/").status_code == 404
    assert bo.get(url).status_code == 404
    assert bo.post(f"{url}resolve/", {"text": "x"}).status_code == 404
    disputed.refresh_from_db()
    assert disputed.status == StatementStatus.DISAGREED
