"""Corporate internet banking at the counter (ON-04, ON-05, ON-10, AD-02): opening in either
edition with the company's own accounts and an administrator whose initial password is
shown once, one service per company, the administrator's USB-Key for the company, the
administrator's password reset, linking and unlinking accounts, cancelling — and whether a
service can pay at all (FC-02)."""

import re

import pytest
from django.contrib.auth.hashers import check_password
from django.db import IntegrityError, transaction

from tests.conftest import _uscc
from tests.corporate.conftest import PIN, make_operator
from wangyin.audit.models import AuditEvent
from wangyin.authn import certificates
from wangyin.authn.models import Certificate, UsbKey
from wangyin.core.money import Money
from wangyin.corporate import counter
from wangyin.corporate.errors import (
    AccountAlreadyLinked,
    AccountNotLinkable,
    AccountNotLinked,
    InvalidEdition,
    InvalidOperatorCode,
    LastAccount,
    NoAccountToLink,
    OperatorNotFound,
    PaymentsNotReady,
    QueryEditionNoPayments,
    ServiceExists,
    ServiceNotFound,
)
from wangyin.corporate.models import (
    ApprovalPolicy,
    CorporateService,
    Instruction,
    InstructionEvent,
    Operator,
    OperatorScope,
    OperatorSession,
    ServiceAccount,
)
from wangyin.customers import services as customers
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.validation import luhn_check_digit
from wangyin.ledger import services as ledger
from wangyin.ledger.models import Account, Hold
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import SoftUsbKey

pytestmark = pytest.mark.django_db

STAFF = "staff:teller01"
OTHER_USCC = _uscc("91360702MA35R8LX2")


@pytest.fixture
def admin_person(make_person):
    return make_person()


def _open(company, person, now, *, edition="STANDARD", accounts=None, code="admin01"):
    accounts = accounts if accounts is not None else [company.basic.pk, company.general.pk]
    return counter.service_open(company_id=company.pk, edition=edition, account_ids=accounts,
                                admin_person_id=person.pk, admin_code=code, staff=STAFF,
                                at=now, reason="application form, licence and IDs checked")


def _phones(purpose: str) -> list[str]:
    return [m.phone for m in SmsMessage.objects.filter(purpose=purpose).order_by("pk")]


def _nothing_opened():
    return not (CorporateService.objects.exists() or Operator.objects.exists()
                or ApprovalPolicy.objects.exists())


@pytest.mark.req("ON-04", "AD-02")
@pytest.mark.parametrize("edition", ["STANDARD", "QUERY"])
def test_opening_links_the_accounts_and_makes_the_administrator(company, admin_person, now,
                                                                 edition):
    service, admin, password = _open(company, admin_person, now, edition=edition)
    assert service.edition == edition and service.status == "ACTIVE"
    assert re.fullmatch(r"\d{10}", service.number)
    assert luhn_check_digit(service.number[:9]) == service.number[9]
    assert sorted(service.accounts.values_list("account_id", flat=True)) == sorted(
        [company.basic.pk, company.general.pk])
    assert admin.is_admin and admin.roles == [] and admin.person == admin_person
    assert admin.must_change_password and admin.status == "ACTIVE" and admin.code == "admin01"
    assert check_password(password, admin.password) and password not in admin.password
    policy = ApprovalPolicy.objects.get(service=service)
    assert (policy.version, policy.status, policy.signature, policy.created_by) == (
        1, "LIVE", None, STAFF)
    assert list(policy.tiers.values_list("account", "up_to_fen", "checkers", "authorisers")) \
        == [(None, None, 0, 1)]
    event = AuditEvent.objects.get(action="corporate.service.opened")
    assert event.actor == STAFF and event.target == f"corporate_service:{service.pk}"
    assert event.details["reason"] and password not in str(event.details)
    assert company.basic.number not in str(event.details)  # account numbers masked
    text = SmsMessage.objects.get(purpose="corporate.opened")
    assert text.phone == admin_person.phone and service.number in text.body
    assert password not in text.body


