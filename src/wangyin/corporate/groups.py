"""Group view (FC-08) and accounts linked online with dual approval (ON-05).

**Group view.** At the counter, on a subsidiary's written authorisation (its reference is
kept), staff grant a parent company's service one account of *another* company
(``group_grant``); either company ends it at the counter (``group_grant_end``), and it
ends at once: every read (``group_accounts``, ``group_account``) checks the live grant, the
service and the operator on each request. Both companies' contacts are told by SMS. What
the parent sees is read only — balance and details — because the account is never
linked to the parent's service: operators' scopes, payments and approvals only ever
reach the service's own linked accounts.

Who of the parent's operators sees the group's accounts (least privilege): the
administrator, who already sees every account of the company, and only those other
operators the administrator allows, one by one, each change signed with the
administrator's USB-Key for the company (``viewer_challenge`` → ``viewer_verify`` →
``viewer_set``) and audited. Nobody else; a disabled or removed operator sees nothing.

**Linking an account online (ON-05).** Besides the counter (``counter.account_link``),
three steps by three people:

1. the administrator asks to link one of the company's own accounts in normal use, not
   linked yet, by its number, signed with their USB-Key (``link_request_challenge`` →
   ``link_request_verify`` → ``link_request``); the digest both signatures are about binds
   the service and the account number (``link_digest``);
2. an operator with the authorising role — never the administrator, never the same person
   — approves it with their USB-Key (``link_approve_*``) or rejects it; the approval
   signature binds this request and its digest;
3. the bank then sends the company's contact (the mobile number kept at the counter for
   the company, not an operator's) a confirmation code; the administrator or the approver
   enters it (``link_confirm``) within ``CODE_LIFETIME``, ``CODE_TRIES`` tries, no second
   code: a wrong, late or exhausted code links nothing and, when late or exhausted, ends
   the request. Before linking both kept signatures are checked again (who signed, with a
   key for this company, over this digest, and that they verify). Then the counter's own
   ``counter.link_account`` links it (same checks, audit and notice to the contact).
   Operators' scopes do not change: the administrator gives the account to operators.

A request not confirmed within ``REQUEST_LIFETIME`` expires (``link_requests_expire``, the
job, and at every action); the administrator may cancel it while open. Each step is
audited (``corporate.link.*``)."""

from __future__ import annotations

import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from wangyin.audit import services as audit
from wangyin.authn import services as authn
from wangyin.authn.models import AuthChallenge, Factor, Signature
from wangyin.core.crypto import blind_index
from wangyin.corporate import approvals, counter
from wangyin.corporate.errors import (
    AccountAlreadyLinked,
    AccountNotLinkable,
    ApprovalKeyRefused,
    CorporateError,
    GroupAccountClosed,
    GroupAccountNotFound,
    GroupAuthorisationRequired,
    GroupGrantExists,
    GroupGrantNotFound,
    GroupOwnAccount,
    GroupViewRefused,
    LinkApproverMissing,
    LinkAuthoriserOnly,
    LinkCodeFailed,
    LinkCodeNotYours,
    LinkCodeWrong,
    LinkOwnRequest,
    LinkRequestExists,
    LinkRequestExpired,
    LinkRequestNotFound,
    LinkRequestState,
    LinkSignaturesInvalid,
    NotAdministrator,
    NotOnYourself,
    OperatorNotFound,
    OperatorStateRefused,
    ReasonRequired,
)
from wangyin.corporate.models import (
    CorporateService,
    Edition,
    Operator,
    OperatorStatus,
    Role,
    ServiceAccount,
)
from wangyin.corporate.models.groups import (
    LINK_OPEN,
    AccountLinkRequest,
    GroupGrant,
    GroupViewer,
    LinkRequestStatus,
)
from wangyin.customers import selectors as customer_selectors
from wangyin.customers.models import Company, CustomerAccount
from wangyin.ledger.models import AccountStatus
from wangyin.notify import services as notify

log = structlog.get_logger(__name__)

VIEWER = "corporate.group_viewer_set"  # the administrator's signed change
REQUEST = "corporate.account_link_request"  # the administrator's signature
APPROVE = "corporate.account_link_approve"  # the authoriser's signature
REQUEST_LIFETIME = timedelta(hours=24)
CODE_LIFETIME = timedelta(minutes=10)
CODE_TRIES = 3
CODE_DIGITS = 6
REF_MAX = 60
REASON_MAX = 200
SYSTEM = "system:corporate"


