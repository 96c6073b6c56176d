"""What bank staff do at the counter for a company's internet banking (ON-04, ON-05, ON-10):
open it with the company's accounts and its administrator, bind operators' USB-Keys for
the company, reset the administrator's password, link and unlink accounts, cancel it.

These are counter-only (ON-05): nothing here is reachable from the corporate channel. Each
function is one transaction, takes the staff member (``"staff:<username>"``) and the time,
and is audited. The initial passwords it returns are stored nowhere in clear: they are
shown once, for the sealed envelope.

``payments_refusal`` / ``payments_ready`` say whether a service can make payments at all
(its edition and its operators' roles); approvals ask it before an instruction is entered."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction

from wangyin.audit import services as audit
from wangyin.authn import certificates
from wangyin.authn.models import UsbKey
from wangyin.corporate import signin
from wangyin.corporate.errors import (
    AccountAlreadyLinked,
    AccountNotLinkable,
    AccountNotLinked,
    CorporateError,
    InvalidEdition,
    InvalidOperatorCode,
    LastAccount,
    NoAccountToLink,
    OperatorCodeTaken,
    OperatorNotFound,
    OperatorStateRefused,
    PaymentsNotReady,
    QueryEditionNoPayments,
    ServiceExists,
    ServiceNotFound,
)
from wangyin.corporate.models import (
    OPEN_STATUSES,
    ApprovalPolicy,
    ApprovalTier,
    CorporateService,
    Edition,
    Instruction,
    InstructionStatus,
    Operator,
    OperatorScope,
    OperatorStatus,
    PolicyStatus,
    Role,
    ServiceAccount,
    ServiceStatus,
)
from wangyin.customers import validation
from wangyin.customers.errors import PartyNotFound
from wangyin.customers.models import Company, CustomerAccount, Person
from wangyin.identity.models import SessionEnd
from wangyin.identity.services import generate_initial_password
from wangyin.ledger.models import AccountStatus
from wangyin.notify import services as notify

SERVICE_NUMBER_TRIES = 20
OPERATOR_CODE_MAX = 20


# --- helpers shared with corporate.operators ----------------------------------------------


def clean_operator_code(code: str) -> str:
    code = (code or "").strip()
    if not (2 <= len(code) <= OPERATOR_CODE_MAX and code.isascii()
            and all(c.isalnum() or c == "_" for c in code)):
        raise InvalidOperatorCode()
    return code


def code_taken(service: CorporateService, code: str) -> bool:
    return Operator.objects.filter(service=service, code__iexact=code).exists()


def operator_row_create(*, service: CorporateService, person: Person, code: str,
                        is_admin: bool, created_by: str, at: datetime) -> tuple[Operator, str]:
    """A new operator with a generated initial password (returned once, to hand over)."""
    password = generate_initial_password()
    try:
        with transaction.atomic():
            operator = Operator.objects.create(
                service=service, person=person, code=code, is_admin=is_admin,
                password=make_password(password), must_change_password=True,
                password_changed_at=at, created_at=at, created_by=created_by)
    except IntegrityError as exc:  # a concurrent change took the code (or the person)
        raise OperatorCodeTaken(extra={"code": code}) from exc
    return operator, password


def password_renew(operator: Operator, *, at: datetime) -> str:
    """A new initial password for ``operator`` (locked row), unlocked, to be changed at the
    next sign-in; a live session ends. Returns it, once."""
    password = generate_initial_password()
    operator.password, operator.must_change_password = make_password(password), True
    operator.password_changed_at, operator.failed_attempts, operator.locked_until = at, 0, None
    operator.save(update_fields=["password", "must_change_password", "password_changed_at",
                                 "failed_attempts", "locked_until"])
    signin.operator_sessions_end(operator_id=operator.pk, reason=SessionEnd.PASSWORD_RESET,
                                 at=at)
    return password


def sms(person: Person, text: str, *, purpose: str, actor: str, at: datetime) -> None:
    notify.sms_send(phone=person.phone, purpose=purpose, actor=actor, at=at,
                    body=f"{settings.SMS_SIGNATURE}{text}")


def active_key_of(operator: Operator) -> UsbKey | None:
    return certificates.usb_key_of(operator.person, company_id=operator.service.company_id)


def lock_service(service_id: int) -> CorporateService:
    service = (CorporateService.objects.select_for_update(of=("self",))
               .select_related("company").filter(pk=service_id).first())
    if service is None or service.status != ServiceStatus.ACTIVE:
        raise ServiceNotFound(extra={"service_id": service_id})
    return service


def active_service_of(company_id: int) -> CorporateService | None:
    return (CorporateService.objects.select_related("company")
            .filter(company_id=company_id, status=ServiceStatus.ACTIVE).first())


def linked_accounts(service: CorporateService) -> list[CustomerAccount]:
    return list(CustomerAccount.objects.filter(
        corporate_links__service=service, corporate_links__unlinked_at__isnull=True)
        .select_related("ledger_account").order_by("pk"))


def _new_service_number() -> str:
    """Nine random digits and a Luhn check digit: a mistyped number is caught at sign-in
    before it reaches the database."""
    payload = f"{secrets.randbelow(10 ** 9):09d}"
    return payload + validation.luhn_check_digit(payload)


def _linkable(company: Company, account_ids: Iterable[int]) -> list[CustomerAccount]:
    ids = sorted(set(account_ids))
    accounts = list(CustomerAccount.objects.select_related("ledger_account")
                    .filter(pk__in=ids, company=company).order_by("pk"))
    if len(accounts) != len(ids) or any(
            a.ledger_account.status != AccountStatus.ACTIVE for a in accounts):
        raise AccountNotLinkable(extra={"account_ids": ids})
    return accounts


def _operator_of(service: CorporateService, operator_id: int) -> Operator:
    operator = (Operator.objects.select_for_update(of=("self",)).select_related("person")
                .filter(pk=operator_id, service=service).first())
    if operator is None:
        raise OperatorNotFound(extra={"operator_id": operator_id})
    return operator


def _administrator(service: CorporateService) -> Operator:
    admin = (Operator.objects.select_for_update(of=("self",)).select_related("person")
             .filter(service=service, is_admin=True).exclude(status=OperatorStatus.REMOVED)
             .first())
    if admin is None:
        raise OperatorNotFound(extra={"service_id": service.pk, "admin": True})
    return admin


# --- opening --------------------------------------------------------------------------


@transaction.atomic
def service_open(*, company_id: int, edition: str, account_ids: Iterable[int],
                 admin_person_id: int, admin_code: str, staff: str, at: datetime,
                 reason: str = "") -> tuple[CorporateService, Operator, str]:
    """Open corporate internet banking for a company whose documents, legal representative
    (or authorised agent) and administrator the counter has checked (ON-04): the linked
    settlement accounts, the administrator operator with an initial password (returned
    once, for the envelope) and the default approval policy (any account, any amount: one
    authorisation). One service in use per company."""
    if edition not in Edition.values:
        raise InvalidEdition(extra={"edition": edition})
    admin_code = clean_operator_code(admin_code)
    company = Company.objects.select_for_update().filter(pk=company_id).first()
    if company is None:
        raise PartyNotFound(extra={"company_id": company_id})
    if active_service_of(company.pk) is not None:
        raise ServiceExists(extra={"company_id": company.pk})
    account_ids = list(account_ids)
    if not account_ids:
        raise NoAccountToLink()
    accounts = _linkable(company, account_ids)
    person = Person.objects.filter(pk=admin_person_id).first()
    if person is None:
        raise PartyNotFound(extra={"person_id": admin_person_id})
    service = None
    for _ in range(SERVICE_NUMBER_TRIES):
        try:
            with transaction.atomic():
                service = CorporateService.objects.create(
                    company=company, number=_new_service_number(), edition=edition,
                    opened_at=at, opened_by=staff)
            break
        except IntegrityError as exc:
            if active_service_of(company.pk) is not None:
                raise ServiceExists(extra={"company_id": company.pk}) from exc
    if service is None:
        raise CorporateError(extra={"why": "no free service number"})
    ServiceAccount.objects.bulk_create(
        ServiceAccount(service=service, account=a, linked_at=at, linked_by=staff)
        for a in accounts)
    admin, password = operator_row_create(service=service, person=person, code=admin_code,
                                          is_admin=True, created_by=staff, at=at)
    policy = ApprovalPolicy.objects.create(service=service, version=1, status=PolicyStatus.LIVE,
                                           created_at=at, created_by=staff)
    ApprovalTier.objects.create(policy=policy, account=None, up_to_fen=None, checkers=0,
                                authorisers=1)
    audit.record(actor=staff, action="corporate.service.opened",
                 target=f"corporate_service:{service.pk}", occurred_at=at,
                 details={"company": company.pk, "number": service.number, "edition": edition,
                          "account_number": [a.number for a in accounts],
                          "administrator": f"operator:{admin.pk}",
                          "admin_person": f"person:{person.pk}", "admin_code": admin_code,
                          "policy": policy.pk, "reason": reason})
    sms(person, f"{company.name}已开通企业网上银行，企业客户号{service.number}，您是管理员"
        f"（操作员代码{admin_code}）。初始密码在柜台密封交付。如非本单位办理，请立即致电本行"
        "客服。", purpose="corporate.opened", actor=staff, at=at)
    return service, admin, password


# --- USB-Keys at the counter (ON-10) ---------------------------------------------------


@transaction.atomic
def usb_key_bind(*, service_id: int, operator_id: int, serial: str, staff: str, at: datetime,
                 reason: str = "") -> tuple[UsbKey, str]:
    """Bind a USB-Key's serial to an operator of the service for its company (any operator,
    at the counter). Returns the key and the reference code to show once; the
    authorisation code goes to the operator's reserved mobile number."""
    service = lock_service(service_id)
    operator = _operator_of(service, operator_id)
    if operator.status != OperatorStatus.ACTIVE:
        raise OperatorStateRefused(extra={"status": operator.status})
    key, reference = certificates.usb_key_bind(
        person_id=operator.person_id, serial=serial, staff=staff, at=at, reason=reason,
        company_id=service.company_id)
    audit.record(actor=staff, action="corporate.usb_key.bound",
                 target=f"operator:{operator.pk}", occurred_at=at,
                 details={"service": service.pk, "serial": key.serial, "reason": reason,
                          "channel": "counter"})
    return key, reference


