"""Helpers and fixtures for the approval tests (``corporate.approvals``): a payee, more
operators, entering an instruction, an approver's signed challenge, a signed policy."""

from __future__ import annotations

import pytest

from tests.conftest import _check
from tests.corporate.conftest import _person, make_operator
from wangyin.corporate import approvals
from wangyin.corporate.approvals import TierSpec
from wangyin.customers.services import personal_account_open

YUAN = 100


@pytest.fixture
def payee(make_person, now):
    """李四, a personal customer of this bank with a Class I account."""
    person = make_person(id_type="PASSPORT", id_number="E12345678", name="李四",
                         phone="13900000001")
    return personal_account_open(person_id=person.pk, product="PERSONAL_I", face_to_face=True,
                                 actor="staff:1", opened_at=now)


@pytest.fixture
def authoriser2(service, make_person, now):
    return make_operator(service, _person(make_person, 5), code="auth02", roles=["AUTHORISE"],
                         at=now)


@pytest.fixture
def checker2(service, make_person, now):
    return make_operator(service, _person(make_person, 6), code="check02", roles=["CHECK"],
                         at=now)


@pytest.fixture
def enterer2(service, make_person, now):
    return make_operator(service, _person(make_person, 7), code="enter02", roles=["ENTER"],
                         at=now)


def person_id(n: int) -> str:
    return _check(f"36070219900101{n:03d}")


def enter(operator, payee, *, at, fen=1234_56, key="key-1", account=None, name="李四",
          purpose="货款", bank="", **kwargs):
    """The operator enters a payment to ``payee`` from the company's basic account."""
    company = operator.service.company
    debit = account or company.basic
    return approvals.instruction_enter(
        operator, debit_account_id=debit.pk, payee_account=payee.number, payee_name=name,
        payee_bank_code=bank, amount_fen=fen, purpose=purpose, idempotency_key=key, at=at,
        **kwargs)


def signed(operator, instruction, sign, at) -> int:
    """The approver's key signs the challenge for the instruction; the verified
    challenge's id."""
    sign.key_of(operator)
    challenge = approvals.approval_challenge(operator, instruction.pk, at)
    approvals.approval_verify(operator, instruction.pk, challenge.pk,
                              sign(operator, challenge)["USBKEY"], at)
    return challenge.pk


def approve(operator, instruction, sign, at):
    return approvals.approve(operator, instruction.pk, signed(operator, instruction, sign, at),
                             at)


def set_policy(admin, sign, at, *tiers: TierSpec):
    """The administrator signs and puts ``tiers`` in force; the new policy."""
    sign.key_of(admin)
    challenge = approvals.policy_change_challenge(admin, tiers, at)
    approvals.policy_change_verify(admin, tiers, challenge.pk, sign(admin, challenge)["USBKEY"],
                                   at)
    return approvals.policy_change(admin, tiers, challenge.pk, at)