def _reason(reason: str, *, required: bool = True) -> str:
    reason = " ".join((reason or "").split())
    if (required and not reason) or len(reason) > REASON_MAX:
        raise ReasonRequired()
    return reason


def _tell(company: Company, text: str, *, purpose: str, actor: str, at: datetime) -> None:
    """A company hears of it through its contact's mobile number, kept at the counter."""
    notify.sms_send(phone=company.contact_phone, purpose=purpose, actor=actor, at=at,
                    body=f"{settings.SMS_SIGNATURE}{text}")


def _acting(operator: Operator, *, lock: bool = False) -> Operator:
    """``approvals.acting``; locking also locks the service first (a link changes what it
    has)."""
    return approvals.acting(operator, lock=lock, lock_service=lock)


def _administrator(admin: Operator, *, lock: bool = False) -> Operator:
    admin = _acting(admin, lock=lock)
    if not admin.is_admin:
        raise NotAdministrator(extra={"operator": admin.pk})
    return admin


def _kept_signature(challenge_id: int, service: CorporateService) -> Signature:
    """The kept signature of a spent challenge, made with a key for this company."""
    signature = (Signature.objects.select_related("certificate__usb_key")
                 .filter(challenge_id=challenge_id).first())
    key = signature.certificate.usb_key if signature is not None else None
    if key is None or key.company_id != service.company_id:
        raise ApprovalKeyRefused(extra={"challenge": challenge_id})
    return signature


# --- group grants at the counter (FC-08) ----------------------------------------------------


@transaction.atomic
def group_grant(*, service_id: int, account_number: str, authorisation_ref: str, staff: str,
                at: datetime, reason: str = "") -> GroupGrant:
    """Let the parent company's service see one account of another company (a subsidiary),
    on the subsidiary's written authorisation checked at the counter (its reference kept).
    Both companies' contacts are told."""
    ref = " ".join((authorisation_ref or "").split())
    if not ref or len(ref) > REF_MAX:
        raise GroupAuthorisationRequired()
    reason = _reason(reason, required=False)
    service = counter.lock_service(service_id)
    account = customer_selectors.account_by_number(number=account_number or "")
    if account is None or account.company_id is None:
        raise GroupAccountNotFound()
    if account.company_id == service.company_id:
        raise GroupOwnAccount(extra={"account_id": account.pk})
    if account.ledger_account.status == AccountStatus.CLOSED:
        raise GroupAccountClosed(extra={"account_id": account.pk})
    if GroupGrant.objects.filter(service=service, account=account,
                                 ended_at__isnull=True).exists():
        raise GroupGrantExists(extra={"account_id": account.pk})
    try:
        with transaction.atomic():
            grant = GroupGrant.objects.create(service=service, account=account,
                                              authorisation_ref=ref, reason=reason,
                                              granted_at=at, granted_by=staff)
    except IntegrityError as exc:  # granted at the same moment by another teller
        raise GroupGrantExists(extra={"account_id": account.pk}) from exc
    audit.record(actor=staff, action="corporate.group.granted",
                 target=f"corporate_service:{service.pk}", occurred_at=at,
                 details={"grant": grant.pk, "account_number": account.number,
                          "subsidiary": account.company_id, "authorisation_ref": ref,
                          "reason": reason})
    tail = account.number[-4:]
    _tell(service.company, f"贵单位企业网上银行已可查询{account.company.name}账户尾号{tail}"
          "的余额和明细（集团账户）。如非本单位办理，请立即致电本行客服。",
          purpose="corporate.group", actor=staff, at=at)
    _tell(account.company, f"根据贵单位的书面授权（{ref}），{service.company.name}已可在其企业"
          f"网上银行查询贵单位账户尾号{tail}的余额和明细，不能动用资金。如非本单位授权，请立即"
          "致电本行客服。", purpose="corporate.group", actor=staff, at=at)
    return grant