def admin_usb_key_bind(*, service_id: int, serial: str, staff: str, at: datetime,
                       reason: str = "") -> tuple[UsbKey, str]:
    """Bind the administrator's USB-Key for this company (ON-10): the key that signs every
    change the administrator makes online. Returns the key and the reference code."""
    with transaction.atomic():
        admin = _administrator(lock_service(service_id))
        return usb_key_bind(service_id=service_id, operator_id=admin.pk, serial=serial,
                            staff=staff, at=at, reason=reason)


@transaction.atomic
def usb_key_codes_renew(*, service_id: int, operator_id: int, staff: str, at: datetime,
                        reason: str = "") -> str:
    """New certificate codes for the operator's bound key (expired or lost codes)."""
    service = lock_service(service_id)
    operator = _operator_of(service, operator_id)
    return certificates.usb_key_codes_renew(person_id=operator.person_id, staff=staff, at=at,
                                            reason=reason, company_id=service.company_id)


@transaction.atomic
def usb_key_end(*, service_id: int, operator_id: int, lost: bool, staff: str, reason: str,
                at: datetime) -> UsbKey:
    """The operator's key for this company is returned or reported lost: unbound and its
    certificate revoked at once. Their personal key and keys for other companies stay."""
    service = lock_service(service_id)
    operator = _operator_of(service, operator_id)
    key = certificates.usb_key_end(person_id=operator.person_id, lost=lost, actor=staff,
                                   reason=reason, at=at, company_id=service.company_id)
    audit.record(actor=staff, action="corporate.usb_key.ended", target=f"operator:{operator.pk}",
                 occurred_at=at, details={"service": service.pk, "serial": key.serial,
                                          "lost": lost, "reason": reason})
    return key


