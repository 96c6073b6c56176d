"""Corporate payment approvals (FC-02, TX-02, TX-04, TX-06, TX-11): the company's approval
policy, and payment instructions from entry to authorisation, each approval a USB-Key
signature.

**Policy.** The live ``ApprovalPolicy`` has tiers by account and amount. ``policy_tier``
picks the tier of a payment: tiers of the debit account first (the one with the lowest
upper amount that covers it, bounds inclusive), else the any-account tiers the same way;
a catch-all tier (any account, any amount) must exist, so every payment has one. The
administrator changes it in two steps — ``policy_change_challenge`` (the USB-Key signs the
new tiers in words; the digest binds the canonical tiers and the version they replace) and
``policy_change`` — and the new version goes live and the old one is retired in one
transaction, the signature kept on the policy. Tiers that the company's operators cannot
satisfy yet (too few checkers or authorisers) are allowed, with warnings
(``policy_warnings``): operators and roles are usually set up after the policy, and change
after it; a payment under such a tier waits and expires.

**Instructions.** ``instruction_enter`` checks the operator (active, entering role, the
debit account in their scope, their own per-payment and per-day limits), the service
(standard edition with an enterer and an authoriser: ``counter.payments_refusal``), the
payee as personal payments do (``payments.payees.resolve``: a same-bank account must carry
the name given, another bank must be in the directory), the amount (positive, at most the
bank's online maximum) and the purpose. It fixes the canonical data (canonical JSON of the
service, instruction, debit and payee accounts, payee name and bank, amount, currency,
purpose and the number of checks and authorisations required) and its SHA-256 ``digest``,
copies the tier, evaluates risk (a block refuses it; the decision is kept) and, when the
company chose "reserve on entry", holds amount plus fee on the debit account. A draft is
saved without the day's limit, risk and hold (its canonical data kept up to date with it,
never signed), edited only by its enterer and submitted later.

**Approvals.** ``approval_challenge`` opens the challenge the approver's USB-Key for this
company signs: its digest is the instruction digest and its payload (with the challenge
serial, time and a server random, TX-04) names the payment in words, the amount in figures
and in capitals. ``approve`` spends the verified challenge against the digest and records
the ``Approval`` with the kept signature. Checks come first: while checks are missing the
next step is a check (checking role), then authorisations (authorising role); an
authoriser cannot act before the checks are complete. Never by the operator who entered it
(nor by the same person under another operator login), never twice by one person, only
within the approver's scope; the instruction row is locked, so two approvers at once never
over-approve. ``reject``, ``cancel`` and ``expire_due`` end an open instruction with a
reason and release any reserved money.

**Execution** (built on top): ``verify_for_execution`` refuses unless the instruction is
authorised, its stored fields still give its canonical data, that data still hashes to the
digest, and every approval covers that digest with a signature that verifies (TX-06).
``corporate.execution`` pays it: the last authorisation defers its job in its transaction."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from wangyin.audit import services as audit
from wangyin.authn import services as authn
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.authn.models import AuthChallenge, Factor, Signature
from wangyin.core import pki
from wangyin.core.money import InvalidAmount, Money, format_money
from wangyin.core.money_words import amount_in_words
from wangyin.corporate import counter
from wangyin.corporate.errors import (
    AccountNotInScope,
    AdministratorHoldsNoRoles,
    AlreadyApproved,
    AmountAboveMaximum,
    ApprovalKeyRefused,
    ApproverRoleRequired,
    AuthoriseRoleRequired,
    ChangePasswordFirst,
    CheckRoleRequired,
    ChecksFirst,
    EnterRoleRequired,
    InstructionAltered,
    InstructionKeyReused,
    InstructionNotAuthorised,
    InstructionNotFound,
    InstructionStateRefused,
    NoPolicy,
    NotYourInstruction,
    OperatorDailyLimit,
    OperatorNotActive,
    OperatorPaymentLimit,
    OwnInstruction,
    PayeeNameTooLong,
    PolicyAdministratorOnly,
    PolicyNoCatchAll,
    PolicyTierAccount,
    PolicyTierDuplicate,
    PolicyTierInvalid,
    PolicyTierOrder,
    PolicyTooManyTiers,
    PurposeRequired,
    QueryEditionNoPayments,
    ReasonRequired,
    ServiceNotFound,
)
from wangyin.corporate.models import (
    OPEN_STATUSES,
    Approval,
    ApprovalPolicy,
    ApprovalTier,
    CorporateService,
    Edition,
    Instruction,
    InstructionEvent,
    InstructionKind,
    InstructionStatus,
    Operator,
    OperatorScope,
    OperatorStatus,
    PolicyStatus,
    Role,
    ServiceAccount,
    ServiceStatus,
    Step,
)
from wangyin.customers.models import CustomerAccount
from wangyin.customers.validation import normalise_identifier
from wangyin.ledger import services as ledger
from wangyin.ledger.models import AccountStatus
from wangyin.payments import directory, fees, payees
from wangyin.payments.errors import AccountCannotPay, PaymentBlocked, SameAccount
from wangyin.payments.services import MAX_AMOUNT_FEN, OPERATION
from wangyin.risk import services as risk

log = structlog.get_logger(__name__)

APPROVE = "corporate.approve"  # the challenge purpose of a check or an authorisation
POLICY_CHANGE = "corporate.policy_change"
MAX_TIERS = 20
MAX_CHECKERS = MAX_AUTHORISERS = 5  # as the database constraint on ApprovalTier
REASON_MAX = 200
TEXT_MAX = 60  # purpose and payee name, as the model's columns
DEFAULT_DAYS = 7  # settings.CORPORATE_INSTRUCTION_DAYS when not set
SEGMENT = "corporate"  # the risk engine's and the fee schedule's segment
SYSTEM = "system:corporate"
RISK = "system:risk"
# Counted against an operator's daily limit: entered and not ended without paying.
COUNTED = (InstructionStatus.ENTERED, InstructionStatus.CHECKED, InstructionStatus.AUTHORISED,
           InstructionStatus.HELD, InstructionStatus.EXECUTED)


def canonical_json(data) -> str:
    """What a USB-Key signs, as JSON: keys sorted, no spaces, Chinese as it is."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _yuan(fen: int) -> str:
    return format_money(Money(fen))


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason or len(reason) > REASON_MAX:
        raise ReasonRequired()
    return reason


def expiry_of(at: datetime) -> datetime:
    """The end of the ``CORPORATE_INSTRUCTION_DAYS``-th calendar day (Beijing time) after
    the day of ``at``: an instruction entered on a Monday with 7 days expires when the next
    Monday ends."""
    days = getattr(settings, "CORPORATE_INSTRUCTION_DAYS", DEFAULT_DAYS)
    day = timezone.localtime(at).date() + timedelta(days=days + 1)
    return timezone.make_aware(datetime.combine(day, time.min))


