"""In-app notices (消息中心): written with the change they tell of, never carrying a code or a
full number, read only by their owner."""

import re
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import translation

from tests.payments.conftest import instruction, pay
from wangyin.audit.models import AuditEvent
from wangyin.identity import services as identity
from wangyin.identity.errors import LoginFailed, LoginLocked
from wangyin.ledger.models import Journal
from wangyin.notify import kinds, selectors, services
from wangyin.notify.errors import NoticeNotFound
from wangyin.notify.models import Notice, SmsMessage
from wangyin.payments import directory, sandbox, settlement
from wangyin.payments.models import ClearingMessage, Transfer

pytestmark = pytest.mark.django_db
ICBC = "102428000013"
PASSWORD = "Tq7mX9vK"


def _notice(person, *, kind="security.password_changed", params=None, at, **extra):
    return services.notice_send(person=person, kind=kind, params=params or {}, at=at, **extra)


@pytest.mark.req("TX-09")
def test_a_transfer_tells_payer_and_payee_in_the_message_centre(payer, payee, at):
    user, account = payer
    transfer = pay(user, instruction(account, payee, yuan="1234.56"), at)
    mine = Notice.objects.get(person_id=user.person_id, category="FUNDS")
    theirs = Notice.objects.get(person_id=payee.person_id)
    assert (mine.kind, mine.category, mine.ref) == ("funds.debit", "FUNDS",
                                                     f"transfer:{transfer.pk}")
    assert mine.transfer_id == transfer.pk and mine.read_at is None
    assert (theirs.kind, theirs.ref) == ("funds.credit", "")  # not the payer's transfer page
    with translation.override("zh-hans"):
        assert "¥1,234.56" in mine.body and account.number[-4:] in mine.body
        assert "*四" in mine.body and "¥98,765.44" in mine.body  # available after
        assert "*伟" in theirs.body and payee.number[-4:] in theirs.body
    assert account.number not in mine.body and payee.number not in theirs.body
    # The SMS still go out, each with its notice, audited once under the payer's chain.
    assert SmsMessage.objects.filter(purpose__in=["payments.debit", "payments.credit"]
                                     ).count() == 2
    sent = AuditEvent.objects.filter(action="notify.notice.sent", details__kind__startswith="funds")
    assert sorted(e.target for e in sent) == sorted([f"notice:{mine.pk}", f"notice:{theirs.pk}"])
    assert {e.actor for e in sent} == {user.actor}
    assert not AuditEvent.objects.filter(actor="system:payments").exists()


@pytest.mark.req("TX-09")
def test_no_transfer_without_its_notices(payer, payee, at, monkeypatch):
    """Notices are written in the payment's transaction: if they cannot be, nothing moves."""
    user, account = payer

    def broken(kind, params):
        raise RuntimeError("message centre unavailable")

    monkeypatch.setattr(kinds, "check_params", broken)
    with pytest.raises(RuntimeError):
        pay(user, instruction(account, payee), at)
    assert not Transfer.objects.exists() and not Notice.objects.filter(category="FUNDS").exists()
    assert not Journal.objects.filter(idempotency_key__startswith="transfer:").exists()
    assert not SmsMessage.objects.filter(purpose="payments.debit").exists()


def test_a_rolled_back_transfer_takes_its_notices_with_it(payer, payee, at):
    user, account = payer
    with pytest.raises(RuntimeError), transaction.atomic():
        pay(user, instruction(account, payee), at)
        assert Notice.objects.filter(category="FUNDS").count() == 2
        raise RuntimeError("the caller's transaction fails later")
    assert not Notice.objects.filter(category="FUNDS").exists()
    assert not Transfer.objects.exists()


@pytest.mark.req("TX-09")
def test_an_interbank_return_is_told_in_the_message_centre(payer, at):
    directory.banks_load()
    user, account = payer
    transfer = pay(user, payments_order(account), at)
    message = ClearingMessage.objects.get(transfer=transfer)
    settlement.clearing_send(message_id=message.pk, now=at)
    sandbox.run_due(now=at + timedelta(minutes=2))
    returned = Notice.objects.get(person_id=user.person_id, kind="funds.returned")
    assert returned.ref == f"transfer:{transfer.pk}" and returned.category == "FUNDS"
    with translation.override("zh-hans"):
        assert sandbox.NO_SUCH_ACCOUNT in returned.body and "¥2,000.00" in returned.body
    assert "6222029999999999" not in str(returned.params)


def payments_order(account):
    from wangyin.payments import services as payments

    return payments.Instruction(debit_account_id=account.pk, payee_account="6222029999999999",
                                payee_name="赵六", amount_fen=200_000, memo="货款",
                                payee_bank=ICBC)


@pytest.mark.req("TX-09")
def test_a_credit_from_another_bank_is_told_in_the_message_centre(payee, at):
    directory.banks_load()
    sandbox.credit_incoming(payer_name="钱七", payer_account="6222020000000001234",
                            payer_bank=ICBC, payee_account=payee.number, payee_name="李四",
                            amount_fen=88_800, memo="还款", at=at)
    sandbox.run_due(now=at + timedelta(minutes=1))
    credit = Notice.objects.get(person_id=payee.person_id)
    assert credit.kind == "funds.credit" and credit.params["payer"] == "*七"
    assert credit.params["amount_fen"] == 88_800


@pytest.mark.req("CS-05")
def test_a_password_change_is_a_security_message(customer_user, at):
    user, initial = customer_user
    identity.password_change(user_id=user.pk, current_password=initial,
                             new_password=PASSWORD, ip=None, at=at)
    changed = Notice.objects.get(kind="security.password_changed")
    assert changed.person_id == user.person_id and changed.category == "SECURITY"
    assert PASSWORD not in str(changed.params) and initial not in str(changed.params)