# --- the administrator's password (counter only, ON-05) --------------------------------


@transaction.atomic
def admin_password_reset(*, service_id: int, staff: str, reason: str,
                         at: datetime) -> tuple[Operator, str]:
    """A new initial password for the administrator, who proved who they are at the
    counter; the login is unlocked and the password must be changed at the next sign-in.
    Returns the administrator and the password, once."""
    service = lock_service(service_id)
    admin = _administrator(service)
    password = password_renew(admin, at=at)
    audit.record(actor=staff, action="corporate.operator.password_reset",
                 target=f"operator:{admin.pk}", occurred_at=at,
                 details={"service": service.pk, "administrator": True, "reason": reason,
                          "channel": "counter"})
    sms(admin.person, f"您在{service.company.name}企业网上银行的管理员登录密码已在柜台重置。"
        "如非本人办理，请立即致电本行客服。", purpose="corporate.password_reset", actor=staff,
        at=at)
    return admin, password


# --- linked accounts at the counter (ON-05) --------------------------------------------


@transaction.atomic
def account_link(*, service_id: int, account_id: int, staff: str, reason: str,
                 at: datetime) -> ServiceAccount:
    """Link another of the company's accounts to the service."""
    return link_account(lock_service(service_id), account_id, actor=staff, reason=reason,
                        channel="counter", at=at)