# --- who acts ---------------------------------------------------------------------------


def acting(operator: Operator, *, lock: bool = False,
           lock_service: bool = False) -> Operator:
    """The operator as the database has them now (the caller's copy may be stale): active,
    password changed, of a service in use. ``lock``: their row; ``lock_service``: the
    service's row first (``counter.lock_service``: changes to what the service has)."""
    rows = Operator.objects.select_related("service__company", "person")
    if lock_service:
        counter.lock_service(operator.service_id)
    if lock:
        rows = rows.select_for_update(of=("self",))
    fresh = rows.filter(pk=operator.pk).first()
    if fresh is None or fresh.status != OperatorStatus.ACTIVE:
        raise OperatorNotActive(extra={"operator": operator.pk})
    if fresh.service.status != ServiceStatus.ACTIVE:
        raise ServiceNotFound(extra={"service_id": fresh.service_id})
    if fresh.must_change_password:
        raise ChangePasswordFirst()
    return fresh


def _administrator(admin: Operator, *, lock: bool = False) -> Operator:
    admin = acting(admin, lock=lock)
    if not admin.is_admin:
        raise PolicyAdministratorOnly(extra={"operator": admin.pk})
    if admin.service.edition != Edition.STANDARD:
        raise QueryEditionNoPayments(extra={"service_id": admin.service_id})
    return admin


def _scope_of(operator: Operator, account_id: int) -> OperatorScope:
    """The operator's scope on an account still linked to the service."""
    scope = (OperatorScope.objects.select_related("account__ledger_account")
             .filter(operator=operator, account_id=account_id).first())
    if scope is None or not ServiceAccount.objects.filter(
            service_id=operator.service_id, account_id=account_id,
            unlinked_at__isnull=True).exists():
        raise AccountNotInScope(extra={"account_id": account_id})
    return scope


# --- the policy -------------------------------------------------------------------------


@dataclass(frozen=True)
class TierSpec:
    """A tier as the administrator asks for it: payments from ``account_id`` (None: any
    account) up to ``up_to_fen`` (None: any amount) need ``checkers`` checks and
    ``authorisers`` authorisations."""

    account_id: int | None = None
    up_to_fen: int | None = None
    checkers: int = 0
    authorisers: int = 1


def _covering(tiers: Iterable, account_id: int | None, amount_fen: int):
    """The tier for a payment: the account's own tiers first, then the any-account ones;
    within them the lowest upper amount at or above the amount, a catch-all last."""
    tiers = list(tiers)
    for scope in (account_id, None):
        covering = [t for t in tiers if t.account_id == scope
                    and (t.up_to_fen is None or amount_fen <= t.up_to_fen)]
        if covering:
            return min(covering, key=lambda t: (t.up_to_fen is None, t.up_to_fen or 0))
    return None


def live_policy(service: CorporateService) -> ApprovalPolicy:
    policy = (ApprovalPolicy.objects.filter(service=service, status=PolicyStatus.LIVE)
              .prefetch_related("tiers").first())
    if policy is None:
        raise NoPolicy(extra={"service_id": service.pk})
    return policy


def policy_tier(service: CorporateService, account_id: int | None,
                amount_fen: int) -> ApprovalTier:
    """The live policy's tier for a payment of ``amount_fen`` from ``account_id``."""
    tier = _covering(live_policy(service).tiers.all(), account_id, amount_fen)
    if tier is None:  # a saved policy always has a catch-all: only a damaged one lacks it
        raise NoPolicy(extra={"service_id": service.pk, "account_id": account_id})
    return tier


def _order(tier: TierSpec) -> tuple:
    return (tier.account_id is not None, tier.account_id or 0, tier.up_to_fen is None,
            tier.up_to_fen or 0)


def _count(value, low: int, high: int) -> bool:
    return type(value) is int and low <= value <= high


def tiers_clean(service: CorporateService, tiers: Iterable[TierSpec]) -> list[TierSpec]:
    """The tiers in canonical order, or the error that says what is wrong with them."""
    tiers = list(tiers)
    if len(tiers) > MAX_TIERS:
        raise PolicyTooManyTiers()
    linked = {a.pk for a in counter.linked_accounts(service)}
    for tier in tiers:
        bound = tier.up_to_fen
        if not (_count(tier.checkers, 0, MAX_CHECKERS)
                and _count(tier.authorisers, 1, MAX_AUTHORISERS)
                and (bound is None or (type(bound) is int and 0 < bound))):
            raise PolicyTierInvalid(extra={"tier": repr(tier)})
        if tier.account_id is not None and tier.account_id not in linked:
            raise PolicyTierAccount(extra={"account_id": tier.account_id})
    keys = [(t.account_id, t.up_to_fen) for t in tiers]
    if len(set(keys)) != len(keys):
        raise PolicyTierDuplicate()
    if (None, None) not in keys:
        raise PolicyNoCatchAll()
    ordered = sorted(tiers, key=_order)
    for lower, higher in zip(ordered, ordered[1:], strict=False):
        if lower.account_id == higher.account_id and (
                higher.checkers < lower.checkers or higher.authorisers < lower.authorisers):
            raise PolicyTierOrder(extra={"lower": repr(lower), "higher": repr(higher)})
    return ordered


def _numbers(service: CorporateService) -> dict[int, str]:
    return {a.pk: a.number for a in counter.linked_accounts(service)}


def policy_canonical(service: CorporateService, tiers: list[TierSpec], *,
                     replaces: int | None) -> str:
    """What the administrator signs: the service, the version the change replaces (a
    signature for a change of another version is refused) and the tiers."""
    numbers = _numbers(service)
    return canonical_json({"service": service.number, "replaces": replaces, "tiers": [
        {"account": numbers.get(t.account_id) if t.account_id else None,
         "up_to_fen": t.up_to_fen, "checkers": t.checkers, "authorisers": t.authorisers}
        for t in tiers]})


def _policy_summary(service: CorporateService, tiers: list[TierSpec],
                    replaces: int | None) -> str:
    """The change in words, as the USB-Key shows it before signing."""
    numbers = _numbers(service)
    parts = []
    for t in tiers:
        account = f"账户{numbers.get(t.account_id)}" if t.account_id else "所有账户"
        amount = f"{_yuan(t.up_to_fen)}及以下" if t.up_to_fen is not None else "其余金额"
        parts.append(f"{account}{amount}：复核{t.checkers}人、授权{t.authorisers}人")
    return (f"修改付款审批规则（企业客户号{service.number}，替换第{replaces}版）："
            + "；".join(parts))


