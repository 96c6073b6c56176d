"""The payee book and transfers to a mobile number registered for receiving."""

import re
from datetime import timedelta

import pytest

from tests.payments.conftest import banking_for, instruction, pay, receive_by_mobile
from wangyin.audit.models import AuditEvent
from wangyin.authn import services as authn
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.core.money import Money
from wangyin.ledger.models import Account
from wangyin.ledger.selectors import account_statement
from wangyin.notify.models import Notice, SmsMessage
from wangyin.payments import directory, payees
from wangyin.payments import services as payments
from wangyin.payments.errors import (
    MobileLookupsExceeded,
    MobileNotRegistered,
    MobileNotScheduled,
    MobileTaken,
    PayeeExists,
    PayeeIsOwnAccount,
    PayeeNameMismatch,
    PayeeUnknown,
)
from wangyin.payments.models import MobileReceiving, Payee, TransferKind, TransferStatus

pytestmark = pytest.mark.django_db

ICBC = "102428000013"


@pytest.fixture
def banks():
    directory.banks_load()


def _code(purpose: str) -> str:
    body = SmsMessage.objects.filter(purpose=f"authn.{purpose}").latest("id").body
    return re.search(r"验证码 (\d{6})", body).group(1)


def _verify(person, challenge, purpose, digest, at):
    authn.challenge_verify(challenge_id=challenge.pk, person=person, purpose=purpose,
                           digest=digest, codes={"SMS": _code(purpose)}, at=at)


def _add(user, at, *, account, name, bank="", alias="", verify=True, add_name=None):
    quote = payees.payee_add_quote(user=user, account=account, name=name, bank_code=bank,
                                   device_id="dev-1")
    challenge = authn.challenge_issue(person=user.person, purpose=payees.ADD, at=at,
                                      factors=quote.factors, key=quote.key, device_id="dev-1")
    if verify:
        _verify(user.person, challenge, payees.ADD, quote.key.digest(), at)
    return payees.payee_add(user=user, account=account, name=add_name or name,
                            bank_code=bank, nonce=quote.key.nonce, alias=alias,
                            challenge_id=challenge.pk, device_id="dev-1", ip=None, at=at)


@pytest.fixture
def payee_user(payee, at):
    """李四 with internet banking, so he can register his number for receiving."""
    return banking_for(payee, at)


def _register(user, account, at):
    return receive_by_mobile(user, account, at)


@pytest.mark.req("FP-03", "TX-01", "TX-10", "CS-05")
def test_adding_a_payee_takes_a_step_up_over_its_key_data(payer, payee, at):
    user, _account = payer
    entry = _add(user, at, account=payee.number, name="李四", alias=" 房东 ")
    text = SmsMessage.objects.filter(purpose="authn.payee.add").latest("id").body
    assert "添加收款人" in text and payee.number[-4:] in text and "*四" in text
    assert (entry.name, entry.account, entry.bank, entry.alias) == ("李四", payee.number,
                                                                    None, "房东")
    assert entry.authorisation.used_at == at
    event = AuditEvent.objects.get(action="payments.payee.added")
    assert event.actor == user.actor and payee.number not in str(event.details)
    assert [p.pk for p in payees.payees_of(user)] == [entry.pk]
    told = Notice.objects.get(person_id=user.person_id, kind="security.payee_added")
    assert told.params == {"payee": "*四", "tail": payee.number[-4:]}


@pytest.mark.req("TX-10")
def test_a_payee_is_not_added_without_the_step_up(payer, payee, at):
    user, _account = payer
    with pytest.raises(NotAuthorised):
        _add(user, at, account=payee.number, name="李四", verify=False)
    assert not Payee.objects.exists()


@pytest.mark.req("TX-06", "TX-10")
def test_a_payee_other_than_the_confirmed_one_is_refused(payer, banks, at):
    user, _account = payer
    with pytest.raises(DigestMismatch):
        _add(user, at, account="6222020000000001234", name="赵六", bank=ICBC, add_name="赵七")
    assert not Payee.objects.exists()


