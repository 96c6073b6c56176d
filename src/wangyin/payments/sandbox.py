"""The sandbox clearing system: the other side of the clearing port, for development,
demos and tests (``WANGYIN_CLEARING=sandbox``, the default). It behaves like the real one
where it matters to the bank:

- it takes a message once per message id (sending again changes nothing) and answers
  asynchronously: a worker job settles a payment a few seconds later
  (``SANDBOX_CLEARING_DELAYS``; BEPS in batches);
- it knows the accounts of the other banks (``SandboxExternalAccount``, the demo loads a
  few): a payment to an account it does not know is rejected; to a closed account or
  under another name it is rejected by the real-time system (IBPS checks before it
  settles) and returned by the payee's bank some time after settlement otherwise;
- credits from other banks are played with ``credit_incoming`` (``wangyin clearing
  incoming``) and delivered like any other event.

Its state lives in its own tables and it commits on its own, as an outside system would:
the bank's transactions never include the sandbox's writes.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from wangyin.payments.clearing import (
    CREDIT,
    REJECTED,
    RETURNED,
    SETTLED,
    ClearingUnavailable,
    Event,
    Message,
    new_msg_id,
)
from wangyin.payments.models import (
    Channel,
    MessageKind,
    SandboxClearingEntry,
    SandboxExternalAccount,
)

OUT, IN = "OUT", "IN"
RECEIVED, RETURNING = "RECEIVED", "RETURNING"
logger = logging.getLogger(__name__)
NO_SUCH_ACCOUNT = "收款账号不存在"
ACCOUNT_CLOSED = "收款账户已销户"
NAME_MISMATCH = "收款人户名与账号不符"


def _delay(name: str) -> timedelta:
    return timedelta(seconds=settings.SANDBOX_CLEARING_DELAYS[name])


def _settles_at(channel: str, at: datetime) -> datetime:
    """IBPS and HVPS settle after their delay; BEPS at the end of the current batch."""
    if channel != Channel.BEPS:
        return at + _delay(channel)
    batch = settings.SANDBOX_CLEARING_DELAYS["BEPS"]
    seconds = int(at.timestamp())
    return at + timedelta(seconds=batch - seconds % batch)


def _schedule(due: datetime) -> None:
    """Ask the worker to run the sandbox when the entry is due (the periodic job is the
    safety net)."""
    from wangyin.payments.tasks import sandbox_run

    sandbox_run.configure(schedule_at=due).defer()


class SandboxClearing:
    name = "sandbox"

    def send(self, message: Message, *, at: datetime) -> None:
        if message.kind == MessageKind.RETURN:  # nothing comes back for a return
            state, due, delivered = SETTLED, at, True
        else:
            state, due, delivered = RECEIVED, _settles_at(message.channel, at), False
        try:
            with transaction.atomic():
                SandboxClearingEntry.objects.create(
                    msg_id=message.msg_id, direction=OUT, channel=message.channel,
                    payload=message.as_dict(), state=state, received_at=at, due_at=due,
                    delivered=delivered)
                if not delivered:
                    _schedule(due)
        except IntegrityError:
            if not SandboxClearingEntry.objects.filter(msg_id=message.msg_id).exists():
                raise ClearingUnavailable("sandbox could not record the message") from None
            # A message id it already has: accepted before, nothing changes.

    def status(self, msg_id: str) -> Event | None:
        entry = SandboxClearingEntry.objects.filter(msg_id=msg_id, direction=OUT).first()
        if entry is None or entry.state in (RECEIVED,):
            return None
        if entry.state == RETURNING:
            return Event(kind=SETTLED, msg_id=msg_id, channel=entry.channel)
        return Event(kind=entry.state.lower(), msg_id=msg_id, reason=entry.reason,
                     channel=entry.channel)


def _verdict(payload: dict) -> str:
    """Why the payee's bank cannot take this payment ('' if it can)."""
    account = SandboxExternalAccount.objects.filter(
        bank_code=payload["payee_bank"], number=payload["payee_account"]).first()
    if account is None:
        return NO_SUCH_ACCOUNT
    if account.closed:
        return ACCOUNT_CLOSED
    if account.name != payload["payee_name"]:
        return NAME_MISMATCH
    return ""


