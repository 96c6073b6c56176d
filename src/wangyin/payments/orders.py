"""Scheduled (预约: one date) and recurring (weekly / monthly, with an end date) transfers.

The customer confirms an order like a transfer — the same checks, the same step-up, with
the schedule in the confirmed key data (TX-06) — and can cancel it until it runs. On each
date the job queue runs it (``orders_run``, from the worker, with the time as an
argument so tests drive the clock): the checks run again on that day's state (balance,
limits with that day's totals, account status, the payee), then the money moves exactly as
for a transfer confirmed that day. A run is keyed by order and date, so a run repeated
after a crash finds its transfer instead of paying twice. A run that cannot pay is
recorded, the customer gets an SMS, and a recurring order goes on to its next date. A risk
hook that would ask for a step-up holds the payment for review instead (nobody is there to
answer it).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from wangyin.audit import services as audit
from wangyin.authn import services as authn
from wangyin.authn.errors import DigestMismatch, NotAuthorised
from wangyin.authn.keydata import new_nonce
from wangyin.core.errors import DomainError
from wangyin.core.masking import mask_account
from wangyin.identity.models import ChannelUser
from wangyin.payments import alerts
from wangyin.payments import services as payments
from wangyin.payments.errors import InstructionChanged, OrderNotFound, ScheduleInvalid
from wangyin.payments.models import Frequency, OrderStatus, StandingOrder, Transfer
from wangyin.risk import services as risk

MAX_LEAD_DAYS = 366  # the first date at most a year ahead
MAX_SPAN_DAYS = 5 * 366  # a recurring order ends within five years of its first date


@dataclass(frozen=True)
class Schedule:
    frequency: str
    first_date: date
    end_date: date | None = None

    def text(self) -> str:
        """The schedule as it enters the confirmed key data."""
        end = f"..{self.end_date.isoformat()}" if self.end_date else ""
        return f"{self.frequency}:{self.first_date.isoformat()}{end}"


def local_today(at: datetime) -> date:
    return timezone.localtime(at).date()


def schedule_check(schedule: Schedule, at: datetime) -> Schedule:
    """A schedule the bank will run: from tomorrow to a year ahead; recurring orders need
    an end date, at most five years on. Raises ``ScheduleInvalid`` with the reason."""
    today = local_today(at)
    if schedule.frequency not in Frequency.values:
        raise ScheduleInvalid(_("Choose when the transfer should be made."))
    if not today < schedule.first_date <= today + timedelta(days=MAX_LEAD_DAYS):
        raise ScheduleInvalid(_("The first date must be between tomorrow and one year from "
                                "today. For today, make an ordinary transfer."))
    if schedule.frequency == Frequency.ONCE:
        return Schedule(Frequency.ONCE, schedule.first_date)
    end = schedule.end_date
    if end is None or not schedule.first_date <= end <= (
            schedule.first_date + timedelta(days=MAX_SPAN_DAYS)):
        raise ScheduleInvalid(_("A repeating transfer needs an end date on or after the first "
                                "date, at most five years later."))
    return schedule


def _add_month(first: date, after: date) -> date:
    """The month after ``after``, on the first date's day (or the month's last day)."""
    year, month = (after.year + 1, 1) if after.month == 12 else (after.year, after.month + 1)
    return date(year, month, min(first.day, calendar.monthrange(year, month)[1]))


def following_date(order: StandingOrder, current: date) -> date | None:
    if order.frequency == Frequency.ONCE:
        return None
    step = (current + timedelta(days=7) if order.frequency == Frequency.WEEKLY
            else _add_month(order.first_date, current))
    return step if step <= order.end_date else None


def _instruction(order: StandingOrder) -> payments.Instruction:
    return payments.Instruction(
        debit_account_id=order.debit_account_id, payee_account=order.payee_account,
        payee_name=order.payee_name, amount_fen=order.amount_fen, memo=order.memo,
        payee_bank=order.payee_bank.code if order.payee_bank_id else "")


def order_create(*, user: ChannelUser, instruction: payments.Instruction, schedule: Schedule,
                 nonce: str, challenge_id: int | None, idempotency_key: str, device_id: str,
                 ip: str | None, at: datetime) -> StandingOrder:
    """Record a confirmed order once (the key makes a double click return the first one).
    The same checks and step-up as a transfer, the schedule bound into the digest."""
    schedule = schedule_check(schedule, at)
    with transaction.atomic():
        ChannelUser.objects.select_for_update().filter(pk=user.pk).first()
        found = (StandingOrder.objects.filter(user=user, idempotency_key=idempotency_key)
                 .first())
        if found is not None:
            if (found.amount_fen, found.debit_account_id) != (instruction.amount_fen,
                                                              instruction.debit_account_id):
                raise InstructionChanged(extra={"order": found.pk})
            return found
        quote = payments.transfer_quote(user=user, instruction=instruction,
                                        device_id=device_id, ip=ip, at=at,
                                        schedule=schedule.text())
        quote = replace(quote, key=replace(quote.key, nonce=nonce))
        try:
            challenge = authn.authorisation_use(
                challenge_id=challenge_id or 0, person=user.person, purpose=quote.operation,
                digest=quote.key.digest(), requires=quote.factors,
                at=at) if quote.factors else None
        except (NotAuthorised, DigestMismatch) as exc:
            refused = exc  # commit the burn and its audit, nothing else
        else:
            refused = None
            order = StandingOrder.objects.create(
                user=user, debit_account=quote.debit, payee_account=quote.key.payee_account,
                payee_bank=quote.bank, payee_name=quote.key.payee_name,
                amount_fen=quote.key.amount_fen, memo=instruction.memo[:60],
                frequency=schedule.frequency, first_date=schedule.first_date,
                end_date=schedule.end_date, next_date=schedule.first_date,
                idempotency_key=idempotency_key, digest=quote.key.digest(),
                challenge=challenge, device=device_id[:64], created_at=at)
            audit.record(actor=user.actor, action="payments.order.created",
                         target=f"order:{order.pk}", occurred_at=at, ip=ip, device=device_id,
                         details={"schedule": schedule.text(), "amount_fen": order.amount_fen,
                                  "kind": quote.kind,
                                  "payee": mask_account(order.payee_account)})
    if refused is not None:
        raise refused
    return order


def orders_of(user: ChannelUser) -> list[StandingOrder]:
    return list(StandingOrder.objects.filter(user=user)
                .select_related("debit_account", "payee_bank")
                .order_by("status", "next_date", "-created_at")[:100])


@transaction.atomic
def order_cancel(*, user: ChannelUser, order_id: int, ip: str | None,
                 at: datetime) -> StandingOrder:
    """Stop an order before its next run (cancelling twice is harmless)."""
    order = (StandingOrder.objects.select_for_update()
             .filter(pk=order_id, user=user).first())
    if order is None:
        raise OrderNotFound(extra={"order": order_id})
    if order.status == OrderStatus.ACTIVE:
        order.status, order.next_date, order.cancelled_at = OrderStatus.CANCELLED, None, at
        order.save(update_fields=["status", "next_date", "cancelled_at"])
        audit.record(actor=user.actor, action="payments.order.cancelled",
                     target=f"order:{order.pk}", occurred_at=at, ip=ip,
                     details={"runs": order.runs})
    return order


# --- the job ------------------------------------------------------------------------------


def _due(now: datetime) -> date:
    """Orders dated up to this day run now: today's from the bank's morning run hour."""
    local = timezone.localtime(now)
    today = local.date()
    return today if local.hour >= settings.STANDING_ORDER_HOUR else today - timedelta(days=1)


def orders_run(*, now: datetime, limit: int = 1000) -> int:
    """Run every order that is due (each in its own transaction). Returns how many ran."""
    due = list(StandingOrder.objects.filter(status=OrderStatus.ACTIVE, next_date__lte=_due(now))
               .order_by("next_date", "pk").values_list("pk", flat=True)[:limit])
    for order_id in due:
        _run_one(order_id, now)
    return len(due)


def _run_one(order_id: int, now: datetime) -> Transfer | None:
    with transaction.atomic():
        order = (StandingOrder.objects.select_for_update(of=("self",))
                 .select_related("user", "user__person", "payee_bank")
                 .filter(pk=order_id, status=OrderStatus.ACTIVE,
                         next_date__lte=_due(now)).first())
        if order is None:
            return None
        user = order.user
        ChannelUser.objects.select_for_update().filter(pk=user.pk).first()
        run_date = order.next_date
        key = f"order:{order.pk}:{run_date.isoformat()}"
        transfer = Transfer.objects.filter(person_id=user.person_id, idempotency_key=key).first()
        if transfer is None:
            try:
                with transaction.atomic():
                    transfer = _pay(order, user, key, now)
                order.runs += 1
            except DomainError as exc:
                _failed(order, exc, run_date, now)
        # A date missed while the bank was down is paid once, late; the dates that passed
        # meanwhile are skipped rather than paid all at once.
        order.next_date = following_date(order, run_date)
        while order.next_date is not None and order.next_date < local_today(now):
            order.next_date = following_date(order, order.next_date)
        if order.next_date is None:
            order.status = OrderStatus.FINISHED
        order.save(update_fields=["next_date", "status", "runs", "failures", "last_error"])
    return transfer


def _pay(order: StandingOrder, user: ChannelUser, key: str, now: datetime) -> Transfer:
    quote = payments._checked(user=user, instruction=_instruction(order), device_id=order.device,
                              ip=None, at=now, nonce=new_nonce())
    if quote.risk.action == risk.STEP_UP:  # nobody to answer a step-up: hold for review
        quote = replace(quote, risk=risk.Decision(action=risk.REVIEW, score=quote.risk.score,
                                                  reasons=(*quote.risk.reasons, "unattended")))
    return payments._move(payer=payments.Payer.of_user(user), quote=quote, challenge=None,
                          idempotency_key=key, ip=None, at=now, standing_order=order)


def _failed(order: StandingOrder, exc: DomainError, run_date: date, now: datetime) -> None:
    order.failures += 1
    order.last_error = exc.code[:200]
    audit.record(actor="system:orders", action="payments.order.failed",
                 target=f"order:{order.pk}", occurred_at=now,
                 details={"date": run_date.isoformat(), "code": exc.code})
    with translation.override(settings.LANGUAGE_CODE):
        reason = str(exc.message)
    alerts.order_failed(order, run_date=run_date, reason=reason, actor="system:orders",
                        at=now)
