"""An operator's own security settings in the corporate web bank: their sign-in history
(AU-15) and their reserved message (预留信息, AU-13).

**Sign-in history.** Every attempt of a known operator is an ``OperatorLogin`` row
(``corporate.signin``): the time, the outcome, the second factor, the IP address and the
device. The operator sees their own; the administrator sees each operator's.

**Reserved message.** A phrase the operator chose, shown on the sign-in page once the
service number and operator code are known and before the password is asked for, as the
personal sign-in shows a customer's (``identity.reserved``) — so a look-alike site, which
cannot know it, is told apart. An operator who has not chosen one sees a stable phrase
only the bank can compute (the keyed decoy of the personal flow, over the service number
and code), and so does a service number or code that does not exist: the page does not
tell whether an operator exists (AU-09). Changing it is a change of security settings: the
operator's USB-Key for the company signs exactly the new message (purpose
``security.change``, as the personal change is confirmed with the customer's step-up), then
it is kept and audited."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from wangyin.audit import services as audit
from wangyin.authn import certificates
from wangyin.authn import services as authn
from wangyin.authn.models import AuthChallenge, Factor
from wangyin.corporate.models import (
    CorporateService,
    Operator,
    OperatorLogin,
    OperatorStatus,
    ServiceStatus,
)
from wangyin.identity import devices, reserved
from wangyin.identity import services as identity

HISTORY = 20  # sign-ins shown
PURPOSE = "security.change"  # the key shows 修改安全设置


# --- sign-in history (AU-15) ------------------------------------------------------------


def signin_history(operator: Operator, *, limit: int = HISTORY) -> list[OperatorLogin]:
    """The operator's sign-in attempts, newest first, each with ``device_label`` (the
    browser and system it came from) and ``device_short`` (the start of its device id)."""
    rows = list(
        OperatorLogin.objects.filter(operator_id=operator.pk).order_by("-at", "-pk")[:limit]
    )
    for row in rows:
        row.device_label = devices.device_label(row.user_agent) if row.user_agent else ""
        row.device_short = row.device[:8]
    return rows


# --- reserved message (AU-13) -------------------------------------------------------------


def _decoy(service_number: str, operator_code: str) -> str:
    return reserved.decoy_for(f"corp:{service_number.strip()}:{operator_code.strip().lower()}")


def reserved_message_for(service_number: str, operator_code: str) -> str:
    """What the sign-in page shows after the service number and code: the operator's own
    phrase, else the stable phrase that stands in for it — the same for a code that does
    not exist, a removed operator or a cancelled service (one query either way)."""
    message = (
        Operator.objects.filter(
            service__number=(service_number or "").strip(),
            service__status=ServiceStatus.ACTIVE,
            code__iexact=(operator_code or "").strip(),
        )
        .exclude(status=OperatorStatus.REMOVED)
        .values_list("reserved_message", flat=True)
        .first()
    )
    return message or _decoy(service_number or "", operator_code or "")


def reserved_message_shown(operator: Operator) -> tuple[str, bool]:
    """The phrase the operator sees at sign-in, and whether they chose it."""
    if operator.reserved_message:
        return operator.reserved_message, True
    service: CorporateService = operator.service
    return _decoy(service.number, operator.code), False


def reserved_message_digest(operator: Operator, message: str) -> str:
    return authn.digest_of("corporate.reserved_message", str(operator.pk), message)


def reserved_message_challenge(operator: Operator, message: str, *, at: datetime) -> AuthChallenge:
    """Check the new phrase (2 to 20 characters, as the personal one) and open the challenge
    the operator's USB-Key for the company signs; raises ``InvalidReservedMessage`` or
    ``authn.NoCertificate``."""
    message = identity.reserved_message_clean(message)
    return authn.challenge_issue(
        person=operator.person,
        purpose=PURPOSE,
        factors=[Factor.USBKEY],
        at=at,
        digest=reserved_message_digest(operator, message),
        summary=f"企业网银预留信息改为“{message}”（操作员{operator.code}）",
        company_id=operator.service.company_id,
    )


def reserved_message_set(
    operator: Operator,
    message: str,
    *,
    challenge_id: int,
    signature: str,
    at: datetime,
    ip: str | None = None,
    device: str = "",
) -> Operator:
    """Keep the new phrase once the key has signed exactly it (a wrong signature raises
    ``authn.ChallengeFailed`` and changes nothing); audited."""
    message = identity.reserved_message_clean(message)
    digest = reserved_message_digest(operator, message)
    authn.challenge_verify(
        challenge_id=challenge_id,
        person=operator.person,
        purpose=PURPOSE,
        digest=digest,
        codes={Factor.USBKEY: signature},
        at=at,
    )
    authn.authorisation_use(
        challenge_id=challenge_id,
        person=operator.person,
        purpose=PURPOSE,
        at=at,
        requires=[Factor.USBKEY],
        digest=digest,
    )
    with transaction.atomic():
        operator = Operator.objects.select_for_update().get(pk=operator.pk)
        operator.reserved_message = message
        operator.save(update_fields=["reserved_message"])
        audit.record(
            actor=operator.actor,
            action="corporate.reserved_message.changed",
            target=f"operator:{operator.pk}",
            occurred_at=at,
            ip=ip,
            device=device,
            details={"authorisation": challenge_id},
        )
    return operator


# --- the operator's USB-Key, named to the U盾 agent ----------------------------------------


def usbkey_serial(*, operator: Operator | None, login_id: int | None = None) -> str:
    """The serial of the active USB-Key bound to ``operator`` for their company — or,
    before the session exists, to the operator of the sign-in ticket ``login_id`` (their
    password was right) — so the bank's pages name it to the U盾 agent and the agent signs
    with it without asking the holder which key (several keys on one agent). "" when there
    is none (the agent then asks, or uses its only key)."""
    if operator is None and login_id:
        login = (
            OperatorLogin.objects.select_related("operator__service", "operator__person")
            .filter(pk=login_id)
            .first()
        )
        operator = login.operator if login is not None else None
    if operator is None:
        return ""
    key = certificates.usb_key_of(operator.person, company_id=operator.service.company_id)
    return key.serial if key is not None else ""