def link_account(service: CorporateService, account_id: int, *, actor: str, reason: str,
                 channel: str, at: datetime, **details) -> ServiceAccount:
    """The linking itself, for the counter and for the online request with dual approval
    (``corporate.groups``): the service row locked by the caller, in its transaction; one
    of the company's own accounts in normal use, not linked yet; audited, the contact told.
    Operators' scopes do not change (the administrator gives the account to operators)."""
    (account,) = _linkable(service.company, [account_id])
    if ServiceAccount.objects.filter(service=service, account=account,
                                     unlinked_at__isnull=True).exists():
        raise AccountAlreadyLinked(extra={"account_id": account_id})
    link = ServiceAccount.objects.create(service=service, account=account, linked_at=at,
                                         linked_by=actor)
    audit.record(actor=actor, action="corporate.account.linked",
                 target=f"corporate_service:{service.pk}", occurred_at=at,
                 details={"account_number": account.number, "reason": reason,
                          "channel": channel, **details})
    _tell_contact(service, f"账户尾号{account.number[-4:]}已加挂到贵单位企业网上银行。",
                  staff=actor, at=at)
    return link


@transaction.atomic
def account_unlink(*, service_id: int, account_id: int, staff: str, reason: str,
                   at: datetime) -> ServiceAccount:
    """Take an account out of the service: operators' scopes on it end and its
    instructions not paid yet (open, authorised, held) are cancelled. The last account
    cannot go (cancel the service instead)."""
    service = lock_service(service_id)
    links = list(ServiceAccount.objects.select_for_update().select_related("account")
                 .filter(service=service, unlinked_at__isnull=True))
    link = next((x for x in links if x.account_id == account_id), None)
    if link is None:
        raise AccountNotLinked(extra={"account_id": account_id})
    if len(links) == 1:
        raise LastAccount()
    link.unlinked_at, link.unlinked_by = at, staff
    link.save(update_fields=["unlinked_at", "unlinked_by"])
    scopes = OperatorScope.objects.filter(operator__service=service, account_id=account_id)
    ended_scopes = scopes.count()
    scopes.delete()
    cancelled = _instructions_cancel(service, staff=staff, at=at,
                                     reason=f"account unlinked at the counter: {reason}",
                                     account_id=account_id)
    audit.record(actor=staff, action="corporate.account.unlinked",
                 target=f"corporate_service:{service.pk}", occurred_at=at,
                 details={"account_number": link.account.number, "reason": reason,
                          "scopes_ended": ended_scopes, "instructions_cancelled": cancelled,
                          "channel": "counter"})
    _tell_contact(service, f"账户尾号{link.account.number[-4:]}已从贵单位企业网上银行撤销。",
                  staff=staff, at=at)
    return link


def _tell_contact(service: CorporateService, text: str, *, staff: str, at: datetime) -> None:
    """The company's contact hears of changes to what its internet banking reaches (ON-05)."""
    notify.sms_send(phone=service.company.contact_phone, purpose="corporate.accounts",
                    actor=staff, at=at, body=f"{settings.SMS_SIGNATURE}{text}"
                    "如非本单位办理，请立即致电本行客服。")


# --- cancelling (counter only, ON-05) --------------------------------------------------


# Ended by the counter: the open ones, and the authorised and held ones not paid yet
# (execution would refuse them anyway; ending them now says so at once and frees the money).
UNPAID_STATUSES = (*OPEN_STATUSES, InstructionStatus.AUTHORISED, InstructionStatus.HELD)