def policy_warnings(service: CorporateService, tiers: Iterable[TierSpec]) -> list[str]:
    """Tiers the company's active operators cannot satisfy today: an instruction needs
    its checks and authorisations from as many different operators, none of them the one
    who entered it. Allowed (roles come later and change), but said before signing."""
    operators = list(Operator.objects.filter(service=service, status=OperatorStatus.ACTIVE,
                                             is_admin=False).prefetch_related("scopes"))
    numbers = _numbers(service)
    warnings = []
    for tier in tiers:
        reach = [o for o in operators
                 if (tier.account_id in {s.account_id for s in o.scopes.all()})
                 or (tier.account_id is None and o.scopes.all())]
        checkers = {o.pk for o in reach if Role.CHECK in o.roles}
        authorisers = {o.pk for o in reach if Role.AUTHORISE in o.roles}
        enterers = {o.pk for o in reach if Role.ENTER in o.roles}
        needed = tier.checkers + tier.authorisers
        if (tier.checkers <= len(checkers) and tier.authorisers <= len(authorisers)
                and needed <= len(checkers | authorisers)
                and enterers and needed + 1 <= len(checkers | authorisers | enterers)):
            continue
        which = (_("payments from account %(number)s") % {"number": numbers[tier.account_id]}
                 if tier.account_id else _("payments from any account"))
        amount = (_("up to %(amount)s") % {"amount": _yuan(tier.up_to_fen)}
                  if tier.up_to_fen is not None else _("of any other amount"))
        warnings.append(_("%(which)s %(amount)s need %(checks)d check(s) and "
                          "%(authorisations)d authorisation(s) by different operators, other "
                          "than the one who entered them, and the company's operators cannot "
                          "give that yet. Such payments wait, and expire, until the roles and "
                          "accounts are assigned.")
                        % {"which": which, "amount": amount, "checks": tier.checkers,
                           "authorisations": tier.authorisers})
    return warnings


def _live_version(service: CorporateService) -> int | None:
    return (ApprovalPolicy.objects.filter(service=service, status=PolicyStatus.LIVE)
            .values_list("version", flat=True).first())


def policy_change_challenge(admin: Operator, tiers: Iterable[TierSpec],
                            at: datetime) -> AuthChallenge:
    """Check the new tiers and open the challenge the administrator's USB-Key for this
    company signs. Raises the tiers' error first, or ``authn.NoCertificate`` without a
    key. ``policy_warnings`` says what to show next to it."""
    admin = _administrator(admin)
    service = admin.service
    tiers = tiers_clean(service, tiers)
    replaces = _live_version(service)
    return authn.challenge_issue(
        person=admin.person, purpose=POLICY_CHANGE, factors=[Factor.USBKEY], at=at,
        digest=sha256_hex(policy_canonical(service, tiers, replaces=replaces)),
        summary=_policy_summary(service, tiers, replaces), company_id=service.company_id)


def policy_change_verify(admin: Operator, tiers: Iterable[TierSpec], challenge_id: int,
                         signature: str, at: datetime) -> AuthChallenge:
    """Check the key's signature (base64) over the challenge for exactly these tiers;
    raises ``authn.ChallengeFailed`` otherwise (a wrong try is committed)."""
    admin = _administrator(admin)
    tiers = tiers_clean(admin.service, tiers)
    digest = sha256_hex(policy_canonical(admin.service, tiers,
                                      replaces=_live_version(admin.service)))
    return authn.challenge_verify(challenge_id=challenge_id, person=admin.person,
                                  purpose=POLICY_CHANGE, digest=digest,
                                  codes={Factor.USBKEY: signature}, at=at)


def _spend(*, challenge_id: int, person, purpose: str, digest: str,
           at: datetime) -> AuthChallenge | Exception:
    """Spend a verified USB-Key challenge on ``digest``; the refusal is returned, for the
    caller to raise after its transaction, so the burnt authorisation and the audit of a
    mismatch are kept (TX-06)."""
    try:
        return authn.authorisation_use(challenge_id=challenge_id, person=person,
                                       purpose=purpose, digest=digest, at=at,
                                       requires=[Factor.USBKEY])
    except (NotAuthorised, DigestMismatch) as exc:
        return exc


def _signature_of(challenge: AuthChallenge, service: CorporateService) -> Signature:
    """The kept signature of a spent challenge, made with a key for this company."""
    signature = (Signature.objects.select_related("certificate__usb_key")
                 .filter(challenge=challenge).first())
    key = signature.certificate.usb_key if signature is not None else None
    if key is None or key.company_id != service.company_id:
        raise ApprovalKeyRefused(extra={"challenge": challenge.pk})
    return signature


def policy_change(admin: Operator, tiers: Iterable[TierSpec], challenge_id: int,
                  at: datetime, *, ip: str | None = None, device_id: str = "") -> ApprovalPolicy:
    """Put the signed tiers in force: a new version goes live and the previous one is
    retired, in one transaction, the administrator's signature kept on it, audited. New
    instructions take their tier from it; entered ones keep theirs. The returned policy
    carries ``warnings`` (see ``policy_warnings``)."""
    refused = None
    with transaction.atomic():
        admin = _administrator(admin)
        service = counter.lock_service(admin.service_id)
        tiers = tiers_clean(service, tiers)
        old = (ApprovalPolicy.objects.select_for_update()
               .filter(service=service, status=PolicyStatus.LIVE).first())
        canonical = policy_canonical(service, tiers, replaces=old.version if old else None)
        digest = sha256_hex(canonical)
        spent = _spend(challenge_id=challenge_id, person=admin.person, purpose=POLICY_CHANGE,
                       digest=digest, at=at)
        if isinstance(spent, Exception):
            refused = spent
        else:
            try:
                signature = _signature_of(spent, service)
            except ApprovalKeyRefused as exc:
                refused = exc
        if refused is None:
            if old is not None:
                old.status = PolicyStatus.RETIRED
                old.save(update_fields=["status"])
            latest = (ApprovalPolicy.objects.filter(service=service)
                      .order_by("-version").values_list("version", flat=True).first())
            policy = ApprovalPolicy.objects.create(
                service=service, version=(latest or 0) + 1, status=PolicyStatus.LIVE,
                created_at=at, created_by=admin.actor, signature=signature)
            ApprovalTier.objects.bulk_create(
                ApprovalTier(policy=policy, account_id=t.account_id, up_to_fen=t.up_to_fen,
                             checkers=t.checkers, authorisers=t.authorisers) for t in tiers)
            policy.warnings = policy_warnings(service, tiers)
            audit.record(actor=admin.actor, action="corporate.policy.changed",
                         target=f"corporate_service:{service.pk}", occurred_at=at, ip=ip,
                         device=device_id,
                         details={"version": policy.version,
                                  "replaces": old.version if old else None,
                                  "tiers": json.loads(canonical)["tiers"], "digest": digest,
                                  "signature": signature.pk, "challenge": spent.pk,
                                  "warnings": [str(w) for w in policy.warnings]})
    if refused is not None:
        raise refused
    return policy


