"""Customer use cases: register persons and companies, open their deposit accounts.

Keyword-only functions, one transaction each, the time they act at passed in, every
event audited (details pass through the masking module, so no ID number or phone is
stored in clear in the audit trail). The balance and status of an account live in its
ledger account; opening one goes through ``wangyin.ledger.services``.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from wangyin.audit import services as audit
from wangyin.customers import validation
from wangyin.customers.errors import (
    AccountLimitReached,
    BasicAccountRequired,
    BirthDateMismatch,
    FaceToFaceRequired,
    InvalidCreditCode,
    InvalidExpiry,
    PartyExists,
    PartyNotFound,
    ProductNotAllowed,
)
from wangyin.customers.identifiers import (
    clean_id_number,
    clean_name,
    clean_phone,
    id_number_index,
    phone_index,
)
from wangyin.customers.models import (
    CORPORATE_PRODUCTS,
    PERSONAL_PRODUCTS,
    Company,
    CustomerAccount,
    IdType,
    Person,
    Product,
)
from wangyin.ledger import services as ledger
from wangyin.ledger.models import AccountKind
from wangyin.notify import services as notify

# PBOC Yinfa [2016] No. 302: at most one Class I account per person per bank (also a
# database constraint) and, in principle, no more than five each of Class II and III.
MAX_ACCOUNTS = {Product.PERSONAL_II: 5, Product.PERSONAL_III: 5}
TEMPORARY_ACCOUNT_MAX_DAYS = 2 * 365


# --- parties -----------------------------------------------------------------------------


@transaction.atomic
def person_create(*, name: str, id_type: str, id_number: str, birth_date: date, phone: str,
                  actor: str, created_at: datetime) -> Person:
    name = clean_name(name, max_length=60)
    id_number = clean_id_number(id_type, id_number)
    phone = clean_phone(phone)
    if id_type == IdType.RESIDENT_ID and validation.resident_id_birth_date(id_number) \
            != birth_date:
        raise BirthDateMismatch()
    try:
        with transaction.atomic():
            person = Person.objects.create(
                name=name, id_type=id_type, id_number=id_number,
                id_number_index=id_number_index(id_number), birth_date=birth_date,
                phone=phone, phone_index=phone_index(phone), created_at=created_at)
    except IntegrityError as exc:
        raise PartyExists(extra={"id_type": id_type}) from exc
    audit.record(actor=actor, action="customers.person.created", target=f"person:{person.pk}",
                 occurred_at=created_at,
                 details={"name": name, "id_type": id_type, "id_number": id_number,
                          "phone": phone})
    return person


@transaction.atomic
def person_phone_change(*, person_id: int, phone: str, actor: str, reason: str,
                        at: datetime) -> Person:
    """Change a customer's reserved mobile number (ON-11): at the counter, or online where
    the bank allows it after the caller's step-up. Both the old and the new number are
    told."""
    phone = clean_phone(phone)
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    old = person.phone
    person.phone, person.phone_index = phone, phone_index(phone)
    person.save(update_fields=["phone", "phone_index"])
    audit.record(actor=actor, action="customers.person.phone_changed",
                 target=f"person:{person.pk}", occurred_at=at,
                 details={"old_phone": old, "phone": phone, "reason": reason})
    text = (f"{settings.SMS_SIGNATURE}您在本行的预留手机号已由尾号{old[-4:]}更换为尾号"
            f"{phone[-4:]}。如非本人办理，请立即致电本行客服。")
    notify.notice_send(person=person, kind="security.phone_changed",
                       params={"phone_tail": phone[-4:]}, actor=actor, at=at,
                       sms=text, sms_purpose="customers.phone_changed", phones=(old, phone))
    return person


@transaction.atomic
def company_create(*, name: str, uscc: str, legal_rep_name: str, legal_rep_id_type: str,
                   legal_rep_id_number: str, contact_name: str, contact_phone: str,
                   actor: str, created_at: datetime) -> Company:
    name = clean_name(name, max_length=120)
    uscc = validation.normalise_identifier(uscc)
    if not validation.is_uscc(uscc):
        raise InvalidCreditCode()
    legal_rep_name = clean_name(legal_rep_name, max_length=60)
    legal_rep_id_number = clean_id_number(legal_rep_id_type, legal_rep_id_number)
    contact_name = clean_name(contact_name, max_length=60)
    contact_phone = clean_phone(contact_phone)
    try:
        with transaction.atomic():
            company = Company.objects.create(
                name=name, uscc=uscc, legal_rep_name=legal_rep_name,
                legal_rep_id_type=legal_rep_id_type, legal_rep_id_number=legal_rep_id_number,
                legal_rep_id_index=id_number_index(legal_rep_id_number),
                contact_name=contact_name, contact_phone=contact_phone,
                contact_phone_index=phone_index(contact_phone), created_at=created_at)
    except IntegrityError as exc:
        raise PartyExists(extra={"uscc": uscc}) from exc
    audit.record(actor=actor, action="customers.company.created",
                 target=f"company:{company.pk}", occurred_at=created_at,
                 details={"company_name": name, "uscc": uscc,
                          "legal_rep_name": legal_rep_name,
                          "legal_rep_id_number": legal_rep_id_number,
                          "contact_name": contact_name, "contact_phone": contact_phone})
    return company


# --- accounts ----------------------------------------------------------------------------


def next_account_number() -> str:
    """A fresh 19-digit number: prefix, serial from a PostgreSQL sequence, Luhn digit."""
    prefix = settings.ACCOUNT_NUMBER_PREFIX
    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('customers_account_serial')")
        (serial,) = cursor.fetchone()
    payload = f"{prefix}{serial:0{18 - len(prefix)}d}"
    return payload + validation.luhn_check_digit(payload)


def _open(*, product: str, holder_name: str, actor: str, opened_at: datetime,
          **owner) -> CustomerAccount:
    number = next_account_number()
    ledger_account = ledger.account_open(number=number, name=holder_name,
                                         kind=AccountKind.CUSTOMER, actor=actor,
                                         opened_at=opened_at)
    account = CustomerAccount.objects.create(number=number, product=product,
                                             ledger_account=ledger_account,
                                             opened_at=opened_at, **owner)
    audit.record(actor=actor, action="customers.account.opened",
                 target=f"customer_account:{account.pk}", occurred_at=opened_at,
                 details={"account_number": number, "product": product,
                          "face_to_face": account.face_to_face,
                          "owner": f"person:{account.person_id}" if account.person_id
                          else f"company:{account.company_id}"})
    return account


@transaction.atomic
def personal_account_open(*, person_id: int, product: str, face_to_face: bool, actor: str,
                          opened_at: datetime) -> CustomerAccount:
    """Open a Class I/II/III account. Class I needs identity verified in person (the
    counter, or a channel a later issue proves equivalent); the person row is locked so
    two concurrent openings cannot both pass the count checks."""
    if product not in PERSONAL_PRODUCTS:
        raise ProductNotAllowed(extra={"product": product})
    person = Person.objects.select_for_update().filter(pk=person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": person_id})
    if product == Product.PERSONAL_I and not face_to_face:
        raise FaceToFaceRequired()
    held = CustomerAccount.objects.filter(person=person, product=product).count()
    if held >= MAX_ACCOUNTS.get(product, 1):
        raise AccountLimitReached(extra={"product": product, "held": held})
    return _open(product=product, holder_name=person.name, actor=actor, opened_at=opened_at,
                 person=person, face_to_face=face_to_face)


@transaction.atomic
def corporate_account_open(*, company_id: int, product: str, actor: str,
                           opened_at: datetime,
                           expires_on: date | None = None) -> CustomerAccount:
    """Open a settlement account: one basic account per company, general and special
    accounts only once it has one, temporary accounts with an expiry within two years."""
    if product not in CORPORATE_PRODUCTS:
        raise ProductNotAllowed(extra={"product": product})
    company = Company.objects.select_for_update().filter(pk=company_id).first()
    if company is None:
        raise PartyNotFound(extra={"company_id": company_id})
    if product == Product.CORPORATE_TEMPORARY:
        if expires_on is None or not (
                opened_at.date() < expires_on
                <= opened_at.date() + timedelta(days=TEMPORARY_ACCOUNT_MAX_DAYS)):
            raise InvalidExpiry(extra={"expires_on": str(expires_on)})
    elif expires_on is not None:
        raise InvalidExpiry(extra={"expires_on": str(expires_on)})
    accounts = CustomerAccount.objects.filter(company=company)
    has_basic = accounts.filter(product=Product.CORPORATE_BASIC).exists()
    if product == Product.CORPORATE_BASIC and has_basic:
        raise AccountLimitReached(extra={"product": product})
    if product in (Product.CORPORATE_GENERAL, Product.CORPORATE_SPECIAL) and not has_basic:
        raise BasicAccountRequired()
    return _open(product=product, holder_name=company.name, actor=actor, opened_at=opened_at,
                 company=company, face_to_face=True, expires_on=expires_on)
