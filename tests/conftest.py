"""Shared fixtures. The database is real PostgreSQL: embedded (one server for the whole
session, under WANGYIN_PGDATA) unless DATABASE_URL points elsewhere."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest

from wangyin.core.money import Money

_numbers = itertools.count(1)


@pytest.fixture
def at():
    """A fixed, timezone-aware moment; services take time as an argument."""
    return datetime(2026, 11, 1, 9, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _calendar_cache():
    """The business calendar caches a year's days in the process, while a test's rows are
    rolled back after it: no test sees another's calendar."""
    from wangyin.core import calendar

    calendar.cache_clear()
    yield
    calendar.cache_clear()


@pytest.fixture(autouse=True)
def _risk_rules_cache():
    """The live rule set is cached per process, its rows rolled back after each test."""
    from wangyin.risk import rules

    rules.cache_clear()
    yield
    rules.cache_clear()


@pytest.fixture
def later(at):
    return at + timedelta(minutes=5)


def cny(yuan: str) -> Money:
    return Money.from_yuan(yuan)


@pytest.fixture
def make_account(at):
    from wangyin.ledger import services
    from wangyin.ledger.models import AccountKind, NormalSide

    def make(*, kind=AccountKind.CUSTOMER, normal_side=None, overdraft_limit=0, currency="CNY",
             name="test account", number=None):
        if kind == AccountKind.GL and normal_side is None:
            normal_side = NormalSide.DEBIT
        return services.account_open(
            number=number or f"T{next(_numbers):010d}", name=name, kind=kind,
            normal_side=normal_side, overdraft_limit=overdraft_limit, currency=currency,
            actor="staff:test", opened_at=at,
        )

    return make


@pytest.fixture
def cash(make_account):
    """The bank's vault: a debit-normal GL account allowed to go as far as it needs."""
    from wangyin.ledger.models import AccountKind, NormalSide

    return make_account(kind=AccountKind.GL, normal_side=NormalSide.DEBIT, overdraft_limit=None,
                        name="cash")


@pytest.fixture
def fund(cash, at):
    """Deposit cash into a customer account."""
    from wangyin.ledger import services

    counter = itertools.count(1)

    def fund(account, yuan: str):
        return services.journal_post(
            idempotency_key=f"fund-{account.pk}-{next(counter)}-{yuan}", type="DEPOSIT",
            actor="staff:test", posted_at=at,
            lines=[services.debit(cash.pk, cny(yuan)), services.credit(account.pk, cny(yuan))],
        )

    return fund


@pytest.fixture
def superuser_conn(transactional_db):
    """A psycopg connection that bypasses the application's protections (for tamper tests).

    Embedded server: the ``postgres`` superuser. External server: WANGYIN_SUPERUSER_DATABASE_URL
    (pointing at the same server); skipped when neither is available."""
    import os

    import psycopg
    from django.db import connection

    from wangyin.core import embedded_db

    name = connection.settings_dict["NAME"]
    if os.environ.get("DATABASE_URL"):
        url = os.environ.get("WANGYIN_SUPERUSER_DATABASE_URL")
        if not url:
            pytest.skip("set WANGYIN_SUPERUSER_DATABASE_URL to run tamper tests on this server")
        conn = psycopg.connect(url, dbname=name, autocommit=True)
    else:
        conn = psycopg.connect(embedded_db.superuser_dsn(database=name), autocommit=True)
    with conn:
        yield conn


# --- customers ------------------------------------------------------------------------


def _check(first17: str) -> str:
    from wangyin.customers.validation import resident_id_check_digit

    return first17 + resident_id_check_digit(first17)


def _uscc(first17: str) -> str:
    from wangyin.customers.validation import uscc_check_digit

    return first17 + uscc_check_digit(first17)


ID_NUMBER = _check("36070219850312201")
USCC = _uscc("91360702MA35R8LX1")


@pytest.fixture
def make_person(at):
    from wangyin.customers import services

    def make(**overrides):
        fields = {"name": "张伟", "id_type": "RESIDENT_ID", "id_number": ID_NUMBER,
                  "birth_date": date(1985, 3, 12), "phone": "13807970001",
                  "actor": "staff:1", "created_at": at}
        return services.person_create(**{**fields, **overrides})
    return make


@pytest.fixture
def user(make_person, at):
    """A customer with internet banking (professional edition) opened at the counter."""
    from wangyin.identity import services as identity

    user, _ = identity.internet_banking_open(
        person_id=make_person().pk, login_name="zhangwei_01", edition="PRO",
        risk_acknowledged=True, staff="staff:teller1", reason="counter", at=at)
    return user


@pytest.fixture
def make_company(at):
    from wangyin.customers import services

    def make(**overrides):
        fields = {"name": "赣州示范科技有限公司", "uscc": USCC, "legal_rep_name": "刘强",
                  "legal_rep_id_type": "RESIDENT_ID", "legal_rep_id_number": ID_NUMBER,
                  "contact_name": "陈静", "contact_phone": "18907970009", "actor": "staff:1",
                  "created_at": at}
        return services.company_create(**{**fields, **overrides})
    return make