@pytest.mark.req("ON-04")
def test_one_service_in_use_per_company(company, admin_person, now):
    service, _admin, _password = _open(company, admin_person, now)
    with pytest.raises(ServiceExists):
        _open(company, admin_person, now, code="admin02")
    with pytest.raises(IntegrityError), transaction.atomic():  # the database says so too
        CorporateService.objects.create(company=company, number="1234567897",
                                        edition="QUERY", opened_at=now, opened_by=STAFF)
    counter.service_cancel(service_id=service.pk, staff=STAFF, reason="company request",
                           at=now)
    again, _admin, _password = _open(company, admin_person, now)
    assert again.number != service.number and again.status == "ACTIVE"


@pytest.mark.req("ON-04", "SE-09")
def test_only_the_companys_own_accounts_in_use_are_linked(company, admin_person,
                                                         make_company, now):
    other = make_company(name="另一家公司", uscc=OTHER_USCC)
    theirs = customers.corporate_account_open(company_id=other.pk, product="CORPORATE_BASIC",
                                              actor="staff:1", opened_at=now)
    with pytest.raises(AccountNotLinkable):
        _open(company, admin_person, now, accounts=[company.basic.pk, theirs.pk])
    with pytest.raises(AccountNotLinkable):  # a personal account is nobody's company's
        _open(company, admin_person, now,
              accounts=[customers.personal_account_open(
                  person_id=admin_person.pk, product="PERSONAL_II", face_to_face=True,
                  actor="staff:1", opened_at=now).pk])
    ledger.account_freeze(account_id=company.general.ledger_account_id, actor="staff:1",
                          reason="court order", at=now)
    with pytest.raises(AccountNotLinkable):
        _open(company, admin_person, now)
    with pytest.raises(NoAccountToLink):
        _open(company, admin_person, now, accounts=[])
    assert _nothing_opened()


def test_opening_checks_its_fields(company, admin_person, now):
    with pytest.raises(InvalidEdition):
        _open(company, admin_person, now, edition="GOLD")
    for code in ("a", "has space", "x" * 21, "管理员"):
        with pytest.raises(InvalidOperatorCode):
            _open(company, admin_person, now, code=code)
    with pytest.raises(PartyNotFound):
        counter.service_open(company_id=company.pk, edition="QUERY",
                             account_ids=[company.basic.pk], admin_person_id=999999,
                             admin_code="admin", staff=STAFF, at=now)
    assert _nothing_opened()


@pytest.mark.req("ON-05", "AD-02")
def test_the_administrators_password_is_reset_only_with_a_new_envelope(company, admin_person,
                                                                      now):
    service, admin, first = _open(company, admin_person, now)
    Operator.objects.filter(pk=admin.pk).update(must_change_password=False, failed_attempts=5,
                                                locked_until=now)
    admin_again, second = counter.admin_password_reset(service_id=service.pk, staff=STAFF,
                                                       reason="forgotten, ID checked", at=now)
    admin.refresh_from_db()
    assert admin_again.pk == admin.pk and second != first
    assert check_password(second, admin.password) and not check_password(first, admin.password)
    assert admin.must_change_password and admin.failed_attempts == 0
    assert admin.locked_until is None
    event = AuditEvent.objects.get(action="corporate.operator.password_reset")
    assert event.actor == STAFF and event.details["channel"] == "counter"
    assert admin_person.phone in _phones("corporate.password_reset")


@pytest.mark.req("ON-10", "AD-02")
def test_the_administrators_usb_key_is_bound_for_the_company(company, admin_person, now):
    service, admin, _password = _open(company, admin_person, now)
    key, reference = counter.admin_usb_key_bind(service_id=service.pk, serial="uk30000001",
                                                staff=STAFF, at=now, reason="issued")
    assert key.company_id == company.pk and key.person == admin_person
    assert re.fullmatch(r"\d{10}", reference)
    body = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id")
    assert body.phone == admin_person.phone
    code = re.search(r"授权码 (\d{8})", body.body).group(1)
    device = SoftUsbKey("UK30000001", PIN, confirm=lambda text: True)
    certificate = certificates.usb_key_enrol(
        person=admin_person, reference_code=reference, authorisation_code=code,
        request_der=device.signing_request(PIN), at=now, company_id=company.pk)
    assert certificates.usb_key_of(admin_person) is None  # not a personal key
    with pytest.raises(OperatorNotFound):  # an operator of the service, nobody else
        counter.usb_key_end(service_id=service.pk, operator_id=admin.pk + 1000, lost=True,
                            staff=STAFF, reason="lost", at=now)
    counter.usb_key_end(service_id=service.pk, operator_id=admin.pk, lost=True, staff=STAFF,
                        reason="lost", at=now)
    assert UsbKey.objects.get(pk=key.pk).status == "LOST"
    assert Certificate.objects.get(pk=certificate.pk).status == "REVOKED"
    assert AuditEvent.objects.filter(action__in=["corporate.usb_key.bound",
                                                 "corporate.usb_key.ended"],
                                     actor=STAFF).count() == 2


