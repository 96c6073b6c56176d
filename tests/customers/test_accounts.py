"""Opening personal (Class I/II/III) and corporate settlement accounts."""

from datetime import date, timedelta

import pytest
from django.db import IntegrityError, transaction

from wangyin.audit.models import AuditEvent
from wangyin.customers import selectors, services
from wangyin.customers.errors import (
    AccountLimitReached,
    BasicAccountRequired,
    FaceToFaceRequired,
    InvalidExpiry,
    PartyNotFound,
    ProductNotAllowed,
)
from wangyin.customers.models import CustomerAccount, Product
from wangyin.customers.validation import is_account_number
from wangyin.ledger.models import Account, AccountKind


@pytest.fixture
def person(make_person):
    return make_person()


@pytest.fixture
def company(make_company):
    return make_company()


def _open(person, product, at, face_to_face=True):
    return services.personal_account_open(person_id=person.pk, product=product,
                                          face_to_face=face_to_face, actor="staff:1",
                                          opened_at=at)


def _open_corporate(company, product, at, expires_on=None):
    return services.corporate_account_open(company_id=company.pk, product=product,
                                           actor="staff:1", opened_at=at,
                                           expires_on=expires_on)


@pytest.mark.django_db
@pytest.mark.req("PI-03")
def test_a_personal_account_has_a_checked_number_and_a_ledger_account(person, at):
    account = _open(person, Product.PERSONAL_I, at)
    assert len(account.number) == 19 and is_account_number(account.number)
    assert account.number.startswith("62368001")
    ledger_account = Account.objects.get(pk=account.ledger_account_id)
    assert ledger_account.number == account.number
    assert ledger_account.kind == AccountKind.CUSTOMER and ledger_account.balance == 0
    assert account.masked_number == account.number[:4] + "*" * 11 + account.number[-4:]
    event = AuditEvent.objects.get(action="customers.account.opened")
    assert event.details["account_number"] == account.masked_number
    assert selectors.account_by_number(number=account.number) == account
    assert selectors.accounts_of_person(person_id=person.pk) == [account]


@pytest.mark.django_db
def test_numbers_are_unique_and_sequential(person, at):
    a = _open(person, Product.PERSONAL_II, at)
    b = _open(person, Product.PERSONAL_II, at)
    assert int(b.number[:-1]) == int(a.number[:-1]) + 1


@pytest.mark.django_db
def test_class_i_needs_face_to_face_verification(person, at):
    with pytest.raises(FaceToFaceRequired):
        _open(person, Product.PERSONAL_I, at, face_to_face=False)
    assert not CustomerAccount.objects.exists() and not Account.objects.exists()
    assert _open(person, Product.PERSONAL_II, at, face_to_face=False).product == "PERSONAL_II"


@pytest.mark.django_db
def test_one_class_i_account_per_person_in_service_and_database(person, at):
    first = _open(person, Product.PERSONAL_I, at)
    with pytest.raises(AccountLimitReached):
        _open(person, Product.PERSONAL_I, at)
    with pytest.raises(IntegrityError), transaction.atomic():
        CustomerAccount.objects.create(number="6236800100000009999"[:18] + "0",
                                       product=Product.PERSONAL_I, person=person,
                                       ledger_account=Account.objects.create(
                                           number="X1", name="x", kind="CUSTOMER",
                                           normal_side="CREDIT", status="ACTIVE",
                                           opened_at=at),
                                       opened_at=at)
    assert list(CustomerAccount.objects.all()) == [first]


@pytest.mark.django_db
def test_at_most_five_class_ii_and_five_class_iii(person, at):
    for _ in range(5):
        _open(person, Product.PERSONAL_II, at, face_to_face=False)
        _open(person, Product.PERSONAL_III, at, face_to_face=False)
    for product in (Product.PERSONAL_II, Product.PERSONAL_III):
        with pytest.raises(AccountLimitReached):
            _open(person, product, at, face_to_face=False)
    assert CustomerAccount.objects.count() == 10


@pytest.mark.django_db
def test_products_must_match_the_party(person, company, at):
    with pytest.raises(ProductNotAllowed):
        _open(person, Product.CORPORATE_BASIC, at)
    with pytest.raises(ProductNotAllowed):
        _open_corporate(company, Product.PERSONAL_I, at)
    with pytest.raises(PartyNotFound):
        services.personal_account_open(person_id=10**9, product=Product.PERSONAL_II,
                                       face_to_face=True, actor="staff:1", opened_at=at)
    assert not CustomerAccount.objects.exists()


@pytest.mark.django_db
def test_corporate_accounts_follow_the_settlement_account_rules(company, at):
    with pytest.raises(BasicAccountRequired):
        _open_corporate(company, Product.CORPORATE_GENERAL, at)
    basic = _open_corporate(company, Product.CORPORATE_BASIC, at)
    with pytest.raises(AccountLimitReached):
        _open_corporate(company, Product.CORPORATE_BASIC, at)
    general = _open_corporate(company, Product.CORPORATE_GENERAL, at)
    special = _open_corporate(company, Product.CORPORATE_SPECIAL, at)
    with pytest.raises(InvalidExpiry):
        _open_corporate(company, Product.CORPORATE_TEMPORARY, at)
    with pytest.raises(InvalidExpiry):
        _open_corporate(company, Product.CORPORATE_TEMPORARY, at,
                        expires_on=at.date() + timedelta(days=800))
    with pytest.raises(InvalidExpiry):
        _open_corporate(company, Product.CORPORATE_GENERAL, at, expires_on=date(2027, 1, 1))
    temporary = _open_corporate(company, Product.CORPORATE_TEMPORARY, at,
                                expires_on=at.date() + timedelta(days=365))
    assert selectors.accounts_of_company(company_id=company.pk) == [basic, general, special,
                                                                    temporary]


@pytest.mark.django_db(transaction=True)
def test_concurrent_class_i_openings_produce_one_account(person, at):
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    def attempt(_):
        try:
            return _open(person, Product.PERSONAL_I, at).number
        except AccountLimitReached:
            return None
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert sum(r is not None for r in results) == 1
    assert CustomerAccount.objects.filter(product=Product.PERSONAL_I).count() == 1