def _next(entry: SandboxClearingEntry, now: datetime) -> Event:
    """Decide the entry's next step; returns the event to deliver."""
    payload = entry.payload
    if entry.direction == IN:
        entry.state, entry.delivered = SETTLED, True
        return Event(kind=CREDIT, msg_id=entry.msg_id, channel=entry.channel,
                     **{k: payload[k] for k in ("amount_fen", "payer_name", "payer_account",
                                                "payer_bank", "payee_name", "payee_account",
                                                "memo")})
    if entry.state == RETURNING:
        entry.state, entry.delivered = RETURNED, True
        return Event(kind=RETURNED, msg_id=entry.msg_id, reason=entry.reason,
                     channel=entry.channel)
    problem = _verdict(payload)
    if problem and (problem == NO_SUCH_ACCOUNT or entry.channel == Channel.IBPS):
        entry.state, entry.reason, entry.delivered = REJECTED, problem, True
        return Event(kind=REJECTED, msg_id=entry.msg_id, reason=problem,
                     channel=entry.channel)
    if problem:  # settles now, the payee's bank sends it back later
        entry.state, entry.reason, entry.due_at = RETURNING, problem, now + _delay("RETURN")
        entry.delivered = False
    else:
        entry.state, entry.delivered = SETTLED, True
    return Event(kind=SETTLED, msg_id=entry.msg_id, channel=entry.channel)


def run_due(*, now: datetime, limit: int = 200) -> int:
    """Take every due step and tell the bank (``payments.services.clearing_receive``), the
    step and its delivery in one transaction: if the bank's side fails, the step is taken
    again on the next run (the bank applies each event once, whatever comes twice)."""
    from wangyin.payments.settlement import clearing_receive

    due = list(SandboxClearingEntry.objects.filter(delivered=False, due_at__lte=now)
               .order_by("due_at", "id").values_list("pk", flat=True)[:limit])
    done = 0
    for pk in due:
        try:
            with transaction.atomic():
                entry = (SandboxClearingEntry.objects.select_for_update(skip_locked=True)
                         .filter(pk=pk, delivered=False).first())
                if entry is None:
                    continue
                event = _next(entry, now)
                entry.save(update_fields=["state", "reason", "due_at", "delivered"])
                clearing_receive(event=event, now=now)
                if not entry.delivered:
                    _schedule(entry.due_at)
        except Exception:  # one bad entry must not stop the others; it stays due
            logger.exception("sandbox clearing: delivering entry %s failed", pk)
            continue
        done += 1
    return done


def account_add(*, bank_code: str, number: str, name: str, closed: bool = False):
    """Register (or update) an account at another bank in the sandbox."""
    account, _created = SandboxExternalAccount.objects.update_or_create(
        bank_code=bank_code, number=number, defaults={"name": name, "closed": closed})
    return account


def credit_incoming(*, payer_name: str, payer_account: str, payer_bank: str,
                    payee_account: str, payee_name: str, amount_fen: int, at: datetime,
                    memo: str = "", channel: str = Channel.IBPS) -> str:
    """Another bank pays one of this bank's accounts; delivered by ``run_due`` after the
    channel's delay. Returns the sender's message id."""
    if amount_fen <= 0:
        raise ValueError("a credit needs a positive amount")
    msg_id = "S" + new_msg_id(at)[1:]
    due = _settles_at(channel, at)
    with transaction.atomic():
        SandboxClearingEntry.objects.create(
            msg_id=msg_id, direction=IN, channel=channel, state=RECEIVED, received_at=at,
            due_at=due, payload={"amount_fen": amount_fen, "payer_name": payer_name,
                                 "payer_account": payer_account, "payer_bank": payer_bank,
                                 "payee_name": payee_name, "payee_account": payee_account,
                                 "memo": memo})
        _schedule(due)
    return msg_id
