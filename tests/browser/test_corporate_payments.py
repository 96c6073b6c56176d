"""A corporate payment in Chromium (FC-02, TX-02, TX-04): operator A (entering) signs in
with their USB-Key and enters a payment; operator B (authorising; the opening policy asks
for no check and one authorisation) signs in with their own key, opens the instruction from
the approval queue, checks the payment in figures and in capitals, and their key signs it on
its own window through the U盾 agent; the instruction is authorised (or already paid, once
execution runs)."""

# ruff: noqa: F811 - pytest fixtures imported as parameters


import pytest

from tests.browser.corporate import key_agent, sign_in, sign_on_key
from tests.browser.test_login import _shot
from tests.corporate.approving import payee  # noqa: F401 -- fixture
from tests.corporate.conftest import (  # noqa: F401 -- fixtures
    authoriser,
    checker,
    company,
    enterer,
    now,
    service,
)
from wangyin.corporate.models import (
    Approval,
    ApprovalTier,
    Instruction,
    InstructionStatus,
    Step,
)

pytestmark = pytest.mark.django_db(transaction=True)



@pytest.fixture
def agents(tmp_path, live_server, enterer, checker, authoriser, now):
    """Each operator's USB-Key for the company, served by its own agent (one computer
    each); the agents' URLs by operator."""
    with key_agent(enterer, serial="UK79000100", device=tmp_path / "usbkey-0.json",
                   origin=live_server.url, at=now) as entering, \
         key_agent(authoriser, serial="UK79000101", device=tmp_path / "usbkey-1.json",
                   origin=live_server.url, at=now) as authorising, \
         key_agent(checker, serial="UK79000102", device=tmp_path / "usbkey-2.json",
                   origin=live_server.url, at=now) as checking:
        yield {enterer.pk: entering, authoriser.pk: authorising, checker.pk: checking}


def _sign_in(page, live_server, operator, settings, agents):
    settings.USBKEY_AGENT_URL = agents[operator.pk]  # this operator's computer
    sign_in(page, live_server, operator)


@pytest.mark.req("FC-02", "TX-02", "TX-04", "FA-05", "CH-02")
def test_one_operator_enters_a_payment_and_another_authorises_it_with_the_usb_key(
    page, live_server, settings, company, enterer, authoriser, payee, agents
):
    _sign_in(page, live_server, enterer, settings, agents)
    page.click("#nav-payments")
    page.wait_for_url("**/corp/payments/")
    page.select_option("#id_debit_account", str(company.basic.pk))
    page.fill("#id_payee_account", payee.number)
    page.fill("#id_payee_name", "李四")
    page.fill("#id_amount", "12345.67")
    page.fill("#id_purpose", "三月货款")
    _shot(page, "corp-payment-entry")
    page.click("#payment-submit")
    page.wait_for_url("**/corp/instructions/*/")
    assert "已录入，待授权" in page.inner_text("#instruction-status")
    assert "1 次授权" in page.inner_text("#instruction-needs")
    _shot(page, "corp-payment-entered")
    instruction = Instruction.objects.get()
    assert instruction.amount_fen == 12345_67 and instruction.entered_by_id == enterer.pk
    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")

    _sign_in(page, live_server, authoriser, settings, agents)
    page.click("#nav-approvals")
    page.wait_for_url("**/corp/approvals/")
    page.click(f"#approval-queue a[href='/corp/approvals/{instruction.pk}/']")
    page.wait_for_url(f"**/corp/approvals/{instruction.pk}/")
    assert "壹万贰仟叁佰肆拾伍元陆角柒分" in page.inner_text("#instruction-words")
    assert "三月货款" in page.inner_text("#instruction-purpose")
    assert "录入" in page.inner_text("#instruction-history")
    _shot(page, "corp-approval")
    shown = sign_on_key(page, "corp-approval-key-window")
    assert f"付款指令{instruction.pk}" in shown and "12,345.67" in shown and "李四" in shown
    assert "审批企业付款" in shown
    page.click("#approve-confirm")
    page.wait_for_url(f"**/corp/instructions/{instruction.pk}/")
    instruction.refresh_from_db()
    assert instruction.status in (InstructionStatus.AUTHORISED, InstructionStatus.EXECUTED)
    assert page.locator("#instruction-notice").is_visible()
    assert "auth01" in page.inner_text("#instruction-approvals")
    assert "授权" in page.inner_text("#instruction-history")
    _shot(page, "corp-payment-authorised")
    assert Approval.objects.get().operator_id == authoriser.pk
    assert page.console_problems == []


def _approve(page, live_server, operator, settings, agents, instruction, shot):
    _sign_in(page, live_server, operator, settings, agents)
    page.click("#nav-approvals")
    page.wait_for_url("**/corp/approvals/")
    page.click(f"#approval-queue a[href='/corp/approvals/{instruction.pk}/']")
    page.wait_for_url(f"**/corp/approvals/{instruction.pk}/")
    assert "壹拾伍万元整" in page.inner_text("#instruction-words")
    _shot(page, shot)
    shown = sign_on_key(page, f"{shot}-key-window")
    assert f"付款指令{instruction.pk}" in shown and "150,000.00" in shown
    page.click("#approve-confirm")
    page.wait_for_url(f"**/corp/instructions/{instruction.pk}/")
    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")


@pytest.mark.req("FC-02", "TX-02", "TX-04", "TX-06", "CH-05")
def test_above_the_tier_a_payment_is_entered_checked_and_authorised_by_three_operators(
    page, live_server, settings, service, company, enterer, checker, authoriser, payee,
    agents
):
    """The policy: up to ¥100,000 one authorisation; above it a check first. ¥150,000:
    pay01 enters it, chk01 checks it on their key, auth01 authorises it on theirs."""
    policy = service.policies.get()
    policy.tiers.update(checkers=1)  # the open tier (any amount above the others)
    ApprovalTier.objects.create(policy=policy, up_to_fen=100_000_00, checkers=0,
                                authorisers=1)
    _sign_in(page, live_server, enterer, settings, agents)
    page.click("#nav-payments")
    page.wait_for_url("**/corp/payments/")
    page.select_option("#id_debit_account", str(company.basic.pk))
    page.fill("#id_payee_account", payee.number)
    page.fill("#id_payee_name", "李四")
    page.fill("#id_amount", "150000.00")
    page.fill("#id_purpose", "设备款")
    page.click("#payment-submit")
    page.wait_for_url("**/corp/instructions/*/")
    assert "1 次复核" in page.inner_text("#instruction-needs")
    instruction = Instruction.objects.get()
    page.click("#corp-logout")
    page.wait_for_url("**/corp/signed-out/")

    _approve(page, live_server, checker, settings, agents, instruction, "corp-check")
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.CHECKED
    _approve(page, live_server, authoriser, settings, agents, instruction, "corp-authorise")
    instruction.refresh_from_db()
    assert instruction.status in (InstructionStatus.AUTHORISED, InstructionStatus.EXECUTED)
    steps = list(Approval.objects.order_by("pk").values_list("operator_id", "step"))
    assert steps == [(checker.pk, Step.CHECK), (authoriser.pk, Step.AUTHORISE)]
    assert page.console_problems == []
