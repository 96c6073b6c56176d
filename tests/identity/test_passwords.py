"""The customer password policy (AU-01, AU-02)."""

from datetime import date

import pytest

from wangyin.identity.passwords import MESSAGES, PersonalData, password_problems
from wangyin.identity.services import generate_initial_password

PERSON = PersonalData(login_name="zhangwei85", id_number="360702198503122013",
                      phone="13807970001", birth_date=date(1985, 3, 12))


@pytest.mark.req("AU-01")
@pytest.mark.parametrize(("password", "problem"), [
    ("a1b2c3", "length"),            # too short
    ("x7" * 17, "length"),           # too long
    ("onlyletters", "letters_and_digits"),
    ("8675309421", "letters_and_digits"),
    ("pass word9", "characters"),
    ("密码Good2026", "characters"),
])
def test_length_and_composition(password, problem):
    assert problem in password_problems(password)


@pytest.mark.req("AU-02")
@pytest.mark.parametrize(("password", "problem"), [
    ("abcd7x9k", "sequence"), ("Wq7z4321", "sequence"), ("k9aaaa7x", "sequence"),
    ("qwer58zk", "sequence"), ("zk58ASDF", "sequence"), ("7x9k1111", "sequence"),
    ("password1", "common"),
    ("Zhangwei85x", "personal"), ("x9k122013", "personal"), ("k7x970001", "personal"),
    ("q7x19850312", "personal"), ("q7x850312", "personal"),
])
def test_weak_and_personal_passwords_are_refused(password, problem):
    assert problem in password_problems(password, PERSON)


@pytest.mark.req("AU-01", "AU-02")
@pytest.mark.parametrize("password", ["Tq7mX9vK", "g4Rz8wLp2", "bank2Kx9Qm"])
def test_good_passwords_pass(password):
    assert password_problems(password, PERSON) == []


def test_every_problem_has_a_message():
    assert set(MESSAGES) == {"length", "letters_and_digits", "characters", "sequence",
                             "common", "personal"}


def test_initial_passwords_are_random_and_pass_the_policy():
    passwords = {generate_initial_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(password_problems(p) == [] and len(p) == 8 for p in passwords)
