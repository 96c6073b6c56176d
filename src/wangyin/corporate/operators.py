"""What a company's administrator does online with its operators (FC-02, SE-09): create,
disable, enable and remove them, reset their passwords, give them roles (entering,
checking, authorising), account scopes with their own limits, and bind their USB-Keys for
the company. Every change is signed with the administrator's USB-Key for this company.

The two steps a channel takes:

1. ``change_challenge(admin=, change=Change.disable(operator_id=7), at=)`` checks the
   change and returns the challenge the key signs: its payload names the change in words
   and its digest binds exactly this change (kind, operator, every value), this service
   and this administrator. ``change_verify`` checks the key's signature.
2. ``operator_disable(admin=, operator_id=7, authorisation=challenge.pk, at=)`` rebuilds
   the change from its own arguments, spends the verified challenge with that digest (a
   signature for another change is refused: ``authn.DigestMismatch``; none at all:
   ``authn.NotAuthorised``) and only then changes anything, in one transaction, audited
   with the kept signature.

The administrator never acts on their own login here (password, key, roles, status):
that is the counter's (``corporate.counter``), and they hold no payment role at all.
Operators of another company are never found (``OperatorNotFound``)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from django.db import transaction

from wangyin.audit import services as audit
from wangyin.authn import certificates
from wangyin.authn import services as authn
from wangyin.authn.models import AuthChallenge, Factor, Signature, UsbKey
from wangyin.core.masking import mask_phone
from wangyin.core.money import Money, format_money
from wangyin.corporate import counter, signin
from wangyin.corporate.errors import (
    AdministratorHoldsNoRoles,
    BirthDateRequired,
    ChangePasswordFirst,
    InvalidRole,
    InvalidScope,
    NotAdministrator,
    NotOnYourself,
    OperatorCodeTaken,
    OperatorExists,
    OperatorMobileMismatch,
    OperatorNameMismatch,
    OperatorNotFound,
    OperatorStateRefused,
    QueryEditionNoPayments,
    ScopeNotLinked,
    ServiceNotFound,
)
from wangyin.corporate.models import (
    CorporateService,
    Edition,
    Operator,
    OperatorScope,
    OperatorStatus,
    Role,
    ServiceAccount,
    ServiceStatus,
)
from wangyin.customers import selectors as customer_selectors
from wangyin.customers import services as customer_services
from wangyin.customers import validation
from wangyin.customers.identifiers import clean_id_number, clean_name, clean_phone
from wangyin.customers.models import CustomerAccount, IdType, Person
from wangyin.identity.models import SessionEnd

CREATE = "operator_create"
DISABLE = "operator_disable"
ENABLE = "operator_enable"
REMOVE = "operator_remove"
PASSWORD_RESET = "operator_password_reset"  # noqa: S105 - a change kind
ROLES_SET = "operator_roles_set"
SCOPE_SET = "operator_scope_set"
USB_KEY_BIND = "operator_usb_key_bind"
KINDS = (CREATE, DISABLE, ENABLE, REMOVE, PASSWORD_RESET, ROLES_SET, SCOPE_SET, USB_KEY_BIND)
ROLE_ORDER = (Role.ENTER, Role.CHECK, Role.AUTHORISE)
ROLE_WORDS = {Role.ENTER: "录入", Role.CHECK: "复核", Role.AUTHORISE: "授权"}
MAX_SCOPES = 200


# --- what is signed -----------------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """An account an operator may use, with the operator's own limits (None: none)."""

    account_id: int
    per_payment_fen: int | None = None
    per_day_fen: int | None = None


