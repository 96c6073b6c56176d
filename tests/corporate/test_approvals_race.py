"""Approvers racing on real PostgreSQL with real commits: two authorisers at once on an
instruction that needs one authorisation give exactly one approval; an operator entering
the same form twice at once makes one instruction."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate.approving are parameters

import pytest

from tests.corporate.approving import authoriser2, enter, payee, signed
from tests.race import race
from wangyin.corporate import approvals
from wangyin.corporate.errors import InstructionStateRefused
from wangyin.corporate.models import Approval, Instruction, InstructionEvent, InstructionStatus

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.req("FC-02")
def test_two_authorisers_at_once_give_one_authorisation(service, enterer, authoriser,
                                                         authoriser2, payee, sign, now):
    instruction = enter(enterer, payee, at=now)
    assert instruction.authorisers_required == 1
    approvers = [authoriser, authoriser2]
    challenges = [signed(operator, instruction, sign, now) for operator in approvers]

    def authorise(i):
        return approvals.approve(approvers[i], instruction.pk, challenges[i], now).pk

    results, errors = race(2, authorise)
    assert len(results) == 1 and len(errors) == 1, (results, errors)
    assert isinstance(next(iter(errors.values())), InstructionStateRefused)
    assert Approval.objects.filter(instruction=instruction).count() == 1
    assert Instruction.objects.get(pk=instruction.pk).status == InstructionStatus.AUTHORISED
    assert InstructionEvent.objects.filter(instruction=instruction,
                                           action="authorised").count() == 1


@pytest.mark.req("FC-02")
def test_the_same_form_entered_twice_at_once_makes_one_instruction(service, enterer,
                                                                   authoriser, payee, now):
    results, errors = race(4, lambda i: enter(enterer, payee, at=now, key="same").pk)
    assert not errors, errors
    assert len(set(results.values())) == 1 and Instruction.objects.count() == 1
