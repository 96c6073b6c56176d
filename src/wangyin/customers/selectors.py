"""Read-side queries for parties and their accounts. Look-ups by ID number or phone go
through the blind index; nothing here decrypts more than the rows it returns."""

from __future__ import annotations

from wangyin.customers import validation
from wangyin.customers.errors import CustomerError
from wangyin.customers.identifiers import (
    clean_id_number,
    clean_phone,
    id_number_index,
    phone_index,
)
from wangyin.customers.models import Company, CustomerAccount, Person


def person_by_id_number(*, id_type: str, id_number: str) -> Person | None:
    try:
        number = clean_id_number(id_type, id_number)
    except CustomerError:
        return None
    return Person.objects.filter(id_type=id_type,
                                 id_number_index=id_number_index(number)).first()


def persons_by_phone(*, phone: str) -> list[Person]:
    try:
        digits = clean_phone(phone)
    except CustomerError:
        return []
    return list(Person.objects.filter(phone_index=phone_index(digits)).order_by("pk"))


def company_by_uscc(*, uscc: str) -> Company | None:
    return Company.objects.filter(uscc=validation.normalise_identifier(uscc)).first()


def accounts_of_person(*, person_id: int) -> list[CustomerAccount]:
    return list(CustomerAccount.objects.filter(person_id=person_id)
                .select_related("ledger_account").order_by("pk"))


def accounts_of_company(*, company_id: int) -> list[CustomerAccount]:
    return list(CustomerAccount.objects.filter(company_id=company_id)
                .select_related("ledger_account").order_by("pk"))


def account_by_number(*, number: str) -> CustomerAccount | None:
    number = validation.normalise_identifier(number)
    if not validation.is_account_number(number):
        return None
    return (CustomerAccount.objects.filter(number=number)
            .select_related("ledger_account", "person", "company").first())


def account_of_person(*, person_id: int, account_id: int) -> CustomerAccount | None:
    """The account only if it belongs to this person (object-level access control)."""
    return (CustomerAccount.objects.filter(pk=account_id, person_id=person_id)
            .select_related("ledger_account").first())