# --- the canonical data of an instruction ---------------------------------------------------


def batch_row_canonical(line: int, account: str, name: str, bank_code: str,
                        amount_fen: int, purpose: str) -> str:
    """One row of a batch as its digest covers it (canonical JSON of a list)."""
    return canonical_json([line, account, name, bank_code, amount_fen, purpose])


def batch_rows_data(instruction: Instruction) -> dict[int, str]:
    """{line: canonical row} of the rows a batch includes (neither removed nor in error),
    read from the stored rows: one query, in line order."""
    from wangyin.corporate.models.batches import INCLUDED, BatchRow

    rows = (BatchRow.objects.filter(batch__instruction_id=instruction.pk, status__in=INCLUDED)
            .order_by("line").values_list("line", "payee_account", "payee_name",
                                          "payee_bank__code", "amount_fen", "purpose"))
    return {row[0]: batch_row_canonical(row[0], row[1], row[2], row[3] or "", row[4], row[5])
            for row in rows}


def batch_rows_digest(rows: Iterable[str]) -> str:
    """The SHA-256 over a batch's canonical rows, one a line, in line order."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(row.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def instruction_canonical(instruction: Instruction, *,
                          batch_rows: dict[int, str] | None = None) -> str:
    """What every approver signs (TX-06), recomputed from the instruction's own fields.
    A batch (payee fields blank) adds its file's SHA-256, the number of rows it includes
    and a digest over those rows' canonical data (line, account, name, bank code, amount,
    purpose, in line order): with the total (``amount_fen``), what every signature covers.
    ``batch_rows``: the rows already read (``batch_rows_data``)."""
    data = {
        "instruction": instruction.pk, "kind": instruction.kind,
        "service": instruction.service.number,
        "debit_account": instruction.debit_account.number,
        "payee_account": instruction.payee_account, "payee_name": instruction.payee_name,
        "payee_bank": instruction.payee_bank.code if instruction.payee_bank_id else "",
        "amount_fen": instruction.amount_fen, "currency": instruction.currency,
        "purpose": instruction.purpose, "checks": instruction.checkers_required,
        "authorisations": instruction.authorisers_required}
    if instruction.kind == InstructionKind.BATCH:
        from wangyin.corporate.models.batches import Batch

        rows = batch_rows if batch_rows is not None else batch_rows_data(instruction)
        sha = (Batch.objects.filter(instruction_id=instruction.pk)
               .values_list("file_sha256", flat=True).first())
        data.update({"file_sha256": sha or "", "rows": len(rows),
                     "rows_digest": batch_rows_digest(rows[line] for line in sorted(rows))})
    return canonical_json(data)


def instruction_summary(instruction: Instruction) -> str:
    """The payment in words, as the approver's USB-Key shows it before signing: made from
    the canonical data (what is signed), not from columns that could have changed."""
    data = json.loads(instruction.canonical)
    amount = Money(data["amount_fen"], data["currency"])
    if data["kind"] == InstructionKind.BATCH:
        return (f"批量付款指令{data['instruction']}：从账户{data['debit_account']}付款"
                f"{data['rows']}笔，合计{format_money(amount)}（大写：人民币"
                f"{amount_in_words(amount)}），用途：{data['purpose']}，文件摘要"
                f"{data['file_sha256'][:16]}，明细摘要{data['rows_digest'][:16]}")
    bank = (instruction.payee_bank.bank_name if instruction.payee_bank_id else "本行")
    return (f"付款指令{data['instruction']}：从账户{data['debit_account']}向"
            f"{data['payee_name']}（{bank}，账户{data['payee_account']}）付款"
            f"{format_money(amount)}（大写：人民币{amount_in_words(amount)}），"
            f"用途：{data['purpose']}")


def _intact(instruction: Instruction, approvals: Iterable[Approval] = (), *,
            batch_rows: dict[int, str] | None = None) -> None:
    """The stored fields still give the canonical data, it still hashes to the digest, and
    every approval so far covers that digest; else ``InstructionAltered``."""
    if not instruction.canonical or instruction_canonical(
            instruction, batch_rows=batch_rows) != instruction.canonical:
        raise InstructionAltered(extra={"instruction": instruction.pk, "why": "fields"})
    if not hmac.compare_digest(sha256_hex(instruction.canonical), instruction.digest):
        raise InstructionAltered(extra={"instruction": instruction.pk, "why": "digest"})
    for approval in approvals:
        if not hmac.compare_digest(approval.digest, instruction.digest):
            raise InstructionAltered(extra={"instruction": instruction.pk,
                                            "approval": approval.pk, "why": "approval"})


# --- history and endings ----------------------------------------------------------------


def _event(instruction: Instruction, *, actor: str, action: str, at: datetime,
           reason: str = "") -> None:
    InstructionEvent.objects.create(instruction=instruction, at=at, actor=actor, action=action,
                                    status=instruction.status, reason=reason[:REASON_MAX])


def _audit(instruction: Instruction, *, actor: str, action: str, at: datetime,
           result: str = "SUCCESS", ip: str | None = None, device: str = "",
           **details) -> None:
    audit.record(actor=actor, action=f"corporate.instruction.{action}", result=result,
                 target=f"instruction:{instruction.pk}", occurred_at=at, ip=ip, device=device,
                 details={"service": instruction.service_id, "status": instruction.status,
                          "amount_fen": instruction.amount_fen, **details})


def instruction_end(instruction: Instruction, *, status: str, actor: str, action: str,
                    reason: str, at: datetime, ip: str | None = None,
                    device_id: str = "") -> Instruction:
    """End an open instruction (locked) without paying: reserved money released, history,
    audit. Also the counter's when it cancels a service or unlinks an account."""
    if instruction.hold_id is not None:
        ledger.hold_release(hold_id=instruction.hold_id, actor=actor, released_at=at)
    instruction.status = status
    instruction.ended_at, instruction.ended_by, instruction.end_reason = at, actor, reason
    instruction.save(update_fields=["status", "ended_at", "ended_by", "end_reason"])
    _event(instruction, actor=actor, action=action, at=at, reason=reason)
    _audit(instruction, actor=actor, action=action, at=at, ip=ip, device=device_id,
           reason=reason, hold_released=instruction.hold_id)
    return instruction


def _locked(service_id: int, instruction_id: int) -> Instruction:
    instruction = (Instruction.objects.select_for_update(of=("self",))
                   .select_related("service", "debit_account", "payee_bank", "entered_by")
                   .filter(pk=instruction_id, service_id=service_id).first())
    if instruction is None:
        raise InstructionNotFound(extra={"instruction": instruction_id})
    return instruction