@transaction.atomic
def group_grant_end(*, grant_id: int, staff: str, reason: str, at: datetime,
                    company_id: int | None = None) -> GroupGrant:
    """End a grant at either company's request (the parent, or the subsidiary withdrawing
    its authorisation); the parent's operators no longer see the account from their next
    request. ``company_id``: the company at the counter (the grant must concern it)."""
    reason = _reason(reason)
    grant = (GroupGrant.objects.select_for_update(of=("self",))
             .select_related("service__company", "account__company")
             .filter(pk=grant_id, ended_at__isnull=True).first())
    if grant is None or (company_id is not None and company_id not in (
            grant.service.company_id, grant.account.company_id)):
        raise GroupGrantNotFound(extra={"grant": grant_id})
    grant.ended_at, grant.ended_by, grant.end_reason = at, staff, reason
    grant.save(update_fields=["ended_at", "ended_by", "end_reason"])
    audit.record(actor=staff, action="corporate.group.ended",
                 target=f"corporate_service:{grant.service_id}", occurred_at=at,
                 details={"grant": grant.pk, "account_number": grant.account.number,
                          "subsidiary": grant.account.company_id, "reason": reason,
                          "asked_by": company_id})
    tail = grant.account.number[-4:]
    for company in (grant.service.company, grant.account.company):
        _tell(company, f"{grant.service.company.name}企业网上银行查询{grant.account.company.name}"
              f"账户尾号{tail}的授权已终止。如非本单位办理，请立即致电本行客服。",
              purpose="corporate.group", actor=staff, at=at)
    return grant


def grants_of_company(company_id: int) -> dict[str, list[GroupGrant]]:
    """For the counter: the live grants the company's services hold ("received") and those
    on the company's own accounts ("given")."""
    rows = (GroupGrant.objects.filter(ended_at__isnull=True)
            .select_related("service__company", "account__company", "account__ledger_account")
            .order_by("pk"))
    return {"received": list(rows.filter(service__company_id=company_id)),
            "given": list(rows.filter(account__company_id=company_id))}


# --- who sees the group's accounts ----------------------------------------------------------


def _live_viewer(operator: Operator) -> GroupViewer | None:
    return GroupViewer.objects.filter(operator=operator, ended_at__isnull=True).first()


def may_view_group(operator: Operator) -> bool:
    """The administrator, and the operators the administrator allowed; active, in a
    service in use (read fresh on every request)."""
    try:
        operator = _acting(operator)
    except CorporateError:
        return False
    return operator.is_admin or _live_viewer(operator) is not None


@dataclass(frozen=True)
class GroupAccount:
    account: CustomerAccount  # with ledger_account and company
    grant: GroupGrant


def group_accounts(operator: Operator) -> list[GroupAccount]:
    """The accounts of other companies granted to the operator's service (live grants
    only), by company and number. ``GroupViewRefused`` for an operator not allowed."""
    if not may_view_group(operator):
        raise GroupViewRefused(extra={"operator": operator.pk})
    grants = (GroupGrant.objects.filter(service_id=operator.service_id, ended_at__isnull=True)
              .exclude(account__company_id=operator.service.company_id)
              .select_related("account__ledger_account", "account__company")
              .order_by("account__company__name", "account__number"))
    return [GroupAccount(account=g.account, grant=g) for g in grants]


def group_account(operator: Operator, account_id: int) -> GroupAccount | None:
    """One granted account if the operator may see it now; None otherwise (an ended
    grant, another service's grant, an operator not allowed: it looks missing)."""
    if not may_view_group(operator):
        return None
    return next((g for g in group_accounts(operator) if g.account.pk == account_id), None)


def viewers_of(*, admin: Operator) -> list[dict]:
    """For the administrator's page: the company's other operators (not removed), whether
    each may see the group's accounts."""
    admin = _administrator(admin)
    live = set(GroupViewer.objects.filter(operator__service_id=admin.service_id,
                                          ended_at__isnull=True)
               .values_list("operator_id", flat=True))
    rows = (Operator.objects.select_related("person").filter(service_id=admin.service_id)
            .exclude(status=OperatorStatus.REMOVED).exclude(pk=admin.pk).order_by("code"))
    return [{"operator": o, "allowed": o.pk in live} for o in rows]


def viewer_digest(*, admin: Operator, operator_id: int, allowed: bool) -> str:
    """What the administrator's signature binds: this service, this administrator, this
    operator and the new setting."""
    return authn.digest_of(VIEWER, str(admin.service_id), str(admin.pk), str(int(operator_id)),
                           "1" if allowed else "0")


