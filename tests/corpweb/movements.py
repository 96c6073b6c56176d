"""Fixtures for the corporate statement and receipt tests: a company whose basic account has
a deposit (no receipt), a payment to 李四 (the company's debit), a transfer in from its
own general account (a same-bank credit) and a credit from another bank; another company
with an account of its own."""

# ruff: noqa: F401, F811 - fixtures imported from tests.corporate are parameters

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import timedelta

import pytest

from tests.conftest import _uscc
from tests.corporate.approving import approve, enter, payee
from wangyin.corporate import execution
from wangyin.customers import services as customers
from wangyin.payments import directory, sandbox
from wangyin.payments.models import IncomingPayment, Transfer

ICBC = "102428000013"
OUTSIDE = "6222020000000001234"


@dataclass
class Movements:
    paid: Transfer  # basic → 李四, ¥1,234.56
    own: Transfer  # general → basic, ¥5,000.00
    incoming: IncomingPayment  # 钱七 at ICBC → basic, ¥888.00
    instruction_id: int  # the instruction that paid 李四


@pytest.fixture
def movements(service, company, enterer, authoriser, payee, sign, now):
    directory.banks_load()  # the demo directory: the payer's bank by its name
    paying = enter(enterer, payee, at=now, fen=1234_56, key="pay-lisi", purpose="货款")
    approve(authoriser, paying, sign, now)
    paid = execution.instruction_execute(paying.pk, now).transfer
    own = enter(enterer, company.basic, at=now, fen=5000_00, key="own-1",
                account=company.general, name=company.name, purpose="调拨")
    approve(authoriser, own, sign, now)
    own_transfer = execution.instruction_execute(own.pk, now).transfer
    sandbox.credit_incoming(payer_name="钱七", payer_account=OUTSIDE, payer_bank=ICBC,
                            payee_account=company.basic.number, payee_name=company.name,
                            amount_fen=888_00, memo="货款回笼", at=now)
    assert sandbox.run_due(now=now + timedelta(minutes=1)) == 1
    return Movements(paid=paid, own=own_transfer, incoming=IncomingPayment.objects.get(),
                     instruction_id=paying.pk)


@pytest.fixture
def other_company(make_company, now):
    other = make_company(name="吉安另一贸易有限公司", uscc=_uscc("91360802MA35R8LX2"))
    other.basic = customers.corporate_account_open(company_id=other.pk,
                                                   product="CORPORATE_BASIC", actor="staff:1",
                                                   opened_at=now)
    return other


def pdf_text(content: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def receipt_links(page: str) -> list[str]:
    return re.findall(r'href="(/corp/accounts/\d+/receipts/\d+\.pdf)"', page)