# --- entering ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Order:
    """What the entering operator asked for, checked. A batch has no one payee (its rows
    are the payees): ``kind`` is then the kind risk control sees and ``fee_fen`` the fees
    of its rows, reserved with the total on entry."""

    debit: CustomerAccount
    scope: OperatorScope
    payee: payees.Resolved | None
    amount_fen: int
    purpose: str
    kind: str = ""
    fee_fen: int | None = None

    @property
    def transfer_kind(self) -> str:
        return self.payee.kind if self.payee is not None else self.kind

    @property
    def counterparty(self) -> str:
        return self.payee.account if self.payee is not None else ""

    def reserve_fee(self) -> int:
        """The fee reserved with the amount (by the schedule of the day of entry)."""
        if self.fee_fen is not None:
            return self.fee_fen
        return fees.fee_for(segment=SEGMENT, kind=self.payee.kind, amount_fen=self.amount_fen)


def _may_enter(operator: Operator) -> None:
    if operator.is_admin:
        raise AdministratorHoldsNoRoles(extra={"operator": operator.pk})
    refusal = counter.payments_refusal(operator.service)
    if refusal is not None:
        raise refusal
    if Role.ENTER not in operator.roles:
        raise EnterRoleRequired(extra={"operator": operator.pk})


def debit_check(operator: Operator, debit_account_id: int) -> OperatorScope:
    """The operator may enter payments (``_may_enter``) from this account of their scope,
    which can pay. Their scope, with the account and its ledger account."""
    _may_enter(operator)
    scope = _scope_of(operator, debit_account_id)
    if scope.account.ledger_account.status != AccountStatus.ACTIVE:
        raise AccountCannotPay(extra={"account": scope.account.number})
    return scope


def amount_check(amount_fen: int) -> None:
    """One payment's amount: positive fen, at most the bank's online maximum."""
    if type(amount_fen) is not int or amount_fen <= 0:
        raise InvalidAmount(extra={"amount_fen": amount_fen})
    if amount_fen > MAX_AMOUNT_FEN:
        raise AmountAboveMaximum(extra={"amount_fen": amount_fen})


def purpose_clean(purpose: str) -> str:
    """The purpose (用途) with its spaces collapsed: required, up to 60 characters."""
    purpose = " ".join((purpose or "").split())
    if not purpose or len(purpose) > TEXT_MAX:
        raise PurposeRequired()
    return purpose


def payee_check(scope: OperatorScope, payee: payees.Resolved, amount_fen: int) -> None:
    """What a resolved payee and the amount must still pass: not the debit account itself,
    a name that fits, and the operator's own per-payment limit on the account."""
    if payee.credit is not None and payee.credit.pk == scope.account_id:
        raise SameAccount()
    if len(payee.name) > TEXT_MAX:
        raise PayeeNameTooLong()
    if scope.per_payment_fen is not None and amount_fen > scope.per_payment_fen:
        raise OperatorPaymentLimit(
            _("Your own limit for one payment from this account is %(limit)s.")
            % {"limit": _yuan(scope.per_payment_fen)},
            extra={"limit": scope.per_payment_fen, "amount_fen": amount_fen})


def _order_check(operator: Operator, *, debit_account_id: int, payee_account: str,
                 payee_name: str, payee_bank_code: str, amount_fen: int,
                 purpose: str) -> _Order:
    """Every check of what was typed that does not depend on the day's other payments."""
    scope = debit_check(operator, debit_account_id)
    amount_check(amount_fen)
    purpose = purpose_clean(purpose)
    payee = payees.resolve(company_id=operator.service.company_id, account=payee_account,
                           name=payee_name, bank_code=(payee_bank_code or "").strip())
    payee_check(scope, payee, amount_fen)
    return _Order(debit=scope.account, scope=scope, payee=payee, amount_fen=amount_fen,
                  purpose=purpose)


def _day_check(operator: Operator, order: _Order, at: datetime,
               exclude_id: int | None) -> None:
    """The operator's own daily limit on the account: what they entered today (Beijing
    day) and was not ended without paying. Their row is locked: their entries go one at a
    time."""
    limit = order.scope.per_day_fen
    if limit is None:
        return
    local = timezone.localtime(at)
    start = timezone.make_aware(datetime.combine(local.date(), time.min))
    entered = (Instruction.objects.filter(entered_by=operator, debit_account=order.debit,
                                          status__in=COUNTED, entered_at__gte=start)
               .exclude(pk=exclude_id).aggregate(total=Sum("amount_fen"))["total"] or 0)
    if entered + order.amount_fen > limit:
        raise OperatorDailyLimit(
            _("Your own daily limit for payments from this account is %(limit)s "
              "(%(left)s left today).") % {"limit": _yuan(limit),
                                           "left": _yuan(max(0, limit - entered))},
            extra={"limit": limit, "entered_fen": entered, "amount_fen": order.amount_fen})


def _fill(instruction: Instruction, order: _Order) -> None:
    instruction.debit_account = order.debit
    payee = order.payee
    instruction.payee_account = payee.account if payee is not None else ""
    instruction.payee_name = payee.name if payee is not None else ""
    instruction.payee_bank = payee.bank if payee is not None else None
    instruction.amount_fen = order.amount_fen
    instruction.purpose = order.purpose


SEALED = ["debit_account", "payee_account", "payee_name", "payee_bank", "amount_fen",
          "purpose", "policy", "checkers_required", "authorisers_required", "canonical",
          "digest"]


def _seal(instruction: Instruction, operator: Operator, order: _Order) -> ApprovalTier:
    """Write the order, the live tier and the canonical data with its digest onto the
    instruction (not saved). A draft is sealed too, each time it changes, and again when
    it is entered: only what is entered is ever signed. A batch's tier is by its total
    and its canonical data covers its stored rows."""
    _fill(instruction, order)
    tier = policy_tier(operator.service, order.debit.pk, order.amount_fen)
    instruction.policy_id = tier.policy_id
    instruction.checkers_required = tier.checkers
    instruction.authorisers_required = tier.authorisers
    instruction.canonical = instruction_canonical(instruction)
    instruction.digest = sha256_hex(instruction.canonical)
    return tier