def test_payee_book_entries_are_checked_like_payments(payer, payee, at):
    user, account = payer
    with pytest.raises(PayeeNameMismatch):
        payees.payee_add_quote(user=user, account=payee.number, name="李五", bank_code="",
                               device_id="dev-1")
    with pytest.raises(PayeeIsOwnAccount):
        payees.payee_add_quote(user=user, account=account.number, name="张伟", bank_code="",
                               device_id="dev-1")
    _add(user, at, account=payee.number, name="李四")
    with pytest.raises(PayeeExists):
        payees.payee_add_quote(user=user, account=payee.number, name="李四", bank_code="",
                               device_id="dev-1")


def test_rename_and_delete_only_ones_own_entries(payer, payee, payee_user, at):
    user, _account = payer
    entry = _add(user, at, account=payee.number, name="李四")
    with pytest.raises(PayeeUnknown):
        payees.payee_rename(user=payee_user, payee_id=entry.pk, alias="x", ip=None, at=at)
    with pytest.raises(PayeeUnknown):
        payees.payee_delete(user=payee_user, payee_id=entry.pk, ip=None, at=at)
    assert payees.payee_rename(user=user, payee_id=entry.pk, alias="老李", ip=None,
                               at=at).display_name == "老李"
    payees.payee_delete(user=user, payee_id=entry.pk, ip=None, at=at)
    assert not Payee.objects.exists()
    assert AuditEvent.objects.filter(action__in=["payments.payee.renamed",
                                                 "payments.payee.deleted"],
                                     actor=user.actor).count() == 2


@pytest.mark.req("FP-03")
def test_search_and_last_used_first(payer, payee, banks, at):
    user, account = payer
    zhao = _add(user, at, account="6222020000000001234", name="赵六", bank=ICBC, alias="表哥")
    li = _add(user, at + timedelta(seconds=1), account=payee.number, name="李四")
    assert [p.pk for p in payees.payees_of(user)] == [li.pk, zhao.pk]  # by name, none paid
    pay(user, instruction(account, payee, "10.00"), at + timedelta(minutes=1))
    pay(user, payments.Instruction(debit_account_id=account.pk,
                                   payee_account="6222020000000001234", payee_name="赵六",
                                   payee_bank=ICBC, amount_fen=500),
        at + timedelta(minutes=2), key="idem-2")
    found = payees.payees_of(user)
    assert [p.pk for p in found] == [zhao.pk, li.pk]
    assert found[0].last_used == at + timedelta(minutes=2)
    assert [p.pk for p in payees.payees_of(user, search="表哥")] == [zhao.pk]
    assert [p.pk for p in payees.payees_of(user, search=payee.number[-4:])] == [li.pk]
    assert [t.payee_name for t in payees.recent_payees(user)] == ["赵六", "李四"]


def _by_mobile(account, phone="13900000001", yuan="88.00"):
    return payments.Instruction(debit_account_id=account.pk, payee_account="",
                                payee_name="", payee_mobile=phone,
                                amount_fen=Money.from_yuan(yuan).fen)


@pytest.mark.req("FP-03", "PI-03")
def test_pay_to_a_registered_mobile_number(payer, payee, payee_user, at):
    user, account = payer
    _register(payee_user, payee, at)
    quote = payments.transfer_quote(user=user, instruction=_by_mobile(account),
                                    device_id="dev-1", ip=None, at=at)
    assert quote.kind == TransferKind.MOBILE and quote.operation == "transfer.mobile"
    assert (quote.key.payee_account, quote.key.payee_name) == (payee.number, "李四")
    transfer = pay(user, _by_mobile(account), at)
    assert (transfer.kind, transfer.status) == (TransferKind.MOBILE, TransferStatus.DONE)
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 8800
    text = SmsMessage.objects.filter(purpose="authn.transfer.mobile").latest("id").body
    assert "手机号转账" in text and "*四" in text
    # The payer's history keeps the name masked; the payee sees who paid them.
    paid = account_statement(account_id=account.ledger_account_id, limit=5).lines[0]
    assert paid.counterparty.name == "*四" and paid.amount.fen == -8800
    received = account_statement(account_id=payee.ledger_account_id, limit=5).lines[0]
    assert received.counterparty.name == "张伟"
    # …and the payer cannot find the full name by searching for it; the payee can.
    assert not account_statement(account_id=account.ledger_account_id,
                                 counterparty="李四").lines
    assert account_statement(account_id=account.ledger_account_id,
                             counterparty=payee.number[-4:]).lines
    assert account_statement(account_id=payee.ledger_account_id, counterparty="张伟").lines


