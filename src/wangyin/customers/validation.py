"""Checks for the identifiers customers give us. Pure functions: no database, no I/O.

- Resident identity card numbers, GB 11643-1999: 17 digits and an ISO 7064 MOD 11-2 check
  character, with the birth date embedded at positions 7-14.
- Unified social credit codes, GB 32100-2015: 18 characters from a 31-symbol alphabet
  (no I, O, S, V, Z) whose last character is a MOD 31 check character.
- Mainland mobile numbers: 11 digits starting 13-19.
- Account numbers: digits with a Luhn (ISO/IEC 7812) check digit.
"""

from __future__ import annotations

import re
from datetime import date

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_OTHER_ID = re.compile(r"^[A-Z0-9]{6,20}$")


def normalise_identifier(value: str) -> str:
    """Strip spaces and dashes and upper-case: what people type vs what we store."""
    return re.sub(r"[\s-]+", "", value or "").upper()


def resident_id_check_digit(first17: str) -> str:
    if not re.fullmatch(r"\d{17}", first17 or ""):
        raise ValueError("the first 17 characters of a resident ID number are digits")
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def resident_id_birth_date(number: str) -> date | None:
    try:
        return date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return None


def is_resident_id(number: str, *, today: date | None = None) -> bool:
    if not re.fullmatch(r"[1-9]\d{16}[\dX]", number or ""):
        return False
    born = resident_id_birth_date(number)
    if born is None or born.year < 1900 or born > (today or date.today()):
        return False
    return resident_id_check_digit(number[:17]) == number[17]


def is_other_id(number: str) -> bool:
    """Passports and travel permits: 6-20 upper-case letters and digits."""
    return bool(_OTHER_ID.fullmatch(number or ""))


def uscc_check_digit(first17: str) -> str:
    if len(first17 or "") != 17 or any(c not in _USCC_ALPHABET for c in first17):
        raise ValueError("a credit code's first 17 characters come from its 31-symbol alphabet")
    total = sum(_USCC_ALPHABET.index(c) * w for c, w in zip(first17, _USCC_WEIGHTS, strict=True))
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def is_uscc(code: str) -> bool:
    if len(code or "") != 18 or not code[2:8].isdigit():  # 3-8: administrative division
        return False
    try:
        return uscc_check_digit(code[:17]) == code[17]
    except ValueError:
        return False


def is_mobile(phone: str) -> bool:
    return bool(_MOBILE.fullmatch(phone or ""))


def luhn_check_digit(payload: str) -> str:
    if not payload.isdigit():
        raise ValueError("Luhn payloads are digits")
    total = 0
    for i, ch in enumerate(reversed(payload)):
        d = int(ch)
        if i % 2 == 0:  # these positions are doubled once the check digit is appended
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def is_account_number(number: str) -> bool:
    if not (number or "").isdigit() or len(number) < 12:
        return False
    return luhn_check_digit(number[:-1]) == number[-1]