def _viewer_check(admin: Operator, operator_id: int, allowed: bool, *,
                  lock: bool) -> tuple[Operator, Operator]:
    admin = _administrator(admin, lock=lock)
    rows = Operator.objects.select_for_update(of=("self",)) if lock else Operator.objects
    target = (rows.select_related("person").filter(pk=operator_id, service_id=admin.service_id)
              .exclude(status=OperatorStatus.REMOVED).first())
    if target is None:
        raise OperatorNotFound(extra={"operator_id": operator_id})
    if target.pk == admin.pk:
        raise NotOnYourself(extra={"kind": VIEWER})
    live = _live_viewer(target) is not None
    if allowed and (live or target.status != OperatorStatus.ACTIVE) or (not allowed and not live):
        raise OperatorStateRefused(extra={"kind": VIEWER, "status": target.status,
                                          "viewer": live})
    return admin, target


def _viewer_summary(admin: Operator, target: Operator, allowed: bool) -> str:
    verb = "允许" if allowed else "不再允许"
    return (f"{admin.service.company.name}：{verb}操作员{target.code}（{target.person.name}）"
            "查询集团账户的余额和明细")


def viewer_challenge(*, admin: Operator, operator_id: int, allowed: bool,
                     at: datetime) -> AuthChallenge:
    """Check the change and open the challenge the administrator's USB-Key signs."""
    admin, target = _viewer_check(admin, operator_id, allowed, lock=False)
    return authn.challenge_issue(
        person=admin.person, purpose=VIEWER, factors=[Factor.USBKEY],
        digest=viewer_digest(admin=admin, operator_id=target.pk, allowed=allowed), at=at,
        summary=_viewer_summary(admin, target, allowed), company_id=admin.service.company_id)


def viewer_verify(*, admin: Operator, operator_id: int, allowed: bool, challenge_id: int,
                  signature: str, at: datetime) -> AuthChallenge:
    return authn.challenge_verify(
        challenge_id=challenge_id, person=admin.person, purpose=VIEWER,
        digest=viewer_digest(admin=admin, operator_id=operator_id, allowed=allowed),
        codes={Factor.USBKEY: signature}, at=at)


def viewer_set(*, admin: Operator, operator_id: int, allowed: bool, authorisation: int,
               at: datetime) -> Operator:
    """Allow (or stop) an operator to see the group's accounts, with the administrator's
    verified signature over exactly this change (spent once; another change's is refused
    with ``authn.DigestMismatch``)."""
    admin, _target = _viewer_check(admin, operator_id, allowed, lock=False)
    authn.authorisation_use(challenge_id=authorisation, person=admin.person, purpose=VIEWER,
                            digest=viewer_digest(admin=admin, operator_id=operator_id,
                                                 allowed=allowed),
                            at=at, requires=[Factor.USBKEY])
    with transaction.atomic():
        admin, target = _viewer_check(admin, operator_id, allowed, lock=True)
        signature = _kept_signature(authorisation, admin.service)
        if allowed:
            GroupViewer.objects.create(operator=target, granted_at=at, granted_by=admin.actor,
                                       signature=signature)
        else:
            GroupViewer.objects.filter(operator=target, ended_at__isnull=True).update(
                ended_at=at, ended_by=admin.actor, end_signature=signature)
        audit.record(actor=admin.actor, action="corporate.group.viewer_set",
                     target=f"operator:{target.pk}", occurred_at=at,
                     details={"service": admin.service_id, "allowed": allowed,
                              "authorisation": authorisation, "signature": signature.pk})
    return target


# --- linking an account online with dual approval (ON-05) -----------------------------------


def link_digest(service: CorporateService, account: CustomerAccount) -> str:
    """What the request is about, bound by both signatures: this service, this account."""
    return authn.digest_of("corporate.account_link", str(service.pk), service.number,
                           account.number)


def approval_digest(request: AccountLinkRequest) -> str:
    """What the approver's signature binds: this request and what it is about."""
    return authn.digest_of(APPROVE, str(request.pk), request.digest)


def _code_hash(request_id: int, code: str) -> str:
    return blind_index(f"{request_id}:{code}", purpose="corporate.link_code")