def _submit(instruction: Instruction, operator: Operator, order: _Order, *, at: datetime,
            device_id: str, ip: str | None) -> bool:
    """Draft → entered: the day's limit, the tier, the canonical data and digest, the risk
    decision and the reserved money. False when risk control blocked it (it is then
    rejected by the system; the caller commits that and refuses). A batch the same way,
    by its total, once for all its rows (``corporate.batches``)."""
    _day_check(operator, order, at, exclude_id=instruction.pk)
    tier = _seal(instruction, operator, order)
    person = operator.person
    decision = risk.evaluate(risk.Event(
        kind=OPERATION[order.transfer_kind], person_id=person.pk, channel="web",
        device=device_id, ip=ip, at=at, amount_fen=order.amount_fen,
        counterparty=order.counterparty, id_number_index=person.id_number_index,
        phone_index=person.phone_index, segment=SEGMENT, ref=f"corporate:{instruction.pk}"))
    instruction.risk_action, instruction.risk_reasons = decision.action, list(decision.reasons)
    fields = [*SEALED, "risk_action", "risk_reasons"]
    if decision.action == risk.BLOCK:
        instruction.status = InstructionStatus.REJECTED
        instruction.ended_at, instruction.ended_by = at, RISK
        instruction.end_reason = "stopped by risk control"
        instruction.save(update_fields=[*fields, "status", "ended_at", "ended_by",
                                        "end_reason"])
        _event(instruction, actor=RISK, action="blocked", at=at,
               reason=",".join(decision.reasons))
        _audit(instruction, actor=operator.actor, action="blocked", at=at, result="FAILURE",
               ip=ip, device=device_id, reasons=list(decision.reasons))
        return False
    if operator.service.reserve_on_entry:
        fee = order.reserve_fee()
        instruction.hold = ledger.hold_place(
            account_id=order.debit.ledger_account_id,
            amount=Money(order.amount_fen + fee, instruction.currency),
            idempotency_key=f"corporate:instruction:{instruction.pk}",
            reason="corporate reserve on entry", actor=operator.actor, placed_at=at)
        fields.append("hold")
    instruction.status = InstructionStatus.ENTERED
    instruction.entered_at, instruction.expires_at = at, expiry_of(at)
    instruction.save(update_fields=[*fields, "status", "entered_at", "expires_at"])
    _event(instruction, actor=operator.actor, action="entered", at=at)
    _audit(instruction, actor=operator.actor, action="entered", at=at, ip=ip, device=device_id,
           digest=instruction.digest, tier={"checks": tier.checkers,
                                            "authorisations": tier.authorisers,
                                            "policy": tier.policy_id},
           risk=decision.action, hold=instruction.hold_id)
    return True


def _replay(existing: Instruction, operator: Operator, *, debit_account_id: int,
            payee_account: str, payee_name: str, payee_bank_code: str, amount_fen: int,
            purpose: str) -> Instruction:
    """The instruction a repeated request (double click, retry) already made; the same key
    with anything else is refused."""
    code = (payee_bank_code or "").strip()
    same = (existing.entered_by_id == operator.pk
            and existing.debit_account_id == debit_account_id
            and existing.payee_account == normalise_identifier(payee_account)
            and " ".join(existing.payee_name.split()) == " ".join((payee_name or "").split())
            and (existing.payee_bank.code if existing.payee_bank_id else "")
            == ("" if directory.is_this_bank(code) else code)
            and existing.amount_fen == amount_fen
            and existing.purpose == " ".join((purpose or "").split()))
    if not same:
        raise InstructionKeyReused(extra={"instruction": existing.pk})
    if existing.ended_by == RISK:
        raise PaymentBlocked(extra={"instruction": existing.pk,
                                    "reasons": existing.risk_reasons})
    existing.replayed = True
    return existing


def instruction_enter(operator: Operator, *, debit_account_id: int, payee_account: str,
                      payee_name: str, payee_bank_code: str = "", amount_fen: int,
                      purpose: str, idempotency_key: str, at: datetime, draft: bool = False,
                      device_id: str = "", ip: str | None = None) -> Instruction:
    """Enter a payment instruction (or save it as a draft). Returns it (``replayed`` when
    this key had already made it). Raises the ``DomainError`` that names the problem;
    ``PaymentBlocked`` when risk control stops it (the decision and the rejected
    instruction are kept)."""
    if not idempotency_key or len(idempotency_key) > 64:
        raise ValueError("an idempotency key of 1 to 64 characters")
    typed = {"debit_account_id": debit_account_id, "payee_account": payee_account,
             "payee_name": payee_name, "payee_bank_code": payee_bank_code,
             "amount_fen": amount_fen, "purpose": purpose}
    with transaction.atomic():
        # The operator's row lock: their entries go one at a time (daily limit, same key).
        operator = acting(operator, lock=True)
        existing = (Instruction.objects.select_related("payee_bank")
                    .filter(service_id=operator.service_id, idempotency_key=idempotency_key)
                    .first())
        if existing is not None:
            return _replay(existing, operator, **typed)
        order = _order_check(operator, **typed)
        try:
            with transaction.atomic():
                instruction = Instruction.objects.create(
                    service=operator.service, kind=InstructionKind.SINGLE,
                    debit_account=order.debit, payee_account=order.payee.account,
                    payee_name=order.payee.name, payee_bank=order.payee.bank,
                    amount_fen=amount_fen, purpose=order.purpose,
                    status=InstructionStatus.DRAFT, entered_by=operator,
                    idempotency_key=idempotency_key, created_at=at, expires_at=expiry_of(at))
        except IntegrityError as exc:  # another operator of the company used the same key
            raise InstructionKeyReused(extra={"idempotency_key": idempotency_key}) from exc
        instruction.replayed = False
        if draft:
            _seal(instruction, operator, order)
            instruction.save(update_fields=SEALED)
            _event(instruction, actor=operator.actor, action="drafted", at=at)
            _audit(instruction, actor=operator.actor, action="drafted", at=at, ip=ip,
                   device=device_id)
            return instruction
        entered = _submit(instruction, operator, order, at=at, device_id=device_id, ip=ip)
    if not entered:
        raise PaymentBlocked(extra={"instruction": instruction.pk,
                                    "reasons": instruction.risk_reasons})
    return instruction


def _own_draft(operator: Operator, instruction_id: int) -> Instruction:
    instruction = _locked(operator.service_id, instruction_id)
    if instruction.entered_by_id != operator.pk:
        raise NotYourInstruction(extra={"instruction": instruction.pk})
    if instruction.status != InstructionStatus.DRAFT:
        raise InstructionStateRefused(extra={"status": instruction.status})
    return instruction


@transaction.atomic
def instruction_edit(operator: Operator, instruction_id: int, *, debit_account_id: int,
                     payee_account: str, payee_name: str, payee_bank_code: str = "",
                     amount_fen: int, purpose: str, at: datetime) -> Instruction:
    """Change a draft (only its enterer): every field is checked again."""
    operator = acting(operator, lock=True)
    instruction = _own_draft(operator, instruction_id)
    if instruction.kind != InstructionKind.SINGLE:  # a batch changes by its rows
        raise InstructionStateRefused(extra={"kind": instruction.kind})
    order = _order_check(operator, debit_account_id=debit_account_id,
                         payee_account=payee_account, payee_name=payee_name,
                         payee_bank_code=payee_bank_code, amount_fen=amount_fen,
                         purpose=purpose)
    _seal(instruction, operator, order)
    instruction.save(update_fields=SEALED)
    _event(instruction, actor=operator.actor, action="edited", at=at)
    _audit(instruction, actor=operator.actor, action="edited", at=at)
    return instruction


