"""Shared corporate-banking fixtures: a company with two funded settlement accounts, its
standard-edition service, an administrator and three operators (entering, checking,
authorising), each with a software USB-Key for this company."""

from __future__ import annotations

import base64
import itertools
import re
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.hashers import make_password

from tests.conftest import _check
from wangyin.authn import certificates
from wangyin.authn import services as authn
from wangyin.corporate.models import (
    ApprovalPolicy,
    ApprovalTier,
    CorporateService,
    Operator,
    OperatorScope,
    ServiceAccount,
)
from wangyin.customers import services as customers
from wangyin.notify.models import SmsMessage
from wangyin_sdk.usbkey import SoftUsbKey

PIN = "135790"
PASSWORD = "Corp0rate!pass"
_serials = itertools.count(1)


@pytest.fixture
def now():
    """Real time: certificates chain to a root the CA made when it first ran."""
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def company(make_company, make_account, fund, now):
    """The company and its basic and general accounts, ¥1,000,000 and ¥200,000."""
    company = make_company()
    basic = customers.corporate_account_open(company_id=company.pk, product="CORPORATE_BASIC",
                                             actor="staff:1", opened_at=now)
    general = customers.corporate_account_open(company_id=company.pk,
                                               product="CORPORATE_GENERAL", actor="staff:1",
                                               opened_at=now)
    fund(basic.ledger_account, "1000000.00")
    fund(general.ledger_account, "200000.00")
    company.basic, company.general = basic, general
    return company


@pytest.fixture
def service(company, now):
    """The standard edition, both accounts linked, the opening policy (one authoriser)."""
    service = CorporateService.objects.create(company=company, number="1000000001",
                                              edition="STANDARD", opened_at=now,
                                              opened_by="staff:teller1")
    for account in (company.basic, company.general):
        ServiceAccount.objects.create(service=service, account=account, linked_at=now,
                                      linked_by="staff:teller1")
    policy = ApprovalPolicy.objects.create(service=service, version=1, status="LIVE",
                                           created_at=now, created_by="staff:teller1")
    ApprovalTier.objects.create(policy=policy, checkers=0, authorisers=1)
    return service


def make_operator(service, person, *, code, roles=(), is_admin=False, at):
    operator = Operator.objects.create(
        service=service, person=person, code=code, is_admin=is_admin, roles=list(roles),
        password=make_password(PASSWORD), must_change_password=False,
        password_changed_at=at, created_at=at, created_by="staff:teller1")
    if not is_admin:
        for link in service.accounts.all():
            OperatorScope.objects.create(operator=operator, account_id=link.account_id)
    return operator


def _person(make_person, n: int):
    return make_person(name=f"操作员{n}", id_number=_check(f"36070219900101{n:03d}"),
                       birth_date=date(1990, 1, 1), phone=f"1390797{n:04d}")


@pytest.fixture
def admin(service, make_person, now):
    return make_operator(service, _person(make_person, 1), code="admin", is_admin=True, at=now)


@pytest.fixture
def enterer(service, make_person, now):
    return make_operator(service, _person(make_person, 2), code="enter01", roles=["ENTER"],
                         at=now)


@pytest.fixture
def checker(service, make_person, now):
    return make_operator(service, _person(make_person, 3), code="check01", roles=["CHECK"],
                         at=now)


@pytest.fixture
def authoriser(service, make_person, now):
    return make_operator(service, _person(make_person, 4), code="auth01",
                         roles=["AUTHORISE"], at=now)


@pytest.fixture
def key_of(now):
    """``key_of(operator)``: a software USB-Key bound to the operator for their company
    at the counter, its certificate downloaded (the same key on later calls)."""
    keys: dict[int, SoftUsbKey] = {}

    def key_of(operator: Operator) -> SoftUsbKey:
        if operator.pk in keys:
            return keys[operator.pk]
        serial = f"UK7{next(_serials):07d}"
        device = SoftUsbKey(serial, PIN, confirm=lambda text: True)
        company_id = operator.service.company_id
        _key, reference = certificates.usb_key_bind(
            person_id=operator.person_id, serial=serial, staff="staff:teller1", at=now,
            company_id=company_id)
        body = SmsMessage.objects.filter(purpose="authn.cert_code").latest("id").body
        code = re.search(r"授权码 (\d{8})", body).group(1)
        certificate = certificates.usb_key_enrol(
            person=operator.person, reference_code=reference, authorisation_code=code,
            request_der=device.signing_request(PIN), at=now, company_id=company_id)
        device.install(bytes(certificate.der))
        keys[operator.pk] = device
        return device

    return key_of


@pytest.fixture
def sign(key_of):
    """``sign(operator, challenge)``: the operator's key signs what the challenge shows;
    returns the codes to verify it with (``{"USBKEY": base64 signature}``)."""

    def sign(operator: Operator, challenge) -> dict[str, str]:
        signature = key_of(operator).sign(challenge.sign_payload, PIN)
        return {"USBKEY": base64.b64encode(signature).decode()}

    sign.key_of = key_of  # enrol the key before a challenge needs its certificate
    return sign


def signed_challenge(operator, *, purpose, digest, summary, at, sign):
    """Issue a USB-Key challenge for ``operator`` and verify their signature over it."""
    sign.key_of(operator)
    challenge = authn.challenge_issue(person=operator.person, purpose=purpose,
                                      factors=["USBKEY"], digest=digest, summary=summary,
                                      at=at, company_id=operator.service.company_id)
    authn.challenge_verify(challenge_id=challenge.pk, person=operator.person, purpose=purpose,
                           digest=digest, codes=sign(operator, challenge), at=at)
    challenge.refresh_from_db()
    return challenge