def _instructions_cancel(service: CorporateService, *, staff: str, at: datetime, reason: str,
                         account_id: int | None = None) -> int:
    """Cancel the service's instructions not paid yet — open, authorised or held for
    review — (those of one debit account if given), releasing any reserved money; each
    gets a history event and an audit row. Under each row's lock, as execution takes it:
    one the worker is paying is waited for and then, paid, left alone; one cancelled here
    is never paid."""
    from wangyin.corporate import approvals  # approvals asks the counter whether it may pay

    rows = (Instruction.objects.select_for_update(of=("self",))
            .filter(service=service, status__in=UNPAID_STATUSES).order_by("pk"))
    if account_id is not None:
        rows = rows.filter(debit_account_id=account_id)
    count = 0
    for instruction in rows:
        approvals.instruction_end(instruction, status=InstructionStatus.CANCELLED, actor=staff,
                                  action="cancelled", reason=reason[:200], at=at)
        count += 1
    return count


@transaction.atomic
def service_cancel(*, service_id: int, staff: str, reason: str,
                   at: datetime) -> CorporateService:
    """Cancel the company's internet banking at its request (ON-05, counter only): every
    operator ends, their USB-Keys for this company end, instructions not paid yet (open,
    authorised, held) are cancelled (reserved money released) and the accounts are
    unlinked. The company may open a new
    service later."""
    service = lock_service(service_id)
    operators = list(Operator.objects.select_for_update(of=("self",)).select_related("person")
                     .filter(service=service).exclude(status=OperatorStatus.REMOVED)
                     .order_by("pk"))
    cancelled = _instructions_cancel(service, staff=staff, at=at,
                                     reason=f"service cancelled at the counter: {reason}")
    keys = 0
    for operator in operators:
        if certificates.usb_key_of(operator.person, company_id=service.company_id):
            certificates.usb_key_end(person_id=operator.person_id, lost=False, actor=staff,
                                     reason="corporate service cancelled", at=at,
                                     company_id=service.company_id)
            keys += 1
        operator.status, operator.ended_at = OperatorStatus.REMOVED, at
        operator.save(update_fields=["status", "ended_at"])
        signin.operator_sessions_end(operator_id=operator.pk, reason=SessionEnd.CLOSED, at=at)
    ServiceAccount.objects.filter(service=service, unlinked_at__isnull=True).update(
        unlinked_at=at, unlinked_by=staff)
    ApprovalPolicy.objects.filter(service=service, status=PolicyStatus.LIVE).update(
        status=PolicyStatus.RETIRED)
    service.status, service.cancelled_at, service.cancelled_by = (
        ServiceStatus.CANCELLED, at, staff)
    service.save(update_fields=["status", "cancelled_at", "cancelled_by"])
    audit.record(actor=staff, action="corporate.service.cancelled",
                 target=f"corporate_service:{service.pk}", occurred_at=at,
                 details={"company": service.company_id, "reason": reason,
                          "operators_ended": len(operators), "usb_keys_ended": keys,
                          "instructions_cancelled": cancelled})
    text = (f"{service.company.name}的企业网上银行（企业客户号{service.number}）已在柜台注销。"
            "如非本单位办理，请立即致电本行客服。")
    notify.sms_send(phone=service.company.contact_phone, purpose="corporate.cancelled",
                    actor=staff, at=at, body=f"{settings.SMS_SIGNATURE}{text}")
    admin = next((o for o in operators if o.is_admin), None)
    if admin is not None and admin.person.phone != service.company.contact_phone:
        sms(admin.person, text, purpose="corporate.cancelled", actor=staff, at=at)
    return service


# --- can the service pay? -----------------------------------------------------------------


def payments_refusal(service: CorporateService) -> CorporateError | None:
    """Why the service cannot make payments now (an error to raise), or None: it must be
    in use, in the standard edition, with an active operator who enters and another
    active operator who authorises (a person never authorises their own instruction, so
    one operator holding both roles is not enough)."""
    if service.status != ServiceStatus.ACTIVE:
        return ServiceNotFound(extra={"service_id": service.pk})
    if service.edition != Edition.STANDARD:
        return QueryEditionNoPayments(extra={"service_id": service.pk})
    roles = list(Operator.objects.filter(service=service, status=OperatorStatus.ACTIVE,
                                         is_admin=False).values_list("pk", "roles"))
    enterers = {pk for pk, held in roles if Role.ENTER in held}
    authorisers = {pk for pk, held in roles if Role.AUTHORISE in held}
    if not enterers or not authorisers or len(enterers | authorisers) < 2:
        return PaymentsNotReady(extra={"service_id": service.pk})
    return None


def payments_ready(service: CorporateService) -> bool:
    return payments_refusal(service) is None