def instruction_submit(operator: Operator, instruction_id: int, at: datetime, *,
                       device_id: str = "", ip: str | None = None) -> Instruction:
    """Submit a draft (only its enterer): checked as a new entry, then entered. A batch:
    ``corporate.batches.batch_submit``."""
    kind = (Instruction.objects.filter(pk=instruction_id, service_id=operator.service_id)
            .values_list("kind", flat=True).first())
    if kind == InstructionKind.BATCH:
        from wangyin.corporate import batches  # batches imports this module

        return batches.batch_submit(operator, instruction_id, at, device_id=device_id, ip=ip)
    with transaction.atomic():
        operator = acting(operator, lock=True)
        instruction = _own_draft(operator, instruction_id)
        order = _order_check(
            operator, debit_account_id=instruction.debit_account_id,
            payee_account=instruction.payee_account, payee_name=instruction.payee_name,
            payee_bank_code=instruction.payee_bank.code if instruction.payee_bank_id else "",
            amount_fen=instruction.amount_fen, purpose=instruction.purpose)
        entered = _submit(instruction, operator, order, at=at, device_id=device_id, ip=ip)
    if not entered:
        raise PaymentBlocked(extra={"instruction": instruction.pk,
                                    "reasons": instruction.risk_reasons})
    return instruction


# --- approving ----------------------------------------------------------------------------


def _next_step(instruction: Instruction, approvals: Iterable[Approval]) -> str:
    checks = sum(1 for a in approvals if a.step == Step.CHECK)
    return Step.CHECK if checks < instruction.checkers_required else Step.AUTHORISE


def _may_approve(operator: Operator, instruction: Instruction) -> tuple[str, list[Approval]]:
    """The step this operator would take on the instruction now, with its approvals so
    far; or the error that says why they cannot."""
    if operator.is_admin:
        raise AdministratorHoldsNoRoles(extra={"operator": operator.pk})
    if operator.service.edition != Edition.STANDARD:
        raise QueryEditionNoPayments(extra={"service_id": operator.service_id})
    if instruction.status not in (InstructionStatus.ENTERED, InstructionStatus.CHECKED):
        raise InstructionStateRefused(extra={"status": instruction.status})
    if instruction.entered_by.person_id == operator.person_id:
        raise OwnInstruction(extra={"instruction": instruction.pk})
    approvals = list(instruction.approvals.select_related("operator").order_by("pk"))
    if any(a.operator.person_id == operator.person_id for a in approvals):
        raise AlreadyApproved(extra={"instruction": instruction.pk})
    _scope_of(operator, instruction.debit_account_id)
    _intact(instruction, approvals)
    step = _next_step(instruction, approvals)
    if step == Step.CHECK and Role.CHECK not in operator.roles:
        if Role.AUTHORISE in operator.roles:
            raise ChecksFirst(extra={"instruction": instruction.pk})
        raise CheckRoleRequired(extra={"instruction": instruction.pk})
    if step == Step.AUTHORISE and Role.AUTHORISE not in operator.roles:
        raise AuthoriseRoleRequired(extra={"instruction": instruction.pk})
    return step, approvals


def _instruction_of(operator: Operator, instruction_id: int) -> Instruction:
    instruction = (Instruction.objects
                   .select_related("service", "debit_account", "payee_bank", "entered_by")
                   .filter(pk=instruction_id, service_id=operator.service_id).first())
    if instruction is None:
        raise InstructionNotFound(extra={"instruction": instruction_id})
    return instruction


def approval_challenge(operator: Operator, instruction_id: int,
                       at: datetime) -> AuthChallenge:
    """Check that the operator may take the instruction's next step, and open the
    challenge their USB-Key for this company signs (TX-02, TX-04): bound to the
    instruction's digest, its payload naming the payment in words."""
    operator = acting(operator)
    instruction = _instruction_of(operator, instruction_id)
    step, _approvals = _may_approve(operator, instruction)
    what = "复核" if step == Step.CHECK else "授权"
    return authn.challenge_issue(
        person=operator.person, purpose=APPROVE, factors=[Factor.USBKEY],
        digest=instruction.digest, at=at, company_id=operator.service.company_id,
        summary=f"{what}{instruction_summary(instruction)}")


def approval_verify(operator: Operator, instruction_id: int, challenge_id: int,
                    signature: str, at: datetime) -> AuthChallenge:
    """Check the key's signature (base64) over the challenge for this instruction; raises
    ``authn.ChallengeFailed`` otherwise (a wrong try is committed)."""
    operator = acting(operator)
    instruction = _instruction_of(operator, instruction_id)
    return authn.challenge_verify(challenge_id=challenge_id, person=operator.person,
                                  purpose=APPROVE, digest=instruction.digest,
                                  codes={Factor.USBKEY: signature}, at=at)


def approve(operator: Operator, instruction_id: int, challenge_id: int, at: datetime, *,
            ip: str | None = None, device_id: str = "") -> Approval:
    """The operator's check or authorisation: their verified signature over this
    instruction's digest, spent once. ENTERED → CHECKED when the checks are complete,
    → AUTHORISED when the authorisations are. A challenge for another instruction (or a
    changed one) is refused with ``authn.DigestMismatch``, and burnt."""
    refused = None
    with transaction.atomic():
        operator = acting(operator)
        instruction = _locked(operator.service_id, instruction_id)
        step, approvals = _may_approve(operator, instruction)
        spent = _spend(challenge_id=challenge_id, person=operator.person, purpose=APPROVE,
                       digest=instruction.digest, at=at)
        if isinstance(spent, Exception):
            refused = spent
        else:
            try:
                signature = _signature_of(spent, instruction.service)
            except ApprovalKeyRefused as exc:
                refused = exc
            else:
                approval = _approval_record(operator, instruction, step, approvals,
                                            signature, spent, at, ip=ip, device_id=device_id)
    if refused is not None:
        raise refused
    return approval


def _approval_record(operator: Operator, instruction: Instruction, step: str,
                     approvals: list[Approval], signature: Signature,
                     challenge: AuthChallenge, at: datetime, *, ip: str | None,
                     device_id: str) -> Approval:
    approval = Approval.objects.create(instruction=instruction, operator=operator,
                                       entered_by=instruction.entered_by, step=step,
                                       digest=instruction.digest, signature=signature, at=at)
    done = sum(1 for a in approvals if a.step == step) + 1
    if step == Step.CHECK:
        action = "checked"
        if done >= instruction.checkers_required:
            instruction.status = InstructionStatus.CHECKED
    else:
        action = "authorised"
        if done >= instruction.authorisers_required:
            instruction.status = InstructionStatus.AUTHORISED
    instruction.save(update_fields=["status"])
    if instruction.status == InstructionStatus.AUTHORISED:
        # The job is written in this transaction: it exists iff the authorisation commits
        # (the sweep in corporate.tasks pays any it left behind).
        from wangyin.corporate import execution  # execution imports this module

        execution.defer_execution(instruction)
    _event(instruction, actor=operator.actor, action=action, at=at)
    _audit(instruction, actor=operator.actor, action=action, at=at, ip=ip, device=device_id,
           step=step, digest=instruction.digest, approval=approval.pk,
           signature=signature.pk, challenge=challenge.pk)
    return approval


