"""The in-line risk decision every money movement asks for before it happens (RK-18).

``evaluate`` turns an event into features, runs the live rule set (``risk.rules``: CEL rules
that are data, versioned, maker–checker approved) and answers allow / step_up / review /
block with a score and the codes of the rules that fired. Every decision is stored with its
features and the rule set's version, so it can be explained later and a draft can be
replayed against it. It never fails open: if evaluation fails or overruns its time budget
(``RISK_BUDGET_MS``) the answer is "review" for a payment at or above
``RISK_FALLBACK_REVIEW_FEN`` and "step_up" otherwise."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.conf import settings
from django.utils import timezone

from wangyin.audit import services as audit
from wangyin.risk import cases, lists, rules
from wangyin.risk.models import STRENGTH, Action
from wangyin.risk.models import Decision as DecisionRow

log = structlog.get_logger(__name__)

ALLOW, STEP_UP, REVIEW, BLOCK = Action.ALLOW, Action.STEP_UP, Action.REVIEW, Action.BLOCK


@dataclass(frozen=True)
class Event:
    kind: str  # e.g. "transfer.same_bank"
    person_id: int
    channel: str  # "web", "mobile", "counter"
    device: str
    ip: str | None
    at: datetime
    amount_fen: int = 0
    counterparty: str = ""  # the payee account
    # The customer's ID and mobile numbers as their blind indexes (checked against lists).
    id_number_index: str = ""
    phone_index: str = ""


@dataclass(frozen=True)
class Decision:
    action: str
    score: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)


def features_of(event: Event) -> dict:
    """What the rules see (``risk.expressions.FEATURES``)."""
    return {"kind": event.kind, "channel": event.channel,
            "is_funds": event.kind.startswith("transfer."),
            "amount_fen": event.amount_fen, "hour": timezone.localtime(event.at).hour,
            "list_hits": lists.hits(lists.Subjects(
                id_number_index=event.id_number_index, phone_index=event.phone_index,
                account=event.counterparty, device=event.device, ip=event.ip or ""), event.at),
            "params": {"review_fen": settings.RISK_REVIEW_FEN}}


def _decide(live: rules.LiveSet, features: dict) -> Decision:
    fired = [rule for rule in live.rules if rule.check(features)]
    if not fired:
        return Decision(ALLOW)
    strongest = max(fired, key=lambda rule: STRENGTH[rule.action])
    return Decision(strongest.action, max(rule.score for rule in fired),
                    tuple(rule.code for rule in fired))


def _fallback(event: Event, why: str) -> Decision:
    funds = event.kind.startswith("transfer.")
    review = funds and event.amount_fen >= settings.RISK_FALLBACK_REVIEW_FEN
    return Decision(REVIEW if review else STEP_UP, 50, (why,))


def evaluate(event: Event) -> Decision:
    """The decision for ``event``, stored; when it is not "allow", audited and filed in the
    subject's case. Runs in the caller's transaction: a caller that refuses the operation
    must let that transaction commit (the decision and its case are the record of it)."""
    started = time.perf_counter()
    features, version, fallback = {}, None, False
    try:
        features = features_of(event)
        live = rules.live()
        version = live.version
        decision = _decide(live, features)
    except Exception:  # noqa: BLE001 - never fail open
        log.exception("risk.evaluate_failed", kind=event.kind)
        decision, fallback = _fallback(event, "evaluation_failed"), True
    elapsed_us = int((time.perf_counter() - started) * 1e6)
    if not fallback and elapsed_us > settings.RISK_BUDGET_MS * 1000:
        log.warning("risk.evaluate_overran", kind=event.kind, elapsed_us=elapsed_us)
        decision, fallback = _fallback(event, "evaluation_overran"), True
    row = DecisionRow.objects.create(
        at=event.at, kind=event.kind, person_id=event.person_id, channel=event.channel,
        amount_fen=event.amount_fen, action=decision.action, score=decision.score,
        reasons=list(decision.reasons), features=features, rule_set_version=version,
        fallback=fallback, elapsed_us=elapsed_us)
    if decision.action != ALLOW:
        cases.on_decision(row, ip=event.ip)
        audit.record(actor=f"customer:{event.person_id}", action="risk.decision",
                     target=f"person:{event.person_id}", occurred_at=event.at,
                     device=event.device, ip=event.ip,
                     details={"kind": event.kind, "action": decision.action,
                              "score": decision.score, "reasons": list(decision.reasons),
                              "amount_fen": event.amount_fen, "rule_set": version})
    return decision