@dataclass(frozen=True)
class Change:
    """One change the administrator asks for, with its values normalised: the constructors
    below are used both to ask for the signature and to apply it, so the two digests are
    computed from the same data."""

    kind: str
    operator_id: int | None  # None: a new operator
    values: tuple[tuple[str, Any], ...] = ()

    @property
    def purpose(self) -> str:
        return f"corporate.{self.kind}"

    def value(self, name: str) -> Any:
        return dict(self.values)[name]

    def canonical(self) -> str:
        return json.dumps({"kind": self.kind, "operator": self.operator_id,
                           "values": dict(self.values)},
                          sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def _of(cls, kind: str, operator_id: int | None, **values: Any) -> Change:
        if operator_id is not None:
            operator_id = int(operator_id)
        return cls(kind, operator_id, tuple(sorted(values.items())))

    @classmethod
    def create(cls, *, name: str, id_type: str, id_number: str, mobile: str, code: str,
               birth_date: date | None = None) -> Change:
        id_number = clean_id_number(id_type, id_number)
        if id_type == IdType.RESIDENT_ID:  # the card number says it
            birth_date = validation.resident_id_birth_date(id_number)
        return cls._of(CREATE, None, name=clean_name(name, max_length=60), id_type=id_type,
                       id_number=id_number, mobile=clean_phone(mobile),
                       code=counter.clean_operator_code(code),
                       birth_date=birth_date.isoformat() if birth_date else "")

    @classmethod
    def disable(cls, *, operator_id: int) -> Change:
        return cls._of(DISABLE, operator_id)

    @classmethod
    def enable(cls, *, operator_id: int) -> Change:
        return cls._of(ENABLE, operator_id)

    @classmethod
    def remove(cls, *, operator_id: int) -> Change:
        return cls._of(REMOVE, operator_id)

    @classmethod
    def password_reset(cls, *, operator_id: int) -> Change:
        return cls._of(PASSWORD_RESET, operator_id)

    @classmethod
    def roles_set(cls, *, operator_id: int, roles: Iterable[str]) -> Change:
        roles = set(roles)
        if not roles <= set(Role.values):
            raise InvalidRole(extra={"roles": sorted(roles)})
        return cls._of(ROLES_SET, operator_id, roles=[r.value for r in ROLE_ORDER if r in roles])

    @classmethod
    def scope_set(cls, *, operator_id: int, scopes: Iterable[Scope]) -> Change:
        rows = sorted(((int(s.account_id), s.per_payment_fen, s.per_day_fen) for s in scopes),
                      key=lambda row: row[0])
        ids = [row[0] for row in rows]
        if len(set(ids)) != len(ids) or len(rows) > MAX_SCOPES:
            raise InvalidScope(extra={"why": "accounts"})
        for _account, per_payment, per_day in rows:
            if any(v is not None and (type(v) is not int or v <= 0)
                   for v in (per_payment, per_day)):
                raise InvalidScope(extra={"why": "limit"})
            if per_payment is not None and per_day is not None and per_day < per_payment:
                raise InvalidScope(extra={"why": "day below payment"})
        return cls._of(SCOPE_SET, operator_id, scopes=[list(row) for row in rows])

    @classmethod
    def usb_key_bind(cls, *, operator_id: int, serial: str) -> Change:
        return cls._of(USB_KEY_BIND, operator_id, serial=(serial or "").strip().upper())


def change_digest(*, admin: Operator, change: Change) -> str:
    """What the administrator's signature binds: this service, this administrator, this
    change with every value."""
    return authn.digest_of(change.purpose, str(admin.service_id), str(admin.pk),
                           change.canonical())


def _yuan(fen: int | None) -> str:
    return "不限" if fen is None else format_money(Money(fen))


def change_summary(*, service: CorporateService, change: Change,
                   target: Operator | None) -> str:
    """The change in words, as the key shows it and the kept signature records it (no
    full identity document or mobile number: the digest binds those)."""
    who = f"操作员{target.code}（{target.person.name}）" if target is not None else ""
    company = service.company.name
    if change.kind == CREATE:
        return (f"{company}：新增操作员{change.value('code')}，{change.value('name')}，"
                f"证件号码末四位{change.value('id_number')[-4:]}，"
                f"手机号{mask_phone(change.value('mobile'))}")
    if change.kind == ROLES_SET:
        roles = "、".join(ROLE_WORDS[Role(r)] for r in change.value("roles")) or "无"
        return f"{company}：设置{who}的角色为{roles}"
    if change.kind == SCOPE_SET:
        numbers = dict(CustomerAccount.objects.filter(
            pk__in=[s[0] for s in change.value("scopes")]).values_list("pk", "number"))
        parts = [f"账户尾号{numbers.get(account, '????')[-4:]}（单笔{_yuan(per_payment)}，"
                 f"日累计{_yuan(per_day)}）"
                 for account, per_payment, per_day in change.value("scopes")]
        return f"{company}：设置{who}可用账户为" + ("；".join(parts) or "无")
    if change.kind == USB_KEY_BIND:
        return f"{company}：为{who}绑定USB-Key {change.value('serial')}"
    verb = {DISABLE: "停用", ENABLE: "启用", REMOVE: "删除", PASSWORD_RESET: "重置登录密码："}
    return f"{company}：{verb[change.kind]}{who}"


# --- checks -------------------------------------------------------------------------------


@dataclass
class _Context:
    service: CorporateService
    admin: Operator
    change: Change
    target: Operator | None = None
    person: Person | None = None  # create: the person found by their document, if any


def _administrator(admin: Operator, *, lock: bool) -> tuple[CorporateService, Operator]:
    """The administrator as the database has them now (the caller's object may be stale),
    in an active service, with the initial password changed."""
    if lock:
        service = counter.lock_service(admin.service_id)
        rows = Operator.objects.select_for_update(of=("self",))
    else:
        service = (CorporateService.objects.select_related("company")
                   .filter(pk=admin.service_id, status=ServiceStatus.ACTIVE).first())
        if service is None:
            raise ServiceNotFound(extra={"service_id": admin.service_id})
        rows = Operator.objects
    admin = rows.select_related("person").filter(pk=admin.pk, service=service).first()
    if admin is None or not admin.is_admin or admin.status != OperatorStatus.ACTIVE:
        raise NotAdministrator()
    if admin.must_change_password:
        raise ChangePasswordFirst()
    return service, admin


def _target(context: _Context, *, lock: bool) -> Operator:
    rows = Operator.objects.select_for_update(of=("self",)) if lock else Operator.objects
    target = (rows.select_related("person")
              .filter(pk=context.change.operator_id, service=context.service)
              .exclude(status=OperatorStatus.REMOVED).first())
    if target is None:
        raise OperatorNotFound(extra={"operator_id": context.change.operator_id})
    if target.pk == context.admin.pk:
        if context.change.kind == ROLES_SET:
            raise AdministratorHoldsNoRoles()
        raise NotOnYourself(extra={"kind": context.change.kind})
    return target


def _check(admin: Operator, change: Change, *, lock: bool) -> _Context:
    """Everything the change needs, read now (``lock``: with the rows locked, inside the
    transaction that applies it)."""
    if change.kind not in KINDS:
        raise ValueError(f"unknown change {change.kind!r}")
    service, admin = _administrator(admin, lock=lock)
    context = _Context(service=service, admin=admin, change=change)
    if change.kind == CREATE:
        _check_create(context)
        return context
    context.target = target = _target(context, lock=lock)
    status = target.status
    if change.kind in (DISABLE, USB_KEY_BIND) and status != OperatorStatus.ACTIVE \
            or change.kind == ENABLE and status != OperatorStatus.DISABLED:
        raise OperatorStateRefused(extra={"kind": change.kind, "status": status})
    if change.kind == ROLES_SET and service.edition != Edition.STANDARD \
            and change.value("roles"):
        raise QueryEditionNoPayments()
    if change.kind == SCOPE_SET:
        linked = set(ServiceAccount.objects.filter(service=service, unlinked_at__isnull=True)
                     .values_list("account_id", flat=True))
        if not {row[0] for row in change.value("scopes")} <= linked:
            raise ScopeNotLinked()
    return context


def _check_create(context: _Context) -> None:
    service, change = context.service, context.change
    if service.edition != Edition.STANDARD:
        raise QueryEditionNoPayments()
    if counter.code_taken(service, change.value("code")):
        raise OperatorCodeTaken()
    person = customer_selectors.person_by_id_number(id_type=change.value("id_type"),
                                                    id_number=change.value("id_number"))
    if person is None:
        if not change.value("birth_date"):
            raise BirthDateRequired()
        return
    if clean_name(person.name, max_length=60) != change.value("name"):
        raise OperatorNameMismatch()
    if person.phone != change.value("mobile"):
        raise OperatorMobileMismatch()
    if Operator.objects.filter(service=service, person=person).exclude(
            status=OperatorStatus.REMOVED).exists():
        raise OperatorExists()
    context.person = person


# --- the two steps ------------------------------------------------------------------------


def change_challenge(*, admin: Operator, change: Change, at: datetime) -> AuthChallenge:
    """Check the change and open the challenge the administrator's USB-Key for this company
    signs (its payload names the change; its digest binds it). Raises the change's own
    refusal first, or ``authn.NoCertificate`` when the administrator has no key yet."""
    context = _check(admin, change, lock=False)
    return authn.challenge_issue(
        person=context.admin.person, purpose=change.purpose, factors=[Factor.USBKEY],
        digest=change_digest(admin=context.admin, change=change), at=at,
        summary=change_summary(service=context.service, change=change,
                               target=context.target),
        company_id=context.service.company_id)


def change_verify(*, admin: Operator, change: Change, challenge_id: int, signature: str,
                  at: datetime) -> AuthChallenge:
    """Check the key's signature (base64) over the challenge for exactly this change;
    raises ``authn.ChallengeFailed`` otherwise (a wrong try is committed)."""
    return authn.challenge_verify(challenge_id=challenge_id, person=admin.person,
                                  purpose=change.purpose,
                                  digest=change_digest(admin=admin, change=change),
                                  codes={Factor.USBKEY: signature}, at=at)


def _apply(admin: Operator, change: Change, authorisation: int, at: datetime, do):
    """Check, spend the signed authorisation for this very change, then apply it under
    locks with the checks repeated. The authorisation is spent (and a mismatch audited)
    before the change's transaction, so a refused signature is never rolled back."""
    admin = _check(admin, change, lock=False).admin
    authn.authorisation_use(challenge_id=authorisation, person=admin.person,
                            purpose=change.purpose, at=at, requires=[Factor.USBKEY],
                            digest=change_digest(admin=admin, change=change))
    signature = Signature.objects.filter(challenge_id=authorisation).first()
    with transaction.atomic():
        context = _check(admin, change, lock=True)
        return do(context, at=at, signed={"authorisation": authorisation,
                                          "signature": signature.pk if signature else None})


def _audit(context: _Context, action: str, *, at: datetime, signed: dict,
           **details: Any) -> None:
    audit.record(actor=context.admin.actor, action=action,
                 target=f"operator:{context.target.pk}", occurred_at=at,
                 details={"service": context.service.pk, **signed, **details})


def _tell(context: _Context, text: str, *, purpose: str, at: datetime) -> None:
    counter.sms(context.target.person, f"{context.service.company.name}企业网上银行：{text}"
                "如有疑问，请联系贵单位管理员。", purpose=purpose,
                actor=context.admin.actor, at=at)


# --- the changes --------------------------------------------------------------------------


def operator_create(*, admin: Operator, name: str, id_type: str, id_number: str,
                    mobile: str, code: str, authorisation: int, at: datetime,
                    birth_date: date | None = None) -> tuple[Operator, str]:
    """A new operator of the company: the person the bank knows by this identity document
    (their name must match and their reserved mobile number be this one), or a new person
    registered with it. Returns the operator and the initial password, shown once to the
    administrator; the operator changes it at the first sign-in."""
    change = Change.create(name=name, id_type=id_type, id_number=id_number, mobile=mobile,
                           code=code, birth_date=birth_date)

    def do(context: _Context, *, at: datetime, signed: dict) -> tuple[Operator, str]:
        person = context.person or customer_services.person_create(
            name=change.value("name"), id_type=change.value("id_type"),
            id_number=change.value("id_number"), phone=change.value("mobile"),
            birth_date=date.fromisoformat(change.value("birth_date")),
            actor=context.admin.actor, created_at=at)
        operator, password = counter.operator_row_create(
            service=context.service, person=person, code=change.value("code"),
            is_admin=False, created_by=context.admin.actor, at=at)
        context.target = operator
        _audit(context, "corporate.operator.created", at=at, signed=signed,
               person=f"person:{person.pk}", code=operator.code)
        _tell(context, f"您已被设为操作员，企业客户号{context.service.number}，操作员代码"
              f"{operator.code}，初始密码由管理员交给您，首次登录须修改。",
              purpose="corporate.operator_created", at=at)
        return operator, password

    return _apply(admin, change, authorisation, at, do)


def _status_set(admin: Operator, change: Change, authorisation: int, at: datetime, *,
                status: str, action: str, text: str) -> Operator:
    def do(context: _Context, *, at: datetime, signed: dict) -> Operator:
        target = context.target
        before, target.status = target.status, status
        fields = ["status"]
        if status == OperatorStatus.REMOVED:
            target.ended_at = at
            fields.append("ended_at")
            if counter.active_key_of(target) is not None:
                certificates.usb_key_end(person_id=target.person_id, lost=False,
                                         actor=context.admin.actor, at=at,
                                         reason="operator removed",
                                         company_id=context.service.company_id)
        target.save(update_fields=fields)
        if status != OperatorStatus.ACTIVE:  # signed out at once
            signin.operator_sessions_end(operator_id=target.pk, reason=SessionEnd.CLOSED, at=at)
        _audit(context, action, at=at, signed=signed, before=before)
        _tell(context, text, purpose="corporate.operator_status", at=at)
        return target

    return _apply(admin, change, authorisation, at, do)


def operator_disable(*, admin: Operator, operator_id: int, authorisation: int,
                     at: datetime) -> Operator:
    """The operator can no longer sign in or act until enabled again."""
    return _status_set(admin, Change.disable(operator_id=operator_id), authorisation, at,
                       status=OperatorStatus.DISABLED, action="corporate.operator.disabled",
                       text="您的操作员登录已被停用。")


def operator_enable(*, admin: Operator, operator_id: int, authorisation: int,
                    at: datetime) -> Operator:
    return _status_set(admin, Change.enable(operator_id=operator_id), authorisation, at,
                       status=OperatorStatus.ACTIVE, action="corporate.operator.enabled",
                       text="您的操作员登录已重新启用。")


def operator_remove(*, admin: Operator, operator_id: int, authorisation: int,
                    at: datetime) -> Operator:
    """The operator ends for good; their USB-Key for this company is unbound and its
    certificate revoked."""
    return _status_set(admin, Change.remove(operator_id=operator_id), authorisation, at,
                       status=OperatorStatus.REMOVED, action="corporate.operator.removed",
                       text="您的操作员身份已被删除。")


def operator_password_reset(*, admin: Operator, operator_id: int, authorisation: int,
                            at: datetime) -> tuple[Operator, str]:
    """A new initial password (returned once, for the administrator to hand over); the
    login is unlocked and the operator must change the password at the next sign-in."""
    def do(context: _Context, *, at: datetime, signed: dict) -> tuple[Operator, str]:
        password = counter.password_renew(context.target, at=at)
        _audit(context, "corporate.operator.password_reset", at=at, signed=signed,
               channel="online")
        _tell(context, "您的登录密码已由管理员重置，请向管理员领取新的初始密码。",
              purpose="corporate.password_reset", at=at)
        return context.target, password

    return _apply(admin, Change.password_reset(operator_id=operator_id), authorisation, at,
                  do)


def operator_roles_set(*, admin: Operator, operator_id: int, roles: Iterable[str],
                       authorisation: int, at: datetime) -> Operator:
    """The operator's payment roles, all at once (an empty set takes them all away). Never
    the administrator's; none in the query edition."""
    change = Change.roles_set(operator_id=operator_id, roles=roles)

    def do(context: _Context, *, at: datetime, signed: dict) -> Operator:
        target = context.target
        before, target.roles = list(target.roles), list(change.value("roles"))
        target.save(update_fields=["roles"])
        _audit(context, "corporate.operator.roles_set", at=at, signed=signed,
               before=before, roles=target.roles)
        return target

    return _apply(admin, change, authorisation, at, do)


def operator_scope_set(*, admin: Operator, operator_id: int, scopes: Iterable[Scope],
                       authorisation: int, at: datetime) -> list[OperatorScope]:
    """The accounts the operator may use, with their own per-payment and per-day limits,
    all at once (replacing the previous set). Only accounts linked to the service."""
    change = Change.scope_set(operator_id=operator_id, scopes=scopes)

    def do(context: _Context, *, at: datetime, signed: dict) -> list[OperatorScope]:
        target = context.target
        before = list(target.scopes.order_by("account_id").values_list(
            "account_id", "per_payment_fen", "per_day_fen"))
        target.scopes.all().delete()
        rows = OperatorScope.objects.bulk_create(
            OperatorScope(operator=target, account_id=account, per_payment_fen=per_payment,
                          per_day_fen=per_day)
            for account, per_payment, per_day in change.value("scopes"))
        _audit(context, "corporate.operator.scopes_set", at=at, signed=signed,
               before=[list(row) for row in before], scopes=change.value("scopes"))
        return rows

    return _apply(admin, change, authorisation, at, do)


def operator_usb_key_bind(*, admin: Operator, operator_id: int, serial: str,
                          authorisation: int, at: datetime) -> tuple[UsbKey, str]:
    """Bind a USB-Key's serial to the operator for this company. Returns the key and the
    reference code, shown once to the administrator; the authorisation code goes to the
    operator's reserved mobile number. Both are needed to download the certificate."""
    change = Change.usb_key_bind(operator_id=operator_id, serial=serial)

    def do(context: _Context, *, at: datetime, signed: dict) -> tuple[UsbKey, str]:
        key, reference = certificates.usb_key_bind(
            person_id=context.target.person_id, serial=change.value("serial"),
            staff=context.admin.actor, at=at, reason="bound by the company administrator",
            company_id=context.service.company_id)
        _audit(context, "corporate.usb_key.bound", at=at, signed=signed, serial=key.serial,
               channel="online")
        return key, reference

    return _apply(admin, change, authorisation, at, do)


# --- reads --------------------------------------------------------------------------------


def operators_of(*, admin: Operator) -> list[Operator]:
    """The company's operators (not removed) for the administrator's page, the
    administrator first."""
    service, admin = _administrator(admin, lock=False)
    return list(Operator.objects.select_related("person").filter(service=service)
                .exclude(status=OperatorStatus.REMOVED).order_by("-is_admin", "code")
                .prefetch_related("scopes"))

