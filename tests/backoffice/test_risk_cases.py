"""The risk desk's cases in the back office: the queue by desk, a case page that explains
its decisions, the forms that work it — release after a call-back, stop-payment refused
without one, escalation out of the branch's reach, loss and compensation by two people —
and nobody outside the risk roles reaching any of it (RK-15)."""

import pytest

from tests.backoffice.conftest import staff_signed_in
from tests.payments.conftest import instruction, pay, payee, payer  # noqa: F401
from tests.risk.conftest import live_rules
from wangyin.backoffice import staff
from wangyin.ledger.models import Account
from wangyin.payments.models import Transfer
from wangyin.risk.models import Case

pytestmark = pytest.mark.django_db

FULL_NAME, FULL_PHONE = "张伟", "13800138000"


@pytest.fixture
def held(payer, payee, at):  # noqa: F811
    """张伟's payment of ¥1,234.56 to 李四, held by a rule that holds any payment."""
    user, account = payer
    live_rules(at, ("hold", "is_funds", "review"))
    transfer = pay(user, instruction(account, payee), at)
    assert transfer.status == "HELD"
    return transfer, Case.objects.get(person_id=user.person_id)


def _notice(client, case) -> str:
    return client.get(f"/bo/risk/cases/{case.pk}/").context["notice"]


@pytest.mark.req("RK-06", "TX-08")
def test_an_officer_works_a_held_payment_from_the_queue_to_release(risk_officer, held, payee):  # noqa: F811
    transfer, case = held
    queue = risk_officer.get("/bo/risk/cases/")
    page = queue.content.decode()
    assert queue.status_code == 200 and f'href="/bo/risk/cases/{case.pk}/"' in page
    assert "sev-4" in page and "*伟" in page and "hold" in page
    assert FULL_NAME not in page and FULL_PHONE not in page
    detail = risk_officer.get(f"/bo/risk/cases/{case.pk}/")
    page = detail.content.decode()
    assert "¥1,234.56" in page and "*四" in page and "is_funds" in page  # the features
    assert FULL_NAME not in page and FULL_PHONE not in page and payee.number not in page
    assert 'id="escalate-form"' in page

    risk_officer.post(f"/bo/risk/cases/{case.pk}/assign/")
    assert risk_officer.get("/bo/risk/cases/?mine=on").context["cases"] == [case]
    risk_officer.post(f"/bo/risk/cases/{case.pk}/note/", {"text": "金额较大，需回访"})
    risk_officer.post(f"/bo/risk/cases/{case.pk}/callback/",
                      {"reached": "on", "text": "客户确认本人操作"})
    response = risk_officer.post(f"/bo/risk/cases/{case.pk}/close/",
                                 {"outcome": "released", "reason": "回访确认本人"})
    assert response.status_code == 302 and response.url == f"/bo/risk/cases/{case.pk}/"
    case.refresh_from_db()
    assert (case.status, case.outcome, case.assigned_to) == ("CLOSED", "released",
                                                             "staff:risk01")
    assert Transfer.objects.get(pk=transfer.pk).status == "RELEASED"
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 123_456
    assert list(case.events.values_list("kind", flat=True)) == [
        "opened", "decision", "asked", "assigned", "note", "callback", "closed"]
    assert risk_officer.get("/bo/risk/cases/").context["cases"] == []


@pytest.mark.req("RK-13", "TX-13")
def test_stop_payment_is_refused_plainly_until_a_call_back_reached_the_customer(
        risk_officer, held, payer):  # noqa: F811
    transfer, case = held
    url = f"/bo/risk/cases/{case.pk}/close/"
    risk_officer.post(url, {"outcome": "stop_payment", "reason": "客户要求止付"})
    assert "回访" in _notice(risk_officer, case)  # the refusal, in Chinese
    assert Case.objects.get(pk=case.pk).status == "OPEN"
    risk_officer.post(f"/bo/risk/cases/{case.pk}/callback/",
                      {"reached": "on", "text": "客户称非本人操作，要求止付"})
    risk_officer.post(url, {"outcome": "stop_payment", "reason": "客户要求止付"})
    assert Case.objects.get(pk=case.pk).outcome == "stop_payment"
    assert Transfer.objects.get(pk=transfer.pk).status == "REJECTED"
    assert Account.objects.get(pk=payer[1].ledger_account_id).status == "FROZEN"