@pytest.mark.req("ON-05", "AD-02")
def test_accounts_are_linked_and_unlinked_at_the_counter(company, admin_person, now):
    service, _admin, _password = _open(company, admin_person, now,
                                       accounts=[company.basic.pk])
    special = customers.corporate_account_open(company_id=company.pk,
                                               product="CORPORATE_SPECIAL", actor="staff:1",
                                               opened_at=now)
    counter.account_link(service_id=service.pk, account_id=company.general.pk, staff=STAFF,
                         reason="company request", at=now)
    with pytest.raises(AccountAlreadyLinked):
        counter.account_link(service_id=service.pk, account_id=company.general.pk,
                             staff=STAFF, reason="again", at=now)
    counter.account_link(service_id=service.pk, account_id=special.pk, staff=STAFF,
                         reason="company request", at=now)
    operator = make_operator(service, _another_person(admin_person), code="enter01",
                             roles=["ENTER"], at=now)
    assert operator.scopes.count() == 3
    counter.account_unlink(service_id=service.pk, account_id=special.pk, staff=STAFF,
                           reason="company request", at=now)
    assert set(operator.scopes.values_list("account_id", flat=True)) == {
        company.basic.pk, company.general.pk}
    assert set(counter.linked_accounts(service)) == {company.basic, company.general}
    with pytest.raises(AccountNotLinked):
        counter.account_unlink(service_id=service.pk, account_id=special.pk, staff=STAFF,
                               reason="again", at=now)
    counter.account_unlink(service_id=service.pk, account_id=company.general.pk,
                           staff=STAFF, reason="company request", at=now)
    with pytest.raises(LastAccount):
        counter.account_unlink(service_id=service.pk, account_id=company.basic.pk,
                               staff=STAFF, reason="last", at=now)
    assert AuditEvent.objects.filter(action="corporate.account.linked").count() == 2
    assert AuditEvent.objects.filter(action="corporate.account.unlinked").count() == 2
    assert _phones("corporate.accounts") == [company.contact_phone] * 4


def _another_person(person):
    from tests.conftest import _check

    return customers.person_create(name="李四", id_type="RESIDENT_ID",
                                   id_number=_check("36070219910203301"),
                                   birth_date=person.birth_date.replace(year=1991, month=2,
                                                                        day=3),
                                   phone="13907970099", actor="staff:1",
                                   created_at=person.created_at)


def _instruction(service, operator, now, *, status, key, hold=None):
    return Instruction.objects.create(
        service=service, debit_account=service.accounts.order_by("account_id")[0].account,
        payee_account="6222000000001", payee_name="收款公司", amount_fen=10_000, status=status,
        entered_by=operator, entered_at=now, idempotency_key=key, digest="d" * 64,
        canonical="{}", hold=hold, created_at=now, ended_at=now if status == "REJECTED" else None)


