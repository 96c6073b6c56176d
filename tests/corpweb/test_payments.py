"""Entering payments in the corporate web bank (FC-02) through the Django test client: the
form with the accounts of the operator's scope, one instruction for a double submit, clear
errors next to the field that enter nothing, drafts changed and submitted, cancelling with
a reason, "my instructions", and the pages each role may not use looking missing."""

# ruff: noqa: F811 - pytest fixtures imported as parameters

import re

import pytest

from tests.corporate.approving import payee  # noqa: F401 -- fixture
from wangyin.corporate.models import Instruction, InstructionStatus

from .conftest import sign_in

pytestmark = pytest.mark.django_db


def _key(page: str) -> str:
    return re.search(r'name="idempotency_key" value="([^"]+)"', page).group(1)


def _form(client, payee, **changes) -> dict:
    page = client.get("/corp/payments/").content.decode()
    data = {
        "debit_account": str(payee.debit_id),
        "payee_account": payee.number,
        "payee_name": "李四",
        "payee_bank": "",
        "amount": "1234.56",
        "purpose": "货款",
        "idempotency_key": _key(page),
        "action": "submit",
    }
    data.update(changes)
    return data


@pytest.fixture
def entering(client, service, enterer, authoriser, key_of, payee):
    sign_in(client, enterer, key_of(enterer))
    payee.debit_id = service.company.basic.pk
    return client


@pytest.mark.req("FC-02", "TX-11")
def test_a_double_submit_enters_one_instruction_and_shows_what_it_needs(entering, payee, service):
    page = entering.get("/corp/payments/").content.decode()
    assert service.company.basic.masked_number in page and "1,000,000.00" in page  # available
    assert 'name="payee_bank"' in page and 'for="id_amount"' in page
    data = _form(entering, payee)
    first = entering.post("/corp/payments/", data)
    second = entering.post("/corp/payments/", data)
    assert first.status_code == second.status_code == 302
    assert first.url == second.url
    instruction = Instruction.objects.get()
    assert instruction.status == InstructionStatus.ENTERED
    assert instruction.amount_fen == 123456 and instruction.payee_account == payee.number
    result = entering.get(first.url).content.decode()
    assert 'id="instruction-status"' in result and "已录入，待授权" in result  # no check needed
    assert "壹仟贰佰叁拾肆元伍角陆分" in result  # the amount in capitals
    assert "0 次复核" in result and "1 次授权" in result
    assert entering.get("/corp/payments/").content.decode() != page  # a new key each time
    mine = entering.get("/corp/payments/mine/?status=ENTERED").content.decode()
    assert f"/corp/instructions/{instruction.pk}/" in mine
    none = entering.get("/corp/payments/mine/?status=DRAFT").content.decode()
    assert f"/corp/instructions/{instruction.pk}/" not in none


@pytest.mark.req("FC-02")
@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"amount": "12.345"}, "amount", "2 位"),
        ({"amount": "0"}, "amount", None),
        ({"amount": "abc"}, "amount", None),
        ({"payee_account": "6222000000000000000"}, "payee_account", None),
        ({"payee_name": "王五"}, "payee_name", None),
        ({"purpose": ""}, "purpose", None),
    ],
)
def test_a_bad_amount_or_payee_is_shown_next_to_the_field_and_enters_nothing(
    entering, payee, changes, field, words
):
    response = entering.post("/corp/payments/", _form(entering, payee, **changes))
    page = response.content.decode()
    assert response.status_code == 400
    error = re.search(rf'id="id_{field}-error"[^>]*>([^<]+)<', page)
    assert error is not None, page
    if words:
        assert words in error.group(1)
    assert not Instruction.objects.exists()


@pytest.mark.req("FC-02")
def test_a_draft_is_changed_submitted_and_the_enterer_cancels_with_a_reason(entering, payee):
    saved = entering.post("/corp/payments/", _form(entering, payee, action="draft"))
    draft = Instruction.objects.get()
    assert (
        draft.status == InstructionStatus.DRAFT and saved.url == f"/corp/instructions/{draft.pk}/"
    )
    page = entering.get(saved.url).content.decode()
    assert 'id="draft-edit"' in page and 'id="draft-submit"' in page
    edit = entering.get(f"/corp/payments/{draft.pk}/edit/").content.decode()
    assert 'value="1234.56"' in edit
    changed = entering.post(
        f"/corp/payments/{draft.pk}/edit/", _form(entering, payee, amount="99.00", action="draft")
    )
    assert changed.status_code == 302
    draft.refresh_from_db()
    assert draft.amount_fen == 9900 and draft.status == InstructionStatus.DRAFT
    assert entering.post(f"/corp/payments/{draft.pk}/submit/").status_code == 302
    draft.refresh_from_db()
    assert draft.status == InstructionStatus.ENTERED
    assert entering.get(f"/corp/payments/{draft.pk}/edit/").status_code == 404

    refused = entering.post(f"/corp/payments/{draft.pk}/cancel/", {"reason": "  "})
    assert refused.status_code == 400 and 'id="cancel-error"' in refused.content.decode()
    draft.refresh_from_db()
    assert draft.status == InstructionStatus.ENTERED
    done = entering.post(f"/corp/payments/{draft.pk}/cancel/", {"reason": "金额有误"})
    assert done.status_code == 302
    draft.refresh_from_db()
    assert draft.status == InstructionStatus.CANCELLED and draft.end_reason == "金额有误"
    history = entering.get(done.url).content.decode()
    assert "金额有误" in history and "已撤销" in history


@pytest.mark.req("FC-02", "SE-09")
@pytest.mark.parametrize("who", ["checker", "authoriser", "admin"])
def test_only_an_entering_operator_reaches_the_payment_pages(
    client, request, service, enterer, authoriser, key_of, payee, now, who
):
    from tests.corporate.approving import enter

    instruction = enter(enterer, payee, at=now)
    operator = request.getfixturevalue(who)
    sign_in(client, operator, key_of(operator))
    for url in (
        "/corp/payments/",
        "/corp/payments/mine/",
        f"/corp/payments/{instruction.pk}/edit/",
    ):
        assert client.get(url).status_code == 404
    for url in (
        f"/corp/payments/{instruction.pk}/submit/",
        f"/corp/payments/{instruction.pk}/cancel/",
    ):
        assert client.post(url, {"reason": "x"}).status_code == 404
    assert client.post("/corp/payments/", {"amount": "1"}).status_code == 404
    assert Instruction.objects.get().status == InstructionStatus.ENTERED
    assert Instruction.objects.count() == 1
