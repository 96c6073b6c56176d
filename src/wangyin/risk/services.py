"""The in-line risk decision every money movement asks for before it happens (the call
site and the decision handling are the payments' side; the rule engine, features, lists
and cases arrive with the risk work).

``evaluate`` answers allow / step_up / review / block with a score and reason codes. Until
the rule engine lands it holds only the checks the payments need: a payment at or above
``RISK_REVIEW_FEN`` (a bank parameter) is held for staff review. It never fails open: an
unexpected error in evaluation becomes "review" for a funds event."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import structlog
from django.conf import settings

from wangyin.audit import services as audit

log = structlog.get_logger(__name__)

ALLOW, STEP_UP, REVIEW, BLOCK = "allow", "step_up", "review", "block"


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


@dataclass(frozen=True)
class Decision:
    action: str
    score: int = 0
    reasons: tuple[str, ...] = field(default_factory=tuple)


def _rules(event: Event) -> Decision:
    if event.amount_fen and event.amount_fen >= settings.RISK_REVIEW_FEN:
        return Decision(REVIEW, 70, ("large_amount_review",))
    return Decision(ALLOW)


def evaluate(event: Event) -> Decision:
    """The decision for ``event``; audited when it is not "allow"."""
    try:
        decision = _rules(event)
    except Exception:  # noqa: BLE001 - never fail open on a funds event
        log.exception("risk.evaluate_failed", kind=event.kind)
        decision = Decision(REVIEW if event.amount_fen else STEP_UP, 50, ("evaluation_failed",))
    if decision.action != ALLOW:
        audit.record(actor=f"customer:{event.person_id}", action="risk.decision",
                     target=f"person:{event.person_id}", occurred_at=event.at,
                     device=event.device, ip=event.ip,
                     details={"kind": event.kind, "action": decision.action,
                              "score": decision.score, "reasons": list(decision.reasons),
                              "amount_fen": event.amount_fen})
    return decision
