"""Customer fixtures: a valid person and company (check digits computed, not typed)."""

from datetime import date

import pytest

from wangyin.customers import services
from wangyin.customers.validation import resident_id_check_digit, uscc_check_digit

ID17 = "36070219850312201"
ID_NUMBER = ID17 + resident_id_check_digit(ID17)
USCC = "91360702MA35R8LX1" + uscc_check_digit("91360702MA35R8LX1")


@pytest.fixture
def make_person(at):
    def make(**overrides):
        fields = {"name": "张伟", "id_type": "RESIDENT_ID", "id_number": ID_NUMBER,
                  "birth_date": date(1985, 3, 12), "phone": "13807970001",
                  "actor": "staff:1", "created_at": at}
        return services.person_create(**{**fields, **overrides})
    return make


@pytest.fixture
def make_company(at):
    def make(**overrides):
        fields = {"name": "赣州示范科技有限公司", "uscc": USCC, "legal_rep_name": "刘强",
                  "legal_rep_id_type": "RESIDENT_ID", "legal_rep_id_number": ID_NUMBER,
                  "contact_name": "陈静", "contact_phone": "18907970009", "actor": "staff:1",
                  "created_at": at}
        return services.company_create(**{**fields, **overrides})
    return make
