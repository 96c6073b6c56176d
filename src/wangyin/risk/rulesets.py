"""Changing the rules without a redeployment (RK-04), under maker–checker (ORG-02).

A staff member copies a version into a DRAFT, edits its rules (each expression type-checked
when saved, CEL's message shown when it cannot be a rule), may replay it against the
decisions the bank took (``backtest``), and submits it (PENDING). A head-office risk manager
who is not the maker approves it: in one transaction the live version is retired and this
one goes live; every process's engine picks it up within ``RISK_RULES_REFRESH_SECONDS``
(``rules.live``). Or the checker rejects it with a reason, or the maker discards the draft.

One version at a time is open (DRAFT or PENDING): two drafts of the same live set would each
undo the other's changes when the second went live. A draft made before another version went
live is refused at approval (``DraftOutdated``) for the same reason.

Every change is audited (actor ``staff:<username>``, target ``ruleset:<version>``)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import transaction
from django.utils.translation import gettext_lazy as _

from wangyin.audit import selectors as audit_selectors
from wangyin.audit import services as audit
from wangyin.risk import errors, rules
from wangyin.risk import services as engine
from wangyin.risk.expressions import ExpressionError, compile_rule
from wangyin.risk.models import Action, Decision, Family, Rule, RuleSet, RuleSetStatus

# Who may approve or reject a version (the back office's head-office risk role).
APPROVER_ROLE = "risk_manager"
OPEN = (RuleSetStatus.DRAFT, RuleSetStatus.PENDING)
RULE_ACTIONS = (Action.STEP_UP, Action.REVIEW, Action.BLOCK)
_CODE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
BACKTEST_LIMIT = 20_000  # the most recent decisions of the period that are replayed
BACKTEST_SHOWN = 50  # changed decisions listed
BACKTEST_MAX_DAYS = 92


def _audit(by: str, action: str, rule_set: RuleSet, at: datetime, **details) -> None:
    audit.record(actor=by, action=f"risk.ruleset.{action}",
                 target=f"ruleset:{rule_set.version}", occurred_at=at, details=details)


def _locked(rule_set: RuleSet) -> RuleSet:
    return RuleSet.objects.select_for_update().get(pk=rule_set.pk)


def _editable(rule_set: RuleSet, by: str) -> RuleSet:
    """The draft, locked, if ``by`` may change it."""
    rule_set = _locked(rule_set)
    if rule_set.status != RuleSetStatus.DRAFT:
        raise errors.NotADraft()
    if rule_set.created_by != by:
        raise errors.NotTheMaker()
    return rule_set


# --- reading ----------------------------------------------------------------------------------


def rule_set_list(*, limit: int = 100) -> list[RuleSet]:
    """Newest version first."""
    return list(RuleSet.objects.order_by("-version")[:limit])


def rule_set_get(version: int) -> RuleSet:
    """The version, or ``RuleSet.DoesNotExist``."""
    return RuleSet.objects.get(version=version)


def open_version() -> RuleSet | None:
    """The version being drafted or awaiting approval, if any."""
    return RuleSet.objects.filter(status__in=OPEN).order_by("-version").first()


def history(rule_set: RuleSet) -> list:
    """What happened to the version (made, rules changed, submitted, decided), newest first,
    with reasons, from the audit trail."""
    events, _more = audit_selectors.audit_events(action="risk.ruleset.",
                                                 target=f"ruleset:{rule_set.version}",
                                                 limit=200)
    return events


# --- drafting -----------------------------------------------------------------------------------


@transaction.atomic
def draft_create(*, by: str, at: datetime, based_on: RuleSet | None = None,
                 note: str = "") -> RuleSet:
    """A new DRAFT version holding a copy of ``based_on``'s rules (the live version when not
    given; a retired one to go back to it)."""
    live = RuleSet.objects.select_for_update().filter(status=RuleSetStatus.LIVE).first()
    if live is None:  # a bank that never evaluated anything: install the shipped pack
        rules.live()
        live = RuleSet.objects.select_for_update().get(status=RuleSetStatus.LIVE)
    if RuleSet.objects.filter(status__in=OPEN).exists():
        raise errors.DraftAlreadyOpen()
    source = live if based_on is None else RuleSet.objects.get(pk=based_on.pk)
    version = RuleSet.objects.order_by("-version").values_list("version", flat=True)[0] + 1
    draft = RuleSet.objects.create(version=version, status=RuleSetStatus.DRAFT,
                                   note=note.strip()[:200], based_on=source, created_by=by,
                                   created_at=at)
    Rule.objects.bulk_create(
        Rule(rule_set=draft, code=r.code, description=r.description, expression=r.expression,
             action=r.action, score=r.score, priority=r.priority, enabled=r.enabled,
             family=r.family) for r in source.rules.all())
    _audit(by, "drafted", draft, at, based_on=source.version, note=draft.note)
    return draft


def _checked_rule(*, code: str, description: str, expression: str, action: str, score: int,
                  priority: int, family: str) -> None:
    if not _CODE.match(code):
        raise errors.RuleInvalid(_("A rule's code is 1 to 40 lowercase letters, digits, "
                                   "underscores or hyphens."))
    if not description.strip() or len(description) > 200:
        raise errors.RuleInvalid(_("A rule needs a description of at most 200 characters."))
    if action not in RULE_ACTIONS:
        raise errors.RuleInvalid(_("A rule asks for a stronger factor, a review or a block."))
    if family not in Family.values:
        raise errors.RuleInvalid(_("Unknown rule family."))
    if not 0 <= score <= 100 or not 0 <= priority <= 32767:
        raise errors.RuleInvalid(_("The score is 0 to 100 and the priority 0 to 32767."))
    try:
        compile_rule(expression)
    except ExpressionError as exc:
        raise errors.RuleExpressionInvalid(str(exc)) from exc


@transaction.atomic
def rule_save(*, draft: RuleSet, code: str, description: str, expression: str, action: str,
              score: int, priority: int, enabled: bool, family: str, by: str,
              at: datetime) -> Rule:
    """Add the rule ``code`` to the draft, or change it. The expression is type-checked
    against the feature set now, not when it first runs."""
    draft = _editable(draft, by)
    code, description = (code or "").strip(), (description or "").strip()
    expression = (expression or "").strip()
    _checked_rule(code=code, description=description, expression=expression, action=action,
                  score=score, priority=priority, family=family)
    rule, created = Rule.objects.update_or_create(
        rule_set=draft, code=code,
        defaults={"description": description, "expression": expression,
                  "action": action, "score": score, "priority": priority,
                  "enabled": enabled, "family": family})
    _audit(by, "rule_added" if created else "rule_changed", draft, at, rule=code,
           expression=expression, rule_action=action, score=score, priority=priority,
           enabled=enabled, family=family)
    return rule


@transaction.atomic
def rule_delete(*, draft: RuleSet, code: str, by: str, at: datetime) -> None:
    draft = _editable(draft, by)
    deleted, _kinds = Rule.objects.filter(rule_set=draft, code=code).delete()
    if not deleted:
        raise errors.RuleNotFound()
    _audit(by, "rule_deleted", draft, at, rule=code)


def _check_all(rule_set: RuleSet) -> None:
    """Every rule still compiles (the feature set may have changed since it was saved) and
    at least one is enabled."""
    enabled = 0
    for rule in rule_set.rules.all():
        try:
            compile_rule(rule.expression)
        except ExpressionError as exc:
            raise errors.RuleExpressionInvalid(f"{rule.code}: {exc}") from exc
        enabled += rule.enabled
    if not enabled:
        raise errors.RuleSetEmpty()


@transaction.atomic
def draft_submit(*, draft: RuleSet, by: str, at: datetime) -> RuleSet:
    """The maker hands the draft over for approval; it can no longer be edited."""
    draft = _editable(draft, by)
    _check_all(draft)
    draft.status, draft.submitted_at = RuleSetStatus.PENDING, at
    draft.save(update_fields=["status", "submitted_at"])
    _audit(by, "submitted", draft, at, rules=draft.rules.count())
    return draft


@transaction.atomic
def draft_discard(*, draft: RuleSet, by: str, at: datetime) -> RuleSet:
    """The maker withdraws the draft. It is kept, closed as REJECTED with no checker, so a
    version number is never used twice (the audit trail refers to versions by number)."""
    draft = _editable(draft, by)
    draft.status, draft.decided_at = RuleSetStatus.REJECTED, at
    draft.save(update_fields=["status", "decided_at"])
    _audit(by, "discarded", draft, at)
    return draft


def _decidable(rule_set: RuleSet, *, by: str, role: str) -> RuleSet:
    rule_set = _locked(rule_set)
    if rule_set.status != RuleSetStatus.PENDING:
        raise errors.NotPending()
    if rule_set.created_by == by:
        raise errors.SelfApproval()
    if role != APPROVER_ROLE:
        raise errors.NotAnApprover()
    return rule_set


@transaction.atomic
def draft_approve(*, draft: RuleSet, reason: str, by: str, role: str,
                  at: datetime) -> RuleSet:
    """The checker (a risk manager who did not make it; ``role`` as the channel authenticated
    it) puts the version live: the live one is retired and this one goes live in one
    transaction, so the engine sees one version or the other, never a mix. The check
    constraint on ``decided_by`` refuses a self-approval even if this check were bypassed."""
    if not (reason or "").strip():
        raise errors.ReasonRequired()
    live = RuleSet.objects.select_for_update().filter(status=RuleSetStatus.LIVE).first()
    draft = _decidable(draft, by=by, role=role)
    # One version is open at a time, so a live version newer than the draft went live
    # some other way after the draft was made: approving would undo it.
    if live is not None and live.version > draft.version:
        raise errors.DraftOutdated()
    _check_all(draft)
    if live is not None:
        live.status = RuleSetStatus.RETIRED
        live.save(update_fields=["status"])
    draft.status, draft.decided_by, draft.decided_at, draft.live_from = (
        RuleSetStatus.LIVE, by, at, at)
    draft.save(update_fields=["status", "decided_by", "decided_at", "live_from"])
    _audit(by, "approved", draft, at, retired=live.version if live else None,
           maker=draft.created_by, reason=reason.strip()[:500])
    transaction.on_commit(rules.cache_clear)  # this process at once; others on refresh
    return draft


@transaction.atomic
def draft_reject(*, draft: RuleSet, reason: str, by: str, role: str, at: datetime) -> RuleSet:
    """The checker sends the version back with a reason; it stays as a record, rejected."""
    if not (reason or "").strip():
        raise errors.ReasonRequired()
    draft = _decidable(draft, by=by, role=role)
    draft.status, draft.decided_by, draft.decided_at = RuleSetStatus.REJECTED, by, at
    draft.save(update_fields=["status", "decided_by", "decided_at"])
    _audit(by, "rejected", draft, at, reason=reason.strip()[:500], maker=draft.created_by)
    return draft


# --- backtest -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """A past decision that the tested version would have taken differently."""

    decision_id: int
    at: datetime
    kind: str
    amount_fen: int
    before: str
    before_reasons: tuple[str, ...]
    after: str
    after_reasons: tuple[str, ...]


@dataclass
class Backtest:
    """What ``version`` would have decided on the decisions taken in [since, until)."""

    version: int
    since: datetime
    until: datetime
    replayed: int = 0  # decisions read (at most BACKTEST_LIMIT, the most recent)
    truncated: bool = False  # the period held more than that
    compared: int = 0
    # Not comparable: "fallback" (the engine's fallback answered, not its rules), "missing"
    # (a rule needs a feature or parameter the decision did not record — features added
    # since), "error" (a rule failed on the recorded features; live, that is the fallback).
    not_comparable: Counter = field(default_factory=Counter)
    live_actions: Counter = field(default_factory=Counter)  # of the compared decisions
    tested_actions: Counter = field(default_factory=Counter)
    changed: int = 0  # action differs
    reasons_changed: int = 0  # same action, other rules fired
    changes: list[Change] = field(default_factory=list)  # the first BACKTEST_SHOWN, newest
    hits: Counter = field(default_factory=Counter)  # how often each tested rule fired
    errors: dict[str, str] = field(default_factory=dict)  # rule or decision → first error


def _compiled(rule_set: RuleSet) -> rules.LiveSet:
    """The version as the engine would run it (enabled rules, by priority then code)."""
    return rules.LiveSet(rule_set.version, tuple(
        rules.LiveRule(r.code, r.action, r.score, compile_rule(r.expression))
        for r in rule_set.rules.filter(enabled=True).order_by("priority", "code")))


def _missing(message: str) -> bool:
    # CEL's messages for a variable absent from the activation and a map key absent.
    return "No value with name" in message or "Key not found in map" in message


def backtest(*, rule_set: RuleSet, since: datetime, until: datetime, by: str,
             at: datetime) -> Backtest:
    """Replay the stored decisions of the period (the most recent ``BACKTEST_LIMIT``) through
    ``rule_set``'s rules — each on exactly the features it was decided on — and compare with
    what was decided. Run on a copy of the version that took them, nothing changes.

    A decision is not compared when the fallback took it or when the answer depends on a
    feature it did not record (the feature set grows; default values would invent answers).
    CEL's logic means a rule that does not need the missing feature still answers."""
    if not since < until or until - since > timedelta(days=BACKTEST_MAX_DAYS):
        raise errors.BacktestPeriodInvalid()
    try:
        tested = _compiled(rule_set)
    except ExpressionError as exc:
        raise errors.RuleExpressionInvalid(str(exc)) from exc
    result = Backtest(version=rule_set.version, since=since, until=until)
    rows = (Decision.objects.filter(at__gte=since, at__lt=until).order_by("-at", "-id")
            .values_list("id", "at", "kind", "amount_fen", "action", "reasons", "features",
                         "fallback", "rule_set_version")[:BACKTEST_LIMIT + 1])
    for pk, when, kind, amount, action, reasons, features, fallback, version in rows.iterator(
            chunk_size=1000):
        if result.replayed == BACKTEST_LIMIT:
            result.truncated = True
            break
        result.replayed += 1
        if fallback or version is None:
            result.not_comparable["fallback"] += 1
            continue
        try:
            decision = engine._decide(tested, features)
        except ExpressionError as exc:
            message = str(exc)
            why = "missing" if _missing(message) else "error"
            result.not_comparable[why] += 1
            result.errors.setdefault(why, f"#{pk}: {message}")
            continue
        result.compared += 1
        result.live_actions[action] += 1
        result.tested_actions[decision.action] += 1
        result.hits.update(decision.reasons)
        if decision.action != action:
            result.changed += 1
            if len(result.changes) < BACKTEST_SHOWN:
                result.changes.append(Change(pk, when, kind, amount, action, tuple(reasons),
                                             decision.action, decision.reasons))
        elif tuple(reasons) != decision.reasons:
            result.reasons_changed += 1
    _audit(by, "backtested", rule_set, at, since=since.isoformat(), until=until.isoformat(),
           replayed=result.replayed, changed=result.changed)
    return result