def _approvers(service: CorporateService, admin: Operator) -> bool:
    return Operator.objects.filter(service=service, status=OperatorStatus.ACTIVE,
                                   is_admin=False, roles__contains=[Role.AUTHORISE]).exclude(
        person_id=admin.person_id).exists()


def _request_check(admin: Operator, account_number: str, *,
                   lock: bool) -> tuple[Operator, CustomerAccount]:
    admin = _acting(admin, lock=lock)
    if not admin.is_admin:
        raise LinkAuthoriserOnly(extra={"operator": admin.pk})
    service = admin.service
    if service.edition != Edition.STANDARD or not _approvers(service, admin):
        raise LinkApproverMissing(extra={"service_id": service.pk})
    account = customer_selectors.account_by_number(number=account_number or "")
    if (account is None or account.company_id != service.company_id
            or account.ledger_account.status != AccountStatus.ACTIVE):
        raise AccountNotLinkable(extra={"account": (account_number or "")[-4:]})
    if ServiceAccount.objects.filter(service=service, account=account,
                                     unlinked_at__isnull=True).exists():
        raise AccountAlreadyLinked(extra={"account_id": account.pk})
    if AccountLinkRequest.objects.filter(service=service, account=account,
                                         status__in=LINK_OPEN).exists():
        raise LinkRequestExists(extra={"account_id": account.pk})
    return admin, account


def link_request_challenge(*, admin: Operator, account_number: str,
                           at: datetime) -> AuthChallenge:
    """Check the request and open the challenge the administrator's USB-Key signs: the
    account number in full, for the administrator to check on the key."""
    link_requests_expire(at, service_id=admin.service_id)
    admin, account = _request_check(admin, account_number, lock=False)
    service = admin.service
    return authn.challenge_issue(
        person=admin.person, purpose=REQUEST, factors=[Factor.USBKEY],
        digest=link_digest(service, account), at=at, company_id=service.company_id,
        summary=f"{service.company.name}：申请将本单位账户{account.number}加挂到企业网上银行"
        "（须另一名授权操作员签署并经单位联系人短信确认）")


def link_request_verify(*, admin: Operator, account_number: str, challenge_id: int,
                        signature: str, at: datetime) -> AuthChallenge:
    admin, account = _request_check(admin, account_number, lock=False)
    return authn.challenge_verify(challenge_id=challenge_id, person=admin.person,
                                  purpose=REQUEST, digest=link_digest(admin.service, account),
                                  codes={Factor.USBKEY: signature}, at=at)


def link_request(*, admin: Operator, account_number: str, authorisation: int,
                 at: datetime) -> AccountLinkRequest:
    """Step 1: the administrator's signed request, waiting for an authoriser."""
    admin, account = _request_check(admin, account_number, lock=False)
    digest = link_digest(admin.service, account)
    authn.authorisation_use(challenge_id=authorisation, person=admin.person, purpose=REQUEST,
                            digest=digest, at=at, requires=[Factor.USBKEY])
    with transaction.atomic():
        admin, account = _request_check(admin, account_number, lock=True)
        signature = _kept_signature(authorisation, admin.service)
        try:
            with transaction.atomic():
                request = AccountLinkRequest.objects.create(
                    service=admin.service, account=account, status=LinkRequestStatus.REQUESTED,
                    digest=digest, requested_by=admin, requested_at=at,
                    request_signature=signature, expires_at=at + REQUEST_LIFETIME)
        except IntegrityError as exc:
            raise LinkRequestExists(extra={"account_id": account.pk}) from exc
        audit.record(actor=admin.actor, action="corporate.link.requested",
                     target=f"corporate_service:{admin.service_id}", occurred_at=at,
                     details={"request": request.pk, "account_number": account.number,
                              "digest": digest, "authorisation": authorisation,
                              "signature": signature.pk})
    return request


def _request_of(operator: Operator, request_id: int, *, lock: bool = False) -> AccountLinkRequest:
    rows = AccountLinkRequest.objects.select_related("service__company", "account",
                                                     "requested_by__person",
                                                     "approved_by__person")
    if lock:
        rows = rows.select_for_update(of=("self",))
    request = rows.filter(pk=request_id, service_id=operator.service_id).first()
    if request is None:
        raise LinkRequestNotFound(extra={"request": request_id})
    return request