# --- ending without paying ------------------------------------------------------------------


@transaction.atomic
def reject(operator: Operator, instruction_id: int, reason: str, at: datetime, *,
           ip: str | None = None, device_id: str = "") -> Instruction:
    """An approver turns the instruction down, with the reason: an operator who checks or
    authorises, with the account in scope, who did not enter it and has not approved it.
    An authoriser may reject before the checks are complete (stopping a payment early is
    always safe)."""
    reason = _reason(reason)
    operator = acting(operator)
    instruction = _locked(operator.service_id, instruction_id)
    if operator.is_admin:
        raise AdministratorHoldsNoRoles(extra={"operator": operator.pk})
    if instruction.status not in (InstructionStatus.ENTERED, InstructionStatus.CHECKED):
        raise InstructionStateRefused(extra={"status": instruction.status})
    if not {Role.CHECK, Role.AUTHORISE} & set(operator.roles):
        raise ApproverRoleRequired(extra={"operator": operator.pk})
    if instruction.entered_by.person_id == operator.person_id:
        raise OwnInstruction(extra={"instruction": instruction.pk})
    if instruction.approvals.filter(operator__person_id=operator.person_id).exists():
        raise AlreadyApproved(extra={"instruction": instruction.pk})
    _scope_of(operator, instruction.debit_account_id)
    return instruction_end(instruction, status=InstructionStatus.REJECTED,
                           actor=operator.actor, action="rejected", reason=reason, at=at,
                           ip=ip, device_id=device_id)


@transaction.atomic
def cancel(operator: Operator, instruction_id: int, reason: str, at: datetime, *,
           ip: str | None = None, device_id: str = "") -> Instruction:
    """The operator who entered the instruction withdraws it, with the reason, before it is
    authorised (a draft too)."""
    reason = _reason(reason)
    operator = acting(operator)
    instruction = _locked(operator.service_id, instruction_id)
    if instruction.entered_by_id != operator.pk:
        raise NotYourInstruction(extra={"instruction": instruction.pk})
    if instruction.status not in OPEN_STATUSES:
        raise InstructionStateRefused(extra={"status": instruction.status})
    return instruction_end(instruction, status=InstructionStatus.CANCELLED,
                           actor=operator.actor, action="cancelled", reason=reason, at=at,
                           ip=ip, device_id=device_id)


def expire_due(now: datetime, *, limit: int = 500) -> int:
    """The job: open instructions (drafts too) past ``expires_at`` expire, reserved money
    released. One transaction each; rows an approver holds right now are left for the next
    run. Returns how many expired."""
    due = list(Instruction.objects.filter(status__in=OPEN_STATUSES, expires_at__lte=now)
               .order_by("expires_at", "pk").values_list("pk", flat=True)[:limit])
    expired = 0
    for pk in due:
        try:
            with transaction.atomic():
                instruction = (Instruction.objects.select_for_update(skip_locked=True)
                               .filter(pk=pk, status__in=OPEN_STATUSES, expires_at__lte=now)
                               .first())
                if instruction is None:
                    continue
                instruction_end(instruction, status=InstructionStatus.EXPIRED, actor=SYSTEM,
                                action="expired", reason="not approved in time", at=now)
                expired += 1
        except Exception:  # noqa: BLE001 - one bad row must not stop the others expiring
            log.exception("corporate.expire_failed", instruction=pk)
    return expired


# --- before paying (TX-06) ------------------------------------------------------------------


def _signature_holds(signature: Signature) -> bool:
    """The kept signature verifies over its payload with its certificate's key (a
    signature made while the certificate was valid stays valid evidence after it ends)."""
    certificate = signature.certificate
    suite = pki.SUITES.get(certificate.suite)
    if suite is None:
        return False
    public_der = pki.public_der_of(pki.certificate_load(bytes(certificate.der)))
    return suite.verify(public_der, bytes(signature.signature), signature.payload.encode())


def verify_for_execution(instruction: Instruction, *,
                         batch_rows: dict[int, str] | None = None) -> None:
    """Raise unless the instruction may be paid as it stands (TX-06): authorised
    (``InstructionNotAuthorised``), and (``InstructionAltered``) its fields still give its
    canonical data, which still hashes to its digest, and its checks and authorisations —
    as many as it requires, by different operators none of whom entered it — each cover
    that digest with a kept USB-Key signature for this company whose payload names the
    digest and which verifies. A batch: its rows as read (``batch_rows_data``), which the
    caller then pays — each row's own data compared with what was verified."""
    if instruction.status != InstructionStatus.AUTHORISED:
        raise InstructionNotAuthorised(extra={"instruction": instruction.pk,
                                              "status": instruction.status})
    approvals = list(instruction.approvals.select_related(
        "operator", "signature__certificate__usb_key", "signature__challenge").order_by("pk"))
    _intact(instruction, approvals, batch_rows=batch_rows)

    def altered(why: str, approval: Approval | None = None) -> InstructionAltered:
        return InstructionAltered(extra={"instruction": instruction.pk, "why": why,
                                         "approval": approval.pk if approval else None})

    checks = [a for a in approvals if a.step == Step.CHECK]
    authorisations = [a for a in approvals if a.step == Step.AUTHORISE]
    if (len(checks) < instruction.checkers_required
            or len(authorisations) < instruction.authorisers_required):
        raise InstructionNotAuthorised(extra={"instruction": instruction.pk,
                                              "checks": len(checks),
                                              "authorisations": len(authorisations)})
    persons = [a.operator.person_id for a in approvals]
    if len(set(persons)) != len(persons) or instruction.entered_by.person_id in persons:
        raise altered("approvers")
    company_id = instruction.service.company_id
    for approval in approvals:
        signature = approval.signature
        key = signature.certificate.usb_key
        try:
            payload = json.loads(signature.payload)
        except ValueError:
            payload = {}
        if not (signature.person_id == approval.operator.person_id
                and key is not None and key.company_id == company_id
                and signature.challenge.purpose == APPROVE
                and hmac.compare_digest(signature.challenge.digest, instruction.digest)
                and payload.get("purpose") == APPROVE
                and hmac.compare_digest(str(payload.get("digest", "")), instruction.digest)):
            raise altered("signature", approval)
        if not _signature_holds(signature):
            raise altered("signature value", approval)