@pytest.mark.req("ON-05", "ON-10", "AD-02")
def test_cancelling_ends_operators_keys_and_open_instructions(company, admin_person, now,
                                                              key_of):
    service, admin, _password = _open(company, admin_person, now)
    enterer = make_operator(service, _another_person(admin_person), code="enter01",
                            roles=["ENTER"], at=now)
    key_of(admin), key_of(enterer)
    session = OperatorSession.objects.create(sid="sid-enterer", operator=enterer,
                                             factor="USBKEY", device="d", started_at=now,
                                             last_seen_at=now)
    hold = ledger.hold_place(account_id=company.basic.ledger_account_id, amount=Money(10_000),
                             idempotency_key="reserve-1", reason="reserve on entry",
                             actor=enterer.actor, placed_at=now)
    reserved = _instruction(service, enterer, now, status="ENTERED", key="k1", hold=hold)
    draft = _instruction(service, enterer, now, status="DRAFT", key="k2")
    rejected = _instruction(service, enterer, now, status="REJECTED", key="k3")
    counter.service_cancel(service_id=service.pk, staff=STAFF, reason="company request",
                           at=now)
    service.refresh_from_db()
    assert (service.status, service.cancelled_at, service.cancelled_by) == (
        "CANCELLED", now, STAFF)
    assert set(Operator.objects.filter(service=service).values_list("status", flat=True)) \
        == {"REMOVED"}
    assert OperatorSession.objects.get(pk=session.pk).end_reason == "CLOSED"
    assert not UsbKey.objects.filter(company=company, status="ACTIVE").exists()
    assert not Certificate.objects.filter(usb_key__company=company, status="ACTIVE").exists()
    for instruction in (reserved, draft):
        instruction.refresh_from_db()
        assert (instruction.status, instruction.ended_by) == ("CANCELLED", STAFF)
        assert instruction.ended_at == now and "company request" in instruction.end_reason
        event = InstructionEvent.objects.get(instruction=instruction)
        assert (event.action, event.actor, event.status) == ("cancelled", STAFF, "CANCELLED")
    rejected.refresh_from_db()
    assert rejected.status == "REJECTED" and rejected.ended_by == ""  # ended before: untouched
    assert Hold.objects.get(pk=hold.pk).status == "RELEASED"
    assert Account.objects.get(pk=company.basic.ledger_account_id).held == 0
    assert not ServiceAccount.objects.filter(service=service, unlinked_at__isnull=True).exists()
    assert ApprovalPolicy.objects.get(service=service).status == "RETIRED"
    event = AuditEvent.objects.get(action="corporate.service.cancelled")
    assert event.details["operators_ended"] == 2 and event.details["usb_keys_ended"] == 2
    assert event.details["instructions_cancelled"] == 2
    assert company.contact_phone in _phones("corporate.cancelled")
    for call in (lambda: counter.admin_password_reset(service_id=service.pk, staff=STAFF,
                                                      reason="r", at=now),
                 lambda: counter.admin_usb_key_bind(service_id=service.pk, staff=STAFF,
                                                    serial="UK30000009", at=now),
                 lambda: counter.account_link(service_id=service.pk, staff=STAFF,
                                              account_id=company.general.pk, reason="r",
                                              at=now),
                 lambda: counter.service_cancel(service_id=service.pk, staff=STAFF,
                                                reason="r", at=now)):
        with pytest.raises(ServiceNotFound):
            call()


@pytest.mark.req("FC-02")
def test_payments_need_an_enterer_and_another_authoriser(service, admin, enterer, checker,
                                                         make_person, now):
    assert isinstance(counter.payments_refusal(service), PaymentsNotReady)
    assert not counter.payments_ready(service)
    Operator.objects.filter(pk=checker.pk).update(roles=["ENTER", "AUTHORISE"])
    Operator.objects.filter(pk=enterer.pk).update(status="DISABLED")
    assert not counter.payments_ready(service)  # one person cannot approve their own
    Operator.objects.filter(pk=enterer.pk).update(status="ACTIVE")
    assert counter.payments_ready(service) and counter.payments_refusal(service) is None
    Operator.objects.filter(pk=checker.pk).update(status="DISABLED")
    assert not counter.payments_ready(service)
    Operator.objects.filter(pk=checker.pk).update(status="ACTIVE")
    CorporateService.objects.filter(pk=service.pk).update(edition="QUERY")
    service.refresh_from_db()
    assert isinstance(counter.payments_refusal(service), QueryEditionNoPayments)


@pytest.mark.req("FC-02")
def test_the_administrator_can_hold_no_payment_role(company, admin_person, now):
    _service, admin, _password = _open(company, admin_person, now)
    with pytest.raises(IntegrityError), transaction.atomic():
        Operator.objects.filter(pk=admin.pk).update(roles=["AUTHORISE"])
    assert OperatorScope.objects.filter(operator=admin).count() == 0