def _end(request: AccountLinkRequest, *, status: str, actor: str, reason: str,
         at: datetime) -> AccountLinkRequest:
    request.status, request.ended_at, request.ended_by = status, at, actor
    request.end_reason, request.code_hash = reason[:REASON_MAX], ""
    request.save(update_fields=["status", "ended_at", "ended_by", "end_reason", "code_hash"])
    audit.record(actor=actor, action=f"corporate.link.{status.lower()}",
                 result="SUCCESS" if status == LinkRequestStatus.LINKED else "FAILURE",
                 target=f"corporate_service:{request.service_id}", occurred_at=at,
                 details={"request": request.pk, "account_number": request.account.number,
                          "reason": reason})
    return request


def _due(request: AccountLinkRequest, at: datetime) -> bool:
    return request.status in LINK_OPEN and (
        request.expires_at <= at or (request.status == LinkRequestStatus.APPROVED
                                     and request.code_expires_at is not None
                                     and request.code_expires_at <= at))


def link_requests_expire(now: datetime, *, service_id: int | None = None,
                         limit: int = 500) -> int:
    """Open requests past their time (or whose code has expired) end EXPIRED, one
    transaction each; rows someone holds are left for the next run. The job, and before
    every action of a service."""
    rows = AccountLinkRequest.objects.filter(
        Q(expires_at__lte=now) | Q(status=LinkRequestStatus.APPROVED, code_expires_at__lte=now),
        status__in=LINK_OPEN)
    if service_id is not None:
        rows = rows.filter(service_id=service_id)
    expired = 0
    for pk in list(rows.order_by("pk").values_list("pk", flat=True)[:limit]):
        try:
            with transaction.atomic():
                request = (AccountLinkRequest.objects.select_for_update(skip_locked=True)
                           .select_related("account").filter(pk=pk).first())
                if request is None or not _due(request, now):
                    continue
                _end(request, status=LinkRequestStatus.EXPIRED, actor=SYSTEM,
                     reason="not confirmed in time", at=now)
                expired += 1
        except Exception:  # noqa: BLE001 - one bad row must not stop the others
            log.exception("corporate.link_expire_failed", request=pk)
    return expired


def _approve_check(operator: Operator, request_id: int, at: datetime, *,
                   lock: bool) -> tuple[Operator, AccountLinkRequest]:
    operator = _acting(operator, lock=lock)
    request = _request_of(operator, request_id, lock=lock)
    if _due(request, at) or request.status == LinkRequestStatus.EXPIRED:
        raise LinkRequestExpired(extra={"request": request.pk})
    if request.status != LinkRequestStatus.REQUESTED:
        raise LinkRequestState(extra={"status": request.status})
    if operator.pk == request.requested_by_id or (
            operator.person_id == request.requested_by.person_id):
        raise LinkOwnRequest(extra={"request": request.pk})
    if operator.is_admin or Role.AUTHORISE not in operator.roles:
        raise LinkAuthoriserOnly(extra={"operator": operator.pk})
    return operator, request


def link_approve_challenge(*, operator: Operator, request_id: int,
                           at: datetime) -> AuthChallenge:
    """Check that the operator may approve the request, and open the challenge their
    USB-Key for the company signs (the account in full, who asked)."""
    link_requests_expire(at, service_id=operator.service_id)
    operator, request = _approve_check(operator, request_id, at, lock=False)
    return authn.challenge_issue(
        person=operator.person, purpose=APPROVE, factors=[Factor.USBKEY],
        digest=approval_digest(request), at=at, company_id=operator.service.company_id,
        summary=f"{request.service.company.name}：授权将本单位账户{request.account.number}加挂到"
        f"企业网上银行（管理员{request.requested_by.code}申请，第{request.pk}号）；授权后本行"
        "向单位联系人发送确认码")


def link_approve_verify(*, operator: Operator, request_id: int, challenge_id: int,
                        signature: str, at: datetime) -> AuthChallenge:
    operator, request = _approve_check(operator, request_id, at, lock=False)
    return authn.challenge_verify(challenge_id=challenge_id, person=operator.person,
                                  purpose=APPROVE, digest=approval_digest(request),
                                  codes={Factor.USBKEY: signature}, at=at)


