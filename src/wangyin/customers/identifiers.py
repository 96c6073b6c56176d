"""What customers type in, checked and normalised, and the blind indexes that find it again.

The ``clean_*`` functions raise the customer domain errors (with a plain message for the
customer); services and selectors both use them, so a look-up normalises exactly the way
registration did.
"""

from __future__ import annotations

from wangyin.core.crypto import blind_index
from wangyin.customers import validation
from wangyin.customers.errors import InvalidIdNumber, InvalidName, InvalidPhone
from wangyin.customers.models import IdType

ID_INDEX = "customers.id_number"
PHONE_INDEX = "customers.phone"


def clean_id_number(id_type: str, id_number: str) -> str:
    number = validation.normalise_identifier(id_number)
    if id_type not in IdType.values:
        raise InvalidIdNumber(extra={"reason": "unknown id type", "id_type": id_type})
    ok = (validation.is_resident_id(number) if id_type == IdType.RESIDENT_ID
          else validation.is_other_id(number))
    if not ok:
        raise InvalidIdNumber(extra={"id_type": id_type})
    return number


def clean_phone(phone: str) -> str:
    digits = validation.normalise_identifier(phone)
    if digits.startswith("+86"):
        digits = digits[3:]
    if not validation.is_mobile(digits):
        raise InvalidPhone()
    return digits


def clean_name(name: str, *, max_length: int) -> str:
    name = " ".join((name or "").split())
    if not name or len(name) > max_length:
        raise InvalidName(extra={"length": len(name)})
    return name


def id_number_index(id_number: str) -> str:
    return blind_index(id_number, purpose=ID_INDEX)


def phone_index(phone: str) -> str:
    return blind_index(phone, purpose=PHONE_INDEX)
