"""Transfer pages: form → confirmation (key data, step-up) → result; the server checks
everything again, and a resubmitted confirmation shows the first result."""

import pytest

from tests.web.conftest import sms_code
from wangyin.customers.models import CustomerAccount
from wangyin.customers.services import personal_account_open
from wangyin.ledger.models import Account
from wangyin.payments.models import Transfer

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.django_db


def _form(client, mine, theirs, **overrides):
    return client.post("/transfers/new/", {
        "debit_account": mine.pk, "payee_account": theirs.number, "payee_name": "李四",
        "amount": "1234.56", "memo": "房租", **overrides})


@pytest.mark.req("FP-03", "TX-03", "TX-06", "TX-12")
def test_transfer_with_an_sms_code_then_the_result(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    assert _form(client, mine, theirs).url == "/transfers/confirm/"
    page = client.get("/transfers/confirm/").content.decode()
    assert theirs.number in page and "李四" in page and "¥1,234.56" in page
    assert '<dd id="confirm-fee">免费' in page  # the shipped schedule: personal is free
    assert 'name="code"' in page
    code = sms_code("authn.transfer.same_bank")
    wrong = client.post("/transfers/confirm/", {"code": f"{(int(code) + 1) % 10**6:06d}"})
    assert wrong.status_code == 400 and not Transfer.objects.exists()
    done = client.post("/transfers/confirm/", {"code": code})
    transfer = Transfer.objects.get()
    assert done.url == f"/transfers/{transfer.pk}/"
    result = client.get(done.url).content.decode()
    assert "¥1,234.56" in result and transfer.status == "DONE"
    assert Account.objects.get(pk=theirs.ledger_account_id).balance == 123_456
    # Resubmitting the confirmation (back button, double click) pays nothing more.
    again = client.post("/transfers/confirm/", {"code": code})
    assert again.url == "/transfers/new/" and Transfer.objects.count() == 1


@pytest.mark.req("FP-03")
def test_the_fee_is_shown_before_paying_and_on_the_result(client, ready_customer, accounts,
                                                          tmp_path, settings):
    schedule = tmp_path / "fees.toml"
    schedule.write_text('[personal]\nSAME_BANK = [{ fee = "1.50" }]\n', encoding="utf-8")
    settings.FEE_SCHEDULE_FILE = str(schedule)
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    _form(client, mine, theirs)
    page = client.get("/transfers/confirm/").content.decode()
    assert '<dd id="confirm-fee">¥1.50' in page and 'href="/fees/"' in page
    done = client.post("/transfers/confirm/", {"code": sms_code("authn.transfer.same_bank")})
    assert '<dd class="amount" id="result-fee">¥1.50</dd>' in client.get(done.url).content.decode()
    assert Transfer.objects.get().fee_journal.postings.count() == 2


@pytest.mark.req("FP-03", "CS-09")
def test_a_wrong_name_is_told_on_the_form(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    response = _form(client, mine, theirs, payee_name="李五")
    assert response.status_code == 400
    assert "does not match" in response.content.decode() or "不符" in response.content.decode()
    assert not Transfer.objects.exists()


@pytest.mark.req("TX-07", "SE-09")
def test_someone_elses_account_cannot_be_chosen_or_seen(client, ready_customer, accounts):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    response = _form(client, theirs, mine, payee_name="张伟")
    assert response.status_code == 400 and not Transfer.objects.exists()
    transfer_of_other = client.get("/transfers/999999/")
    assert transfer_of_other.status_code == 404


@pytest.mark.req("TX-12")
def test_a_large_payment_shows_the_warning(client, ready_customer, accounts, fund):
    mine, theirs = accounts
    fund(mine.ledger_account, "60000.00")
    sign_in(client, "zhangwei_01", PASSWORD)
    mine_own = personal_account_open(person_id=ready_customer.person_id,
                                     product="PERSONAL_II", face_to_face=True,
                                     actor="staff:1", opened_at=mine.opened_at)
    _form(client, mine, mine_own, payee_name="", amount="50000.00")
    page = client.get("/transfers/confirm/").content.decode()
    assert 'id="large-warning"' in page and 'name="code"' not in page  # own accounts
    done = client.post("/transfers/confirm/", {})
    assert Transfer.objects.get().kind == "OWN" and done.status_code == 302
    assert CustomerAccount.objects.get(pk=mine_own.pk).ledger_account.balance == 5_000_000


def test_the_confirmation_expires(client, ready_customer, accounts, settings):
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    _form(client, mine, theirs)
    session = client.session
    session["transfer_pending"]["at"] = "2000-01-01T00:00:00+00:00"
    session.save()
    assert client.post("/transfers/confirm/", {"code": "000000"}).url == "/transfers/new/"
    assert not Transfer.objects.exists()


@pytest.mark.req("FP-03", "TX-06")
def test_a_transfer_to_another_bank_shows_its_progress(client, ready_customer, accounts, at):
    from datetime import timedelta

    from wangyin.payments import directory, sandbox

    directory.banks_load()
    sandbox.account_add(bank_code="102428000013", number="6222020000000001234", name="赵六")
    mine, _theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    form = client.get("/transfers/new/").content.decode()
    assert "中国工商银行赣州分行营业部" in form
    posted = client.post("/transfers/new/", {
        "debit_account": mine.pk, "payee_account": "6222 0200 0000 0001 234",
        "payee_bank": "102428000013", "payee_name": "赵六", "amount": "300.00", "memo": ""})
    assert posted.url == "/transfers/confirm/"
    page = client.get("/transfers/confirm/").content.decode()
    assert "中国工商银行赣州分行营业部" in page and 'id="arrival"' in page
    done = client.post("/transfers/confirm/", {"code": sms_code("authn.transfer.interbank")})
    transfer = Transfer.objects.get()
    assert transfer.status == "PROCESSING" and transfer.payee_account == "6222020000000001234"
    result = client.get(done.url).content.decode()
    assert 'id="transfer-progress"' in result and "中国工商银行" in result
    from wangyin.payments import settlement
    from wangyin.payments.models import ClearingMessage
    settlement.clearing_send(message_id=ClearingMessage.objects.get().pk, now=at)
    sandbox.run_due(now=at + timedelta(minutes=1))
    result = client.get(done.url).content.decode()
    transfer.refresh_from_db()
    assert transfer.status == "DONE" and result.count("<li>") >= 3


@pytest.mark.req("CS-09")
def test_an_unknown_payee_bank_is_refused_on_the_form(client, ready_customer, accounts):
    mine, _theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    page = client.post("/transfers/new/", {
        "debit_account": mine.pk, "payee_account": "6222020000000001234",
        "payee_bank": "999999999999", "payee_name": "赵六", "amount": "300.00"})
    assert page.status_code == 400 and not Transfer.objects.exists()


def test_the_clearing_door_is_closed_with_the_sandbox(client):
    assert client.post("/clearing/events/", b"{}", content_type="application/json"
                       ).status_code == 404


@pytest.mark.req("DT-01")
def test_the_clearing_door_takes_only_signed_events(client, settings):
    import json

    from wangyin.payments import clearing

    settings.CLEARING_ADAPTER = "http"
    body = json.dumps({"kind": "settled", "msg_id": "nope"}).encode()
    forged = client.post("/clearing/events/", body, content_type="application/json",
                         headers={clearing.SIGNATURE_HEADER: "0" * 64})
    assert forged.status_code == 403
    signed = client.post("/clearing/events/", body, content_type="application/json",
                         headers={clearing.SIGNATURE_HEADER: clearing.sign(body)})
    assert signed.status_code == 200 and json.loads(signed.content) == {"result": "unknown"}
    assert clearing.signature_ok(signed.content, signed[clearing.SIGNATURE_HEADER])
    junk = b'{"kind": "credit", "msg_id": "x", "amount_fen": -5}'
    refused = client.post("/clearing/events/", junk, content_type="application/json",
                          headers={clearing.SIGNATURE_HEADER: clearing.sign(junk)})
    assert refused.status_code == 400


@pytest.mark.req("FP-03")
def test_a_scheduled_transfer_is_set_up_listed_and_cancelled(client, ready_customer,
                                                              accounts):
    from datetime import timedelta

    from django.utils import timezone

    from wangyin.payments.models import StandingOrder

    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    mine, theirs = accounts
    sign_in(client, "zhangwei_01", PASSWORD)
    bad = _form(client, mine, theirs, when="MONTHLY", first_date="2099-01-01")
    assert bad.status_code == 400 and not StandingOrder.objects.exists()
    posted = _form(client, mine, theirs, when="ONCE", first_date=day, amount="50.00")
    assert posted.url == "/transfers/confirm/"
    page = client.get("/transfers/confirm/").content.decode()
    assert 'id="confirm-schedule"' in page and day in page
    done = client.post("/transfers/confirm/", {"code": sms_code("authn.transfer.same_bank")})
    assert done.url == "/transfers/scheduled/" and not Transfer.objects.exists()
    order = StandingOrder.objects.get()
    listed = client.get("/transfers/scheduled/").content.decode()
    assert day in listed and "李四" in listed
    cancelled = client.post(f"/transfers/scheduled/{order.pk}/cancel/")
    assert cancelled.url == "/transfers/scheduled/"
    order.refresh_from_db()
    assert order.status == "CANCELLED"
    assert client.post("/transfers/scheduled/999999/cancel/").status_code == 404
