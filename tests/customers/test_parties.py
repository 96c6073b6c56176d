"""Persons and companies: validated input, encrypted identifiers, blind-index look-ups."""

from datetime import date

import pytest
from django.db import connection

from tests.conftest import ID_NUMBER, USCC
from wangyin.audit.models import AuditEvent
from wangyin.customers import selectors
from wangyin.customers.errors import (
    BirthDateMismatch,
    InvalidCreditCode,
    InvalidIdNumber,
    InvalidName,
    InvalidPhone,
    PartyExists,
)
from wangyin.customers.models import Company, Person


@pytest.mark.django_db
@pytest.mark.req("PI-04")
def test_id_numbers_and_phones_are_encrypted_in_the_table(make_person, make_company):
    person = make_person(id_number=f" {ID_NUMBER[:6]} {ID_NUMBER[6:]} ", phone="+86 138-0797-0001")
    make_company()
    with connection.cursor() as cursor:
        cursor.execute("SELECT id_number, phone, id_number_index FROM customers_person")
        id_blob, phone_blob, index = cursor.fetchone()
        cursor.execute("SELECT legal_rep_id_number, contact_phone FROM customers_company")
        company_blobs = cursor.fetchone()
    for blob in (id_blob, phone_blob, *company_blobs):
        raw = bytes(blob)
        assert raw[:1] == b"W" and b"3607" not in raw and b"1380797" not in raw
        assert b"1890797" not in raw
    assert ID_NUMBER not in index
    person = Person.objects.get(pk=person.pk)
    assert (person.id_number, person.phone) == (ID_NUMBER, "13807970001")


@pytest.mark.django_db
@pytest.mark.req("PI-04")
def test_look_ups_go_through_the_blind_index(make_person):
    person = make_person()
    assert selectors.person_by_id_number(id_type="RESIDENT_ID",
                                         id_number=ID_NUMBER.lower()) == person
    assert selectors.person_by_id_number(id_type="PASSPORT", id_number=ID_NUMBER) is None
    assert selectors.person_by_id_number(id_type="RESIDENT_ID", id_number="garbage") is None
    assert selectors.persons_by_phone(phone="138 0797 0001") == [person]
    assert selectors.persons_by_phone(phone="13807970002") == []


@pytest.mark.django_db
@pytest.mark.req("PI-03")
def test_people_see_masked_identifiers(make_person):
    person = make_person()
    assert person.masked_id_number == ID_NUMBER[:12] + "******"
    assert person.masked_phone == "138****0001"
    assert person.masked_name == "*伟"
    assert ID_NUMBER not in str(person) and "张伟" not in str(person)


@pytest.mark.django_db
@pytest.mark.req("AD-03", "PI-04")
def test_creation_is_audited_without_identifiers_in_clear(make_person, make_company):
    person = make_person()
    company = make_company()
    events = {e.action: e for e in AuditEvent.objects.all()}
    created = events["customers.person.created"]
    assert created.target == f"person:{person.pk}" and created.actor == "staff:1"
    assert created.details["id_number"] == ID_NUMBER[:12] + "******"
    assert created.details["phone"] == "138****0001"
    company_event = events["customers.company.created"]
    assert company_event.target == f"company:{company.pk}"
    assert ID_NUMBER not in str(company_event.details)
    assert "18907970009" not in str(company_event.details)


@pytest.mark.django_db
@pytest.mark.parametrize(("overrides", "error"), [
    ({"id_number": ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1")}, InvalidIdNumber),
    ({"id_type": "LIBRARY_CARD"}, InvalidIdNumber),
    ({"id_type": "PASSPORT", "id_number": "E12"}, InvalidIdNumber),
    ({"phone": "12345"}, InvalidPhone),
    ({"name": "   "}, InvalidName),
    ({"name": "张" * 61}, InvalidName),
    ({"birth_date": date(1985, 3, 13)}, BirthDateMismatch),
])
@pytest.mark.req("SE-07")
def test_bad_person_input_is_refused_and_changes_nothing(make_person, overrides, error):
    with pytest.raises(error):
        make_person(**overrides)
    assert not Person.objects.exists() and not AuditEvent.objects.exists()


@pytest.mark.django_db
def test_a_passport_holder_can_be_registered(make_person):
    person = make_person(id_type="PASSPORT", id_number="e1234 5678", birth_date=date(1990, 1, 1))
    assert Person.objects.get(pk=person.pk).id_number == "E12345678"


@pytest.mark.django_db
def test_one_party_per_identity_document(make_person):
    make_person()
    with pytest.raises(PartyExists):
        make_person(name="张三")
    assert Person.objects.count() == 1


@pytest.mark.django_db
def test_bad_company_input_is_refused(make_company):
    with pytest.raises(InvalidCreditCode):
        make_company(uscc=USCC[:17] + ("0" if USCC[17] != "0" else "1"))
    with pytest.raises(InvalidPhone):
        make_company(contact_phone="010-12345678")
    with pytest.raises(InvalidIdNumber):
        make_company(legal_rep_id_number="123")
    make_company()
    with pytest.raises(PartyExists):
        make_company(name="另一家公司")
    assert Company.objects.count() == 1
    assert selectors.company_by_uscc(uscc=USCC.lower()).name == "赣州示范科技有限公司"