def test_a_change_without_its_reason_is_refused_and_nothing_changes(risk_officer, held):
    _transfer, case = held
    risk_officer.post(f"/bo/risk/cases/{case.pk}/close/", {"outcome": "released"})
    risk_officer.post(f"/bo/risk/cases/{case.pk}/note/", {"text": ""})
    assert _notice(risk_officer, case)
    assert list(case.events.values_list("kind", flat=True)) == ["opened", "decision", "asked"]
    assert risk_officer.get(f"/bo/risk/cases/{case.pk}/close/").status_code == 405


@pytest.mark.req("RK-14", "RK-15")
def test_an_escalated_case_leaves_the_branchs_reach_and_heads_the_head_office_queue(
        risk_officer, risk_manager, held, at):
    _transfer, case = held
    other = Case.objects.create(subject="ip:203.0.113.1", opened_at=at, updated_at=at,
                                severity=4)
    risk_officer.post(f"/bo/risk/cases/{case.pk}/escalate/", {"reason": "疑似电信诈骗"})
    assert Case.objects.get(pk=case.pk).level == "HEAD"
    assert risk_officer.get("/bo/risk/cases/").context["cases"] == [other]
    assert risk_officer.get(f"/bo/risk/cases/{case.pk}/").status_code == 404
    for action, data in [("note", {"text": "x"}), ("assign", {}),
                         ("close", {"outcome": "released", "reason": "x"})]:
        assert risk_officer.post(f"/bo/risk/cases/{case.pk}/{action}/",
                                 data).status_code == 404
    assert risk_manager.get("/bo/risk/cases/").context["cases"] == [case, other]
    assert risk_manager.get("/bo/risk/cases/?level=BRANCH").context["cases"] == [other]
    page = risk_manager.get(f"/bo/risk/cases/{case.pk}/").content.decode()
    assert 'id="escalate-form"' not in page
    risk_manager.post(f"/bo/risk/cases/{case.pk}/close/",
                      {"outcome": "rejected", "reason": "总行确认涉诈"})
    assert Case.objects.get(pk=case.pk).outcome == "rejected"


@pytest.mark.req("RK-17")
def test_the_loss_recorder_does_not_decide_its_compensation(risk_officer, risk_manager, held):
    _transfer, case = held
    risk_officer.post(f"/bo/risk/cases/{case.pk}/close/",
                      {"outcome": "rejected", "reason": "涉诈"})
    risk_officer.post(f"/bo/risk/cases/{case.pk}/loss/", {"loss": "5000.00"})
    page = risk_officer.get(f"/bo/risk/cases/{case.pk}/").content.decode()
    assert 'id="compensation-form"' not in page  # not offered to the maker
    risk_officer.post(f"/bo/risk/cases/{case.pk}/compensation/",
                      {"decision": "bank", "amount": "5000.00", "reason": "先行赔付"})
    assert "另一" in _notice(risk_officer, case)
    risk_manager.post(f"/bo/risk/cases/{case.pk}/compensation/",
                      {"decision": "bank", "amount": "6000.00", "reason": "多赔"})
    assert Case.objects.get(pk=case.pk).compensation == "pending"
    risk_manager.post(f"/bo/risk/cases/{case.pk}/compensation/",
                      {"decision": "bank", "amount": "3000.00", "reason": "先行赔付"})
    case.refresh_from_db()
    assert (case.loss_fen, case.compensation, case.compensation_fen) == (500_000, "bank",
                                                                         300_000)
    assert (case.loss_recorded_by, case.compensation_decided_by) == ("staff:risk01",
                                                                     "staff:riskhq01")


@pytest.mark.req("RK-15")
@pytest.mark.parametrize("role", [staff.TELLER, staff.SECURITY_ADMIN, staff.AUDITOR])
def test_only_the_risk_roles_reach_the_cases(role, held):
    _transfer, case = held
    other = staff_signed_in("other01", role)
    for url in ("/bo/risk/cases/", f"/bo/risk/cases/{case.pk}/"):
        assert other.get(url).status_code == 404, url
    response = other.post(f"/bo/risk/cases/{case.pk}/close/",
                          {"outcome": "released", "reason": "x"})
    assert response.status_code == 404
    case.refresh_from_db()
    assert case.status == "OPEN" and case.events.count() == 3  # opened, decision, asked