def link_approve(*, operator: Operator, request_id: int, authorisation: int,
                 at: datetime) -> AccountLinkRequest:
    """Step 2: the authoriser's signature; the bank sends the company's contact the
    confirmation code (valid ``CODE_LIFETIME``)."""
    operator, request = _approve_check(operator, request_id, at, lock=False)
    authn.authorisation_use(challenge_id=authorisation, person=operator.person,
                            purpose=APPROVE, digest=approval_digest(request), at=at,
                            requires=[Factor.USBKEY])
    with transaction.atomic():
        operator, request = _approve_check(operator, request_id, at, lock=True)
        signature = _kept_signature(authorisation, operator.service)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        request.status, request.approved_by, request.approved_at = (
            LinkRequestStatus.APPROVED, operator, at)
        request.approval_signature = signature
        request.code_hash, request.code_attempts = _code_hash(request.pk, code), 0
        request.code_expires_at = min(at + CODE_LIFETIME, request.expires_at)
        request.save(update_fields=["status", "approved_by", "approved_at",
                                    "approval_signature", "code_hash", "code_attempts",
                                    "code_expires_at"])
        audit.record(actor=operator.actor, action="corporate.link.approved",
                     target=f"corporate_service:{request.service_id}", occurred_at=at,
                     details={"request": request.pk, "account_number": request.account.number,
                              "authorisation": authorisation, "signature": signature.pk})
        minutes = int(CODE_LIFETIME.total_seconds() // 60)
        _tell(request.service.company,
              f"{request.service.company.name}申请将账户尾号{request.account.number[-4:]}加挂到"
              f"企业网上银行，已经两名操作员USB-Key签署。确认码{code}，{minutes}分钟内有效，"
              "同意请交给贵单位网银管理员在页面输入。如非本单位申请，请勿告诉任何人并致电"
              "本行客服。", purpose="corporate.link_code", actor=operator.actor, at=at)
    return request


@transaction.atomic
def link_reject(*, operator: Operator, request_id: int, reason: str,
                at: datetime) -> AccountLinkRequest:
    """An authoriser (not the one who asked) turns the request down, with the reason."""
    reason = _reason(reason)
    operator, request = _approve_check(operator, request_id, at, lock=True)
    return _end(request, status=LinkRequestStatus.REJECTED, actor=operator.actor,
                reason=reason, at=at)


@transaction.atomic
def link_cancel(*, admin: Operator, request_id: int, reason: str,
                at: datetime) -> AccountLinkRequest:
    """The administrator withdraws an open request (its code, if sent, is dead)."""
    reason = _reason(reason)
    admin = _administrator(admin, lock=True)
    request = _request_of(admin, request_id, lock=True)
    if request.status not in LINK_OPEN:
        raise LinkRequestState(extra={"status": request.status})
    return _end(request, status=LinkRequestStatus.CANCELLED, actor=admin.actor, reason=reason,
                at=at)


def _signatures_hold(request: AccountLinkRequest) -> bool:
    """Both kept signatures are of the two operators, with keys for this company, over
    this request's challenges and digest, and verify; and the digest is still the one of
    this service and account."""
    if not hmac.compare_digest(request.digest, link_digest(request.service, request.account)):
        return False
    company_id = request.service.company_id
    for signature, operator, purpose, digest in (
            (request.request_signature, request.requested_by, REQUEST, request.digest),
            (request.approval_signature, request.approved_by, APPROVE,
             approval_digest(request))):
        if signature is None or operator is None:
            return False
        key = signature.certificate.usb_key
        try:
            payload = json.loads(signature.payload)
        except ValueError:
            return False
        if not (signature.person_id == operator.person_id and key is not None
                and key.company_id == company_id and signature.challenge.purpose == purpose
                and hmac.compare_digest(signature.challenge.digest, digest)
                and payload.get("purpose") == purpose
                and hmac.compare_digest(str(payload.get("digest", "")), digest)
                and approvals._signature_holds(signature)):  # noqa: SLF001 - one verifier
            return False
    return True


def link_confirm(*, operator: Operator, request_id: int, code: str,
                 at: datetime) -> AccountLinkRequest:
    """Step 3: the contact's code, entered by the administrator who asked or the operator
    who approved. Right, in time, with both signatures holding: the account is linked
    (``counter.link_account``). A wrong code counts (committed) and links nothing; the
    last wrong try, or a late code, ends the request."""
    outcome = _confirm(operator, request_id, code, at)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


@transaction.atomic
def _confirm(operator: Operator, request_id: int, code: str,
             at: datetime) -> AccountLinkRequest | CorporateError:
    operator = _acting(operator, lock=True)
    request = _request_of(operator, request_id, lock=True)
    if request.status != LinkRequestStatus.APPROVED:
        return LinkRequestState(extra={"status": request.status})
    if operator.pk not in (request.requested_by_id, request.approved_by_id):
        return LinkCodeNotYours(extra={"operator": operator.pk})
    if _due(request, at):
        _end(request, status=LinkRequestStatus.EXPIRED, actor=SYSTEM,
             reason="confirmation code not entered in time", at=at)
        return LinkCodeFailed(extra={"request": request.pk, "why": "late"})
    request.code_attempts += 1
    code = "".join((code or "").split())[:CODE_DIGITS + 2]
    if not hmac.compare_digest(request.code_hash, _code_hash(request.pk, code)):
        left = CODE_TRIES - request.code_attempts
        audit.record(actor=operator.actor, action="corporate.link.code_refused",
                     result="FAILURE", target=f"corporate_service:{request.service_id}",
                     occurred_at=at, details={"request": request.pk, "left": left})
        if left <= 0:
            _end(request, status=LinkRequestStatus.FAILED, actor=operator.actor,
                 reason="confirmation code wrong too many times", at=at)
            return LinkCodeFailed(extra={"request": request.pk, "why": "tries"})
        request.save(update_fields=["code_attempts"])
        return LinkCodeWrong(extra={"request": request.pk, "left": left})
    attempts = request.code_attempts
    request = (AccountLinkRequest.objects.select_related(
        "service__company", "account", "requested_by", "approved_by",
        "request_signature__certificate__usb_key", "request_signature__challenge",
        "approval_signature__certificate__usb_key", "approval_signature__challenge")
        .get(pk=request.pk))
    request.code_attempts = attempts
    if not _signatures_hold(request):
        _end(request, status=LinkRequestStatus.FAILED, actor=SYSTEM,
             reason="the signatures do not hold", at=at)
        log.error("corporate.link_signatures_invalid", request=request.pk)
        return LinkSignaturesInvalid(extra={"request": request.pk})
    try:
        with transaction.atomic():
            link = counter.link_account(
                request.service, request.account_id, actor=operator.actor,
                reason="linked online with dual approval and the contact's confirmation",
                channel="online", at=at, request=request.pk,
                requested_by=request.requested_by.actor, approved_by=request.approved_by.actor,
                signatures=[request.request_signature_id, request.approval_signature_id])
    except (AccountAlreadyLinked, AccountNotLinkable) as exc:
        _end(request, status=LinkRequestStatus.FAILED, actor=SYSTEM,
             reason=f"cannot be linked: {exc.code}", at=at)
        return exc
    request.link = link
    request.save(update_fields=["link", "code_attempts"])
    return _end(request, status=LinkRequestStatus.LINKED, actor=operator.actor,
                reason="confirmed with the contact's code", at=at)


# --- reads for the pages --------------------------------------------------------------------


def may_link(operator: Operator) -> bool:
    """Who reaches the linking pages: the administrator and operators with the
    authorising role, in the standard edition."""
    return operator.service.edition == Edition.STANDARD and (
        operator.is_admin or Role.AUTHORISE in operator.roles)


def link_requests(operator: Operator, at: datetime, *,
                  limit: int = 50) -> list[AccountLinkRequest]:
    """The service's requests, newest first (those past their time settled first)."""
    operator = _acting(operator)
    if not may_link(operator):
        raise LinkAuthoriserOnly(extra={"operator": operator.pk})
    link_requests_expire(at, service_id=operator.service_id)
    return list(AccountLinkRequest.objects.filter(service_id=operator.service_id)
                .select_related("account", "requested_by__person", "approved_by__person")
                .order_by("-requested_at", "-pk")[:limit])


def link_request_of(operator: Operator, request_id: int) -> AccountLinkRequest:
    operator = _acting(operator)
    if not may_link(operator):
        raise LinkAuthoriserOnly(extra={"operator": operator.pk})
    return _request_of(operator, request_id)
