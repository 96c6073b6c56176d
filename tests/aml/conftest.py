"""A small bank for the AML tests: people and a company with accounts, the cash vault and
the clearing account; journals posted at chosen Beijing times of one day."""

import itertools
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from tests.backoffice.conftest import risk_manager, risk_officer  # noqa: F401
from tests.payments.conftest import payee, payer  # noqa: F401
from wangyin.core.money import Money
from wangyin.customers.services import corporate_account_open, personal_account_open
from wangyin.ledger import services as ledger
from wangyin.ledger.models import AccountKind, JournalType

from ..conftest import cny

BEIJING = ZoneInfo("Asia/Shanghai")
DAY = date(2026, 10, 30)  # a Friday
GENERATE_AT = datetime(2026, 11, 2, 1, 30, tzinfo=BEIJING)
_keys = itertools.count(1)


def on_day(hour=10, minute=0, second=0, day=DAY):
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=BEIJING)


class Bank:
    def __init__(self, make_person, make_company, make_account, at):
        self.at = at
        self._make_person, self._make_company = make_person, make_company
        self.cash = make_account(kind=AccountKind.GL, overdraft_limit=None, name="cash")
        self.clearing = make_account(kind=AccountKind.GL, overdraft_limit=None,
                                     name="clearing")
        self._people = itertools.count(1)

    def person(self, name="张伟", product="PERSONAL_I", yuan="10000000.00"):
        n = next(self._people)
        person = self._make_person(name=name, id_type="PASSPORT", id_number=f"E{n:08d}",
                                   phone=f"1390000{n:04d}")
        account = personal_account_open(person_id=person.pk, product=product,
                                        face_to_face=True, actor="staff:1", opened_at=self.at)
        self.opening(account, yuan)
        return account

    def company(self, yuan="50000000.00"):
        company = self._make_company()
        account = corporate_account_open(company_id=company.pk, product="CORPORATE_BASIC",
                                         actor="staff:1", opened_at=self.at)
        self.opening(account, yuan)
        return account

    def opening(self, account, yuan):
        if Money.from_yuan(yuan).fen:
            ledger.transfer(debit_account_id=self.cash.pk,
                            credit_account_id=account.ledger_account_id, amount=cny(yuan),
                            idempotency_key=f"aml-open-{next(_keys)}", type=JournalType.OPENING,
                            actor="staff:test", posted_at=on_day(day=date(2026, 1, 1)))

    def pay(self, debit, credit, yuan, when=None, party=None, type=JournalType.TRANSFER):
        """A transfer between two customer accounts (or to/from the clearing account when
        one side is None)."""
        return ledger.transfer(
            debit_account_id=debit.ledger_account_id if debit else self.clearing.pk,
            credit_account_id=credit.ledger_account_id if credit else self.clearing.pk,
            amount=cny(yuan), idempotency_key=f"aml-{next(_keys)}", type=type, party=party,
            actor="staff:test", posted_at=when or on_day())

    def deposit(self, account, yuan, when=None):
        return ledger.transfer(debit_account_id=self.cash.pk,
                               credit_account_id=account.ledger_account_id, amount=cny(yuan),
                               idempotency_key=f"aml-{next(_keys)}", type=JournalType.DEPOSIT,
                               actor="staff:test", posted_at=when or on_day())

    def withdraw(self, account, yuan, when=None):
        return ledger.transfer(debit_account_id=account.ledger_account_id,
                               credit_account_id=self.cash.pk, amount=cny(yuan),
                               idempotency_key=f"aml-{next(_keys)}",
                               type=JournalType.WITHDRAWAL, actor="staff:test",
                               posted_at=when or on_day())


@pytest.fixture(autouse=True)
def _patient_risk_engine(settings):
    """The alerts are built from real decisions: a slow shared test machine must not turn
    them into budget fallbacks."""
    settings.RISK_BUDGET_MS = 60_000


@pytest.fixture
def bank(db, make_person, make_company, make_account, at):
    return Bank(make_person, make_company, make_account, at)