def test_an_unregistered_or_outdated_number_finds_nobody(payer, payee, payee_user, at):
    user, account = payer
    with pytest.raises(MobileNotRegistered):
        payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="dev-1",
                                ip=None, at=at)
    _register(payee_user, payee, at)
    person = payee_user.person
    from wangyin.customers.identifiers import phone_index
    person.phone, person.phone_index = "13900000002", phone_index("13900000002")
    person.save(update_fields=["phone", "phone_index"])
    with pytest.raises(MobileNotRegistered):  # the old number no longer reaches him
        payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="dev-1",
                                ip=None, at=at)
    assert payees.mobile_registration_of(payee_user) is None


@pytest.mark.req("TX-06")
def test_a_registration_moved_after_confirming_is_not_paid(payer, payee, payee_user, at):
    from wangyin.customers.services import personal_account_open

    user, account = payer
    _register(payee_user, payee, at)
    quote = payments.transfer_quote(user=user, instruction=_by_mobile(account),
                                    device_id="dev-1", ip=None, at=at)
    from tests.payments.conftest import confirm
    challenge = confirm(user, quote, at)
    other = personal_account_open(person_id=payee.person_id, product="PERSONAL_II",
                                  face_to_face=True, actor="staff:1", opened_at=at)
    _register(payee_user, other, at + timedelta(seconds=5))
    with pytest.raises(DigestMismatch):
        payments.transfer_execute(user=user, instruction=_by_mobile(account),
                                  nonce=quote.key.nonce, challenge_id=challenge.pk,
                                  idempotency_key="k1", device_id="dev-1", ip=None,
                                  at=at + timedelta(seconds=6))
    assert Account.objects.get(pk=payee.ledger_account_id).balance == 0
    assert Account.objects.get(pk=other.ledger_account_id).balance == 0


def test_mobile_lookups_are_limited_per_payer(payer, payee, payee_user, at):
    user, account = payer
    _register(payee_user, payee, at)
    for _n in range(payees.MOBILE_LOOKUPS_PER_HOUR):
        payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="d",
                                ip=None, at=at)
    with pytest.raises(MobileLookupsExceeded):
        payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="d",
                                ip=None, at=at)
    payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="d",
                            ip=None, at=at + timedelta(hours=1, seconds=1))


def test_mobile_payments_are_not_scheduled(payer, payee, payee_user, at):
    user, account = payer
    _register(payee_user, payee, at)
    with pytest.raises(MobileNotScheduled):
        payments.transfer_quote(user=user, instruction=_by_mobile(account), device_id="d",
                                ip=None, at=at, schedule="ONCE:2026-11-10")


@pytest.mark.req("CS-05")
def test_one_number_registers_for_one_customer(payer, payee, payee_user, make_person, at):
    from wangyin.customers.services import personal_account_open

    _register(payee_user, payee, at)
    twin = make_person(id_type="PASSPORT", id_number="E99999999", name="李四妹",
                       phone="13900000001")
    twin_account = personal_account_open(person_id=twin.pk, product="PERSONAL_I",
                                         face_to_face=True, actor="staff:1", opened_at=at)
    twin_user = banking_for(twin_account, at, login_name="lisimei_01")
    with pytest.raises(MobileTaken):
        payees.mobile_register_start(user=twin_user, account_id=twin_account.pk,
                                     device_id="d", at=at)
    assert MobileReceiving.objects.get().person_id == payee.person_id
    assert payees.mobile_unregister(user=payee_user, ip=None, at=at)
    assert not MobileReceiving.objects.exists()
    assert list(Notice.objects.filter(person_id=payee.person_id, kind__contains="mobile")
                .order_by("id").values_list("kind", flat=True)) == ["security.mobile_receiving",
                                                     "security.mobile_receiving_stopped"]