@pytest.mark.req("CS-05")
def test_a_lock_out_is_a_security_message_with_its_sms(customer_user, at, settings):
    user, _initial = customer_user
    for _ in range(settings.LOGIN_MAX_FAILURES):
        with pytest.raises((LoginFailed, LoginLocked)):
            identity.password_login(login_name=user.login_name, password="Wrong1234", ip=None,
                                    device="d", user_agent="", at=at)
    locked = Notice.objects.get(kind="security.locked")
    assert locked.person_id == user.person_id and locked.params["until"].startswith("2026-11-0")
    assert SmsMessage.objects.filter(purpose="identity.locked").count() == 1
    event = AuditEvent.objects.get(action="notify.notice.sent", target=f"notice:{locked.pk}")
    assert event.actor == user.actor  # the customer's chain, not one shared "system" chain


def test_no_one_time_code_or_full_number_is_ever_stored(user, at):
    notice = _notice(user.person, kind="funds.credit", at=at,
                     params={"tail": "1234", "amount_fen": 100,
                             "payer": "验证码 123456 账号 6222020000000001234"})
    assert notice.params["payer"] == "验证码 ****** 账号 ***************1234"
    for bad in ({"tail": "1234", "amount_fen": 100, "payer": "x", "code": "123456"},
                {"tail": "1234", "amount_fen": "100", "payer": "x"},
                {"tail": "1234", "amount_fen": 100}):
        with pytest.raises(ValueError):
            _notice(user.person, kind="funds.credit", params=bad, at=at)
    with pytest.raises(ValueError):
        _notice(user.person, kind="no.such.kind", at=at)


@pytest.mark.req("CS-05")
def test_no_sms_code_of_a_payment_reaches_a_notice(payer, payee, at):
    """The code that confirmed the payment never appears in the message centre."""
    user, account = payer
    pay(user, instruction(account, payee), at)
    codes = {m for sms in SmsMessage.objects.all() for m in re.findall(r"\d{6}", sms.body)}
    assert codes  # the payment was confirmed with one
    for notice in Notice.objects.all():
        for language in ("zh-hans", "en"):
            with translation.override(language):
                text = f"{notice.title} {notice.body} {notice.params}"
            assert not any(code in text for code in codes)


def test_only_the_owner_reads_a_notice(user, make_person, at, later):
    other = make_person(id_type="PASSPORT", id_number="E22345678", name="王五",
                        phone="13900000002")
    notice = _notice(user.person, at=at)
    with pytest.raises(NoticeNotFound):
        services.notice_read(person_id=other.pk, notice_id=notice.pk, at=later)
    assert services.notices_read_all(person_id=other.pk, at=later) == 0
    notice.refresh_from_db()
    assert notice.read_at is None
    assert services.notice_read(person_id=user.person_id, notice_id=notice.pk,
                                at=later).read_at == later
    again = services.notice_read(person_id=user.person_id, notice_id=notice.pk,
                                 at=later + timedelta(hours=1))
    assert again.read_at == later  # the first reading counts


def test_pages_newest_first_by_keyset_with_a_category_filter(user, at):
    Notice.objects.all().delete()  # the welcome notice of the fixture's enrolment
    for n in range(25):
        _notice(user.person, at=at + timedelta(minutes=n // 2))  # pairs share a time
    _notice(user.person, kind="funds.credit", at=at,
            params={"tail": "1234", "amount_fen": 1, "payer": "*七"})
    seen, cursor = [], ""
    while True:
        page = selectors.notice_page(person_id=user.person_id, cursor=cursor, limit=10)
        seen += page.notices
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert len(seen) == 26 == len({n.pk for n in seen})
    assert seen == sorted(seen, key=lambda n: (n.created_at, n.pk), reverse=True)
    funds = selectors.notice_page(person_id=user.person_id, category="FUNDS")
    assert [n.kind for n in funds.notices] == ["funds.credit"] and not funds.next_cursor
    assert selectors.notice_page(person_id=user.person_id, cursor="garbage").notices == \
        seen[:20]


def test_the_unread_count_is_capped_and_falls_as_they_are_read(user, at, later):
    Notice.objects.all().delete()
    for _ in range(selectors.UNREAD_SHOWN + 3):
        _notice(user.person, at=at)
    assert selectors.unread_count(person_id=user.person_id) == selectors.UNREAD_SHOWN + 1
    assert services.notices_read_all(person_id=user.person_id, category="FUNDS",
                                     at=later) == 0
    services.notices_read_all(person_id=user.person_id, at=later)
    assert selectors.unread_count(person_id=user.person_id) == 0


def test_every_kind_renders_in_both_languages():
    samples = {"tail": "1234", "payee": "*四", "payer": "*伟", "date": "2026-11-01",
               "reason": "收款账号不存在", "device": "Chrome Linux", "until": "2026-11-02 00:00",
               "factor": "passkey", "phone_tail": "0001", "edition": "PRO"}
    for kind, spec in kinds.KINDS.items():
        params = {p: (100 if p.endswith("_fen") else samples[p]) for p in spec.params}
        kinds.check_params(kind, params)
        for language in ("zh-hans", "en"):
            with translation.override(language):
                body = kinds.render_body(kind, params)
                assert body and "%(" not in body, kind
                assert kinds.render_title(kind) != body


@pytest.fixture
def customer_user(make_person, at):
    person = make_person()
    return identity.internet_banking_open(
        person_id=person.pk, login_name="zhangwei_01", edition="PRO", risk_acknowledged=True,
        staff="staff:teller1", reason="counter", at=at)
