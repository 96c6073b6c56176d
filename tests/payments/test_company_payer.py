"""A company as the payer of a transfer (FC-01, FC-02): exactly one payer per transfer and
one transfer per company and key (database constraints), payees resolved for a company
(its own other account is OWN), the company's receipt, and a company's transfers never
on a person's lists."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate are parameters

import json

import pytest
from django.db import IntegrityError, transaction

from tests.corporate.approving import approve, enter, payee
from tests.corporate.conftest import authoriser, company, enterer, key_of, now, service, sign
from wangyin.core.money import Money
from wangyin.corporate import execution
from wangyin.ledger import services as ledger
from wangyin.payments import payees
from wangyin.payments import receipts as payment_receipts
from wangyin.payments.errors import PayeeNameMismatch
from wangyin.payments.models import Transfer, TransferKind
from wangyin.payments.services import Payer
from wangyin.receipts.errors import ReceiptNotAvailable

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(service, enterer, authoriser, payee, sign, now):
    """A same-bank transfer the company paid through an approved instruction."""
    instruction = enter(enterer, payee, at=now)
    approve(authoriser, instruction, sign, now)
    return execution.instruction_execute(instruction.pk, now).transfer


@pytest.mark.req("FC-02")
def test_a_transfer_has_exactly_one_payer(paid, payee):
    assert (paid.person_id, paid.company_id) == (None, paid.debit_account.company_id)
    for payer in ({"person_id": payee.person_id}, {"company_id": None}):
        with pytest.raises(IntegrityError) as exc, transaction.atomic():
            Transfer.objects.filter(pk=paid.pk).update(**payer)
        assert "payments_transfer_one_payer" in str(exc.value)


@pytest.mark.req("FC-02")
def test_the_same_company_key_cannot_make_a_second_transfer(paid, now):
    hold = ledger.hold_place(account_id=paid.debit_account.ledger_account_id, amount=Money(1),
                             idempotency_key="test:second", reason="test", actor="staff:test",
                             placed_at=now)
    row = Transfer.objects.filter(pk=paid.pk).values().get()
    with pytest.raises(IntegrityError) as exc, transaction.atomic():
        Transfer.objects.create(**{**row, "id": None, "journal_id": None, "status": "HELD",
                                   "hold_id": hold.pk, "fee_journal_id": None})
    assert "payments_transfer_once_per_company_key" in str(exc.value)


@pytest.mark.req("FC-02")
def test_payees_resolve_for_a_company(service, payee):
    company = service.company
    own = payees.resolve(company_id=company.pk, account=company.general.number, name="")
    assert own.kind == TransferKind.OWN and own.name == company.name
    with pytest.raises(PayeeNameMismatch):
        payees.resolve(company_id=company.pk, account=payee.number, name="别人")
    other = payees.resolve(company_id=company.pk, account=payee.number, name="李四")
    assert other.kind == TransferKind.SAME_BANK
    # the holder of the same account paying from a personal account: their own
    assert payees.resolve(person=payee.person, account=payee.number, name="").kind == "OWN"
    with pytest.raises(ValueError):
        payees.resolve(account=payee.number, name="李四")
    with pytest.raises(ValueError):
        Payer(actor="system:corporate", person_id=1, company_id=company.pk)


@pytest.mark.req("FC-05")
def test_the_company_gets_its_receipt_and_a_person_never_sees_it(paid, payee, now):
    receipt = payment_receipts.transfer_receipt(
        company_id=paid.company_id, transfer_id=paid.pk, actor="operator:1", ip=None, at=now)
    assert paid.debit_account.company.name in json.dumps(receipt.data, ensure_ascii=False)
    with pytest.raises(ReceiptNotAvailable):
        payment_receipts.transfer_receipt(person_id=payee.person_id, transfer_id=paid.pk,
                                          actor="customer:1", ip=None, at=now)
    assert not Transfer.objects.filter(person_id=payee.person_id).exists()
