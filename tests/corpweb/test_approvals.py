"""Approving payments in the corporate web bank (FC-02, TX-02, TX-04): the approver's
queue, the approval page with the key data, the amount in capitals, the history and the
risk decision; the USB-Key signs the challenge the page shows; a signature made for another
instruction is refused; rejecting needs a reason; the company's list is readable by every
operator who sees the account; an enterer never reaches the approval action."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

import base64

import pytest
from django.test import Client

from tests.corporate.approving import enter, payee  # noqa: F401 -- fixture
from tests.corporate.conftest import PIN
from wangyin.corporate.models import Approval, Instruction, InstructionStatus, OperatorScope

from .conftest import payload_on, sign_in

pytestmark = pytest.mark.django_db


@pytest.fixture
def authorising(client, service, authoriser, key_of):
    sign_in(client, authoriser, key_of(authoriser))
    return client


def _signature(key, page: str) -> str:
    return base64.b64encode(key.sign(payload_on(page), PIN)).decode()


@pytest.mark.req("FC-02", "TX-02", "TX-04", "FA-05")
def test_an_authoriser_signs_the_instruction_shown_and_it_is_authorised(
    authorising, enterer, authoriser, key_of, payee, now
):
    instruction = enter(enterer, payee, at=now)
    queue = authorising.get("/corp/approvals/").content.decode()
    assert f"/corp/approvals/{instruction.pk}/" in queue and "授权" in queue

    page = authorising.get(f"/corp/approvals/{instruction.pk}/").content.decode()
    assert "壹仟贰佰叁拾肆元伍角陆分" in page and "货款" in page and payee.number in page
    assert 'id="instruction-history"' in page and "已录入" in page
    assert 'id="instruction-risk"' in page
    shown = payload_on(page)
    assert f"付款指令{instruction.pk}" in shown and "1,234.56" in shown  # what the key shows
    done = authorising.post(
        f"/corp/approvals/{instruction.pk}/",
        {"action": "approve", "usbkey_signature": _signature(key_of(authoriser), page)},
    )
    assert done.status_code == 302 and done.url == f"/corp/instructions/{instruction.pk}/"
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.AUTHORISED
    approval = Approval.objects.get()
    assert approval.operator == authoriser and approval.digest == instruction.digest
    result = authorising.get(done.url).content.decode()
    assert "已授权" in result and "auth01" in result and key_of(authoriser).serial in result
    assert (
        f"/corp/approvals/{instruction.pk}/"
        not in authorising.get("/corp/approvals/").content.decode()
    )


@pytest.mark.req("FC-02", "TX-02", "TX-06")
def test_a_signature_of_another_instruction_is_refused(
    authorising, enterer, authoriser, key_of, payee, now
):
    first = enter(enterer, payee, at=now, key="k1")
    second = enter(enterer, payee, at=now, key="k2", fen=99_00)
    page_first = authorising.get(f"/corp/approvals/{first.pk}/").content.decode()
    authorising.get(f"/corp/approvals/{second.pk}/")
    refused = authorising.post(
        f"/corp/approvals/{second.pk}/",
        {"action": "approve", "usbkey_signature": _signature(key_of(authoriser), page_first)},
    )
    assert refused.status_code == 400 and 'id="approval-error"' in refused.content.decode()
    assert not Approval.objects.exists()
    assert set(Instruction.objects.values_list("status", flat=True)) == {"ENTERED"}


@pytest.mark.req("FC-02")
def test_rejecting_needs_a_reason(authorising, enterer, payee, now):
    instruction = enter(enterer, payee, at=now)
    url = f"/corp/approvals/{instruction.pk}/"
    empty = authorising.post(url, {"action": "reject", "reason": "   "})
    assert empty.status_code == 400 and 'id="reject-error"' in empty.content.decode()
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.ENTERED
    done = authorising.post(url, {"action": "reject", "reason": "收款人不对"})
    assert done.status_code == 302
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.REJECTED
    assert instruction.end_reason == "收款人不对"
    page = authorising.get(done.url).content.decode()
    assert "收款人不对" in page and "auth01" in page


@pytest.mark.req("FC-02", "SE-09")
@pytest.mark.parametrize("who", ["enterer", "admin"])
def test_the_approval_pages_look_missing_to_an_enterer_and_the_administrator(
    client, request, service, enterer, authoriser, key_of, payee, now, who
):
    instruction = enter(enterer, payee, at=now)
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    assert client.get("/corp/approvals/").status_code == 404
    url = f"/corp/approvals/{instruction.pk}/"
    assert client.get(url).status_code == 404
    assert client.post(url, {"action": "reject", "reason": "x"}).status_code == 404
    instruction.refresh_from_db()
    assert instruction.status == InstructionStatus.ENTERED


@pytest.mark.req("FC-02", "SE-09")
def test_the_company_list_is_read_by_operators_who_see_the_account(
    client, service, company, enterer, checker, authoriser, key_of, payee, now
):
    instruction = enter(enterer, payee, at=now)
    other = Client()
    sign_in(other, checker, key_of(checker))
    listed = other.get("/corp/instructions/?status=ENTERED").content.decode()
    assert f"/corp/instructions/{instruction.pk}/" in listed
    assert (
        f"/corp/instructions/{instruction.pk}/"
        not in other.get("/corp/instructions/?status=REJECTED").content.decode()
    )
    detail = other.get(f"/corp/instructions/{instruction.pk}/").content.decode()
    assert 'id="cancel-form"' not in detail  # only the enterer cancels
    OperatorScope.objects.filter(operator=checker, account=company.basic).delete()
    assert other.get(f"/corp/instructions/{instruction.pk}/").status_code == 404
    assert (
        f"/corp/instructions/{instruction.pk}/"
        not in other.get("/corp/instructions/").content.decode()
    )
