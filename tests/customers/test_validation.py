"""Identifier checks: GB 11643 ID numbers, GB 32100 credit codes, mobiles, Luhn numbers."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wangyin.customers import validation as v


def test_resident_id_check_digit_matches_the_standard_example():
    # The worked example of GB 11643-1999 annex: 11010519491231002X.
    assert v.resident_id_check_digit("11010519491231002") == "X"
    assert v.is_resident_id("11010519491231002X")


@pytest.mark.parametrize("number", [
    "11010519491231002Y",  # not a check character
    "110105194912310021",  # wrong check digit
    "11010519491331002X",  # month 13 (check digit aside)
    "01010519491231002X",  # region cannot start with 0
    "1101051949123100",    # too short
    "",
])
def test_resident_id_rejects(number):
    assert not v.is_resident_id(number)


def test_resident_id_rejects_a_birth_date_in_the_future():
    first17 = "11010520991231002"
    assert not v.is_resident_id(first17 + v.resident_id_check_digit(first17),
                                today=date(2026, 11, 22))


@given(st.from_regex(r"[1-8]\d{5}(19[5-9]\d|200\d)(0[1-9]|1[0-2])(0[1-9]|1\d|2[0-8])\d{3}",
                     fullmatch=True))
def test_any_single_digit_change_breaks_an_id_number(first17):
    number = first17 + v.resident_id_check_digit(first17)
    assert v.is_resident_id(number)
    for i in range(17):  # MOD 11-2 catches every single-digit error
        changed = number[:i] + str((int(number[i]) + 1) % 10) + number[i + 1:]
        assert not v.is_resident_id(changed)


def test_uscc_check_character_matches_a_published_code():
    assert v.uscc_check_digit("91350100M000100Y4") == "3"
    assert v.is_uscc("91350100M000100Y43")
    assert not v.is_uscc("91350100M000100Y44")
    assert not v.is_uscc("91350100M0001O0Y43")  # O is not in the alphabet
    assert not v.is_uscc("9135010")


@pytest.mark.parametrize(("phone", "ok"), [("13812345678", True), ("19912345678", True),
                                           ("12812345678", False), ("1381234567", False),
                                           ("138123456789", False), ("", False)])
def test_mobile_numbers(phone, ok):
    assert v.is_mobile(phone) is ok


def test_luhn_matches_the_iso_example_and_catches_single_errors():
    assert v.luhn_check_digit("7992739871") == "3"
    number = "6236800100000000017"[:-1]
    full = number + v.luhn_check_digit(number)
    assert v.is_account_number(full)
    for i in range(len(full) - 1):
        changed = full[:i] + str((int(full[i]) + 3) % 10) + full[i + 1:]
        assert not v.is_account_number(changed)


def test_normalise_identifier_strips_spaces_dashes_and_case():
    assert v.normalise_identifier(" 1101 0519-4912 31002x ") == "11010519491231002X"
