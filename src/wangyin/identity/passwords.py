"""The customer password policy (AU-01, AU-02): what Django's validators check, plus ours.

- 8 to 32 characters (the standards ask for at least 6; we take the stricter 8),
  case-sensitive, at least one letter and one digit;
- no four identical characters in a row, no run of four ascending or descending letters
  or digits (abcd, 4321), no four neighbouring keys of a keyboard row (qwer, asdf);
- not a common password (Django's list of 20 000);
- not built from the customer's own data: login name, ID number (its last 6 or birth
  date part), phone number (last 6 or more), birth date (yyyymmdd, yymmdd, mmdd).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from django.contrib.auth.password_validation import CommonPasswordValidator
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

MIN_LENGTH = 8
MAX_LENGTH = 32
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_RUN = 4


@dataclass(frozen=True)
class PersonalData:
    """What the password must not be built from."""

    login_name: str = ""
    id_number: str = ""
    phone: str = ""
    birth_date: date | None = None

    def fragments(self) -> list[str]:
        parts = [self.login_name.lower()]
        if self.id_number:
            parts += [self.id_number[-6:].lower(), self.id_number[6:14]]
        if self.phone:
            parts += [self.phone[-6:], self.phone]
        if self.birth_date:
            d = self.birth_date
            parts += [d.strftime("%Y%m%d"), d.strftime("%y%m%d"), d.strftime("%m%d%Y")]
        return [p for p in parts if len(p) >= 4]


def _has_run(text: str) -> bool:
    lowered = text.lower()
    for i in range(len(lowered) - _RUN + 1):
        chunk = lowered[i:i + _RUN]
        if len(set(chunk)) == 1:
            return True
        steps = {ord(b) - ord(a) for a, b in zip(chunk, chunk[1:], strict=False)}
        if chunk.isalnum() and (chunk.isdigit() or chunk.isalpha()) and steps in ({1}, {-1}):
            return True
        for row in _KEYBOARD_ROWS:
            if chunk in row or chunk in row[::-1]:
                return True
    return False


def password_problems(password: str, personal: PersonalData | None = None) -> list[str]:
    """Stable codes of every rule the password breaks (empty when it is acceptable)."""
    problems = []
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        problems.append("length")
    if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
        problems.append("letters_and_digits")
    if not password.isascii() or not password.isprintable() or " " in password:
        problems.append("characters")
    if _has_run(password):
        problems.append("sequence")
    try:
        CommonPasswordValidator().validate(password)
    except ValidationError:
        problems.append("common")
    if personal and any(f in password.lower() for f in personal.fragments()):
        problems.append("personal")
    return problems


MESSAGES = {
    "length": _("Use 8 to 32 characters."),
    "letters_and_digits": _("Use both letters and digits."),
    "characters": _("Use only letters, digits and symbols from the keyboard, without spaces."),
    "sequence": _("Avoid runs such as 1234, abcd, aaaa or qwer."),
    "common": _("This password is too common."),
    "personal": _("Do not use your name, ID number, phone number or birth date."),
}
