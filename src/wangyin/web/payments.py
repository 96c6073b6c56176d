"""Transfer pages: the form, the confirmation (key data, fee, large-amount warning, limits,
the step-up fields) and the result. The rules live in ``wangyin.payments``."""

from __future__ import annotations

import secrets
from datetime import date, datetime, timedelta

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.authn import services as authn
from wangyin.authn.errors import ChallengeFailed, FaceNotRecognised, TokenLocked
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.masking import mask_account, mask_name, mask_phone
from wangyin.core.money import Money, format_money
from wangyin.customers import selectors as customer_selectors
from wangyin.payments import directory, fees, orders, payees
from wangyin.payments import services as payments
from wangyin.payments.models import Transfer, TransferKind
from wangyin.web import stepup
from wangyin.web.customer import client_ip, customer_required
from wangyin.web.forms import TransferForm

PENDING = "transfer_pending"
WINDOW = timedelta(minutes=5)
# Step-up failures the customer fixes on the confirmation page; any other error sends
# them back to the form with its message.
RETRY_HERE = (ChallengeFailed, FaceNotRecognised, TokenLocked)


# What the customer is told about when the money arrives, by clearing system.
ARRIVAL = {
    "IBPS": _("Real-time interbank payment: usually arrives within seconds, any day."),
    "HVPS": _("Large-value payment: arrives within the clearing system's business hours, "
              "usually within minutes."),
    "BEPS": _("Batch payment: arrives with the clearing system's next batch, at the latest "
              "on the next working day."),
}


ORDER_NOTICE = "transfer_order_notice"


def _schedule_text(schedule: orders.Schedule) -> str:
    first = schedule.first_date.isoformat()
    if schedule.frequency == "ONCE":
        return str(_("Once, on %(date)s") % {"date": first})
    every = _("Every week") if schedule.frequency == "WEEKLY" else _("Every month")
    return str(_("%(every)s from %(first)s to %(last)s") % {
        "every": every, "first": first, "last": schedule.end_date.isoformat()})


def _fee_text(fee_fen: int, *, scheduled: bool) -> str:
    text = format_money(Money(fee_fen)) if fee_fen else str(_("Free"))
    if scheduled:  # each run pays the schedule of its day
        text += str(_(" (each payment pays the fee schedule of its day)"))
    return text


# The fee page's tables: each segment with the kinds of transfer it offers.
SEGMENTS = {"personal": (_("Personal internet banking"), tuple(TransferKind)),
            "corporate": (_("Corporate internet banking"),
                          (TransferKind.OWN, TransferKind.SAME_BANK, TransferKind.INTERBANK))}


def _tier_rows(tiers) -> list[tuple[str, str]]:
    rows, low = [], 0
    for tier in tiers:
        if tier.up_to_fen is None:
            band = (_("Above %(low)s") % {"low": format_money(Money(low))} if low
                    else _("Any amount"))
        else:
            band = _("Up to %(high)s") % {"high": format_money(Money(tier.up_to_fen))}
        charge = [format_money(Money(tier.fixed_fen))] if tier.fixed_fen or not tier.rate else []
        if tier.rate:
            charge.append(str(_("%(rate)s%% of the amount")
                              % {"rate": f"{(tier.rate * 100).normalize():f}"}))
        text = " + ".join(charge)
        if tier.max_fen is not None:
            text += str(_(", at most %(max)s") % {"max": format_money(Money(tier.max_fen))})
        rows.append((str(band), text))
        low = tier.up_to_fen or low
    return rows


@require_safe
def fee_schedule(request):
    """Public: the bank's transfer fees (收费标准, CS-04), from the schedule it charges by."""
    schedule = fees.schedule()
    tables = [(str(label), [(str(kind.label), _tier_rows(schedule.tiers.get((segment, kind), ())))
                            for kind in kinds])  # a kind the schedule leaves out is free
              for segment, (label, kinds) in SEGMENTS.items()]
    return render(request, "web/fee_schedule.html", {"tables": tables})


def _instruction(data: dict) -> payments.Instruction:
    return payments.Instruction(debit_account_id=data["debit_account_id"],
                                payee_account=data["payee_account"],
                                payee_name=data["payee_name"], amount_fen=data["amount_fen"],
                                memo=data["memo"], payee_bank=data.get("payee_bank", ""),
                                payee_mobile=data.get("payee_mobile", ""))


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def transfer_new(request):
    user = request.customer
    accounts = customer_selectors.accounts_of_person(person_id=user.person_id)
    initial = {"debit_account": request.GET.get("from", ""), **_payee_initial(request)}
    form = TransferForm(request.POST or None, accounts=accounts, initial=initial,
                        banks=directory.banks_for_choice)
    error = request.session.pop("transfer_error", "")
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        instruction = payments.Instruction(
            debit_account_id=data["debit_account"],
            payee_account="".join(data["payee_account"].split()),
            payee_name=data["payee_name"].strip(), payee_mobile=data["payee_mobile"],
            amount_fen=Money.from_yuan(data["amount"]).fen, memo=data["memo"].strip(),
            payee_bank="" if directory.is_this_bank(data["payee_bank"]) or data["payee_mobile"]
            else data["payee_bank"])
        now = clock.now()
        schedule = None
        if data["when"] not in ("", "NOW"):
            schedule = orders.Schedule(data["when"], data["first_date"], data["end_date"])
        try:
            if schedule is not None:
                schedule = orders.schedule_check(schedule, now)
            quote = payments.transfer_quote(user=user, instruction=instruction,
                                            device_id=request.device_id,
                                            ip=client_ip(request), at=now,
                                            schedule=schedule.text() if schedule else "")
            pending = {}
            if quote.factors:
                challenge = authn.challenge_issue(
                    person=user.person, purpose=quote.operation, factors=quote.factors,
                    key=quote.key, at=now, device_id=request.device_id)
                pending = stepup.pending_of(challenge)
        except DomainError as exc:
            error = str(exc.message)
        else:
            request.session[PENDING] = {
                **pending, "at": now.isoformat(), "nonce": quote.key.nonce,
                "operation": quote.operation, "digest": quote.key.digest(),
                "key": secrets.token_urlsafe(18),
                "instruction": {**instruction.__dict__,
                                "payee_account": quote.key.payee_account},
                "shown": {"kind": str(TransferKind(quote.kind).label),
                          "debit": quote.debit.masked_number,
                          "debit_product": quote.debit.get_product_display(),
                          **_payee_shown(quote, instruction),
                          "payee_bank": quote.bank.name if quote.bank else "",
                          "arrival": str(ARRIVAL[quote.channel]) if quote.channel else "",
                          "amount": format_money(Money(quote.key.amount_fen)),
                          "fee": _fee_text(quote.fee_fen, scheduled=bool(schedule)),
                          "large": quote.large, "limits": list(quote.limits_text),
                          "review": quote.held_for_review,
                          "memo": instruction.memo,
                          "schedule": _schedule_text(schedule) if schedule else ""},
                "schedule": [schedule.frequency, schedule.first_date.isoformat(),
                             schedule.end_date.isoformat() if schedule.end_date else None]
                if schedule else None}
            return redirect("transfer_confirm")
    return render(request, "web/transfer_new.html", {
        "form": form, "error": error, "recent": payees.recent_payees(user)},
        status=400 if request.method == "POST" else 200)


def _payee_initial(request) -> dict:
    """The form filled in from a payee book entry (``?payee=``) or an earlier transfer to
    another customer or bank (``?again=``), the customer's own only."""
    user = request.customer
    payee_id, again = request.GET.get("payee", ""), request.GET.get("again", "")
    if payee_id.isdigit():
        entry = payees.payee_of(user, int(payee_id))
        if entry is not None:
            return {"payee_account": entry.account, "payee_name": entry.name,
                    "payee_bank": entry.bank.code if entry.bank_id else ""}
    if again.isdigit():
        earlier = (Transfer.objects.select_related("payee_bank")
                   .filter(pk=int(again), person_id=user.person_id,
                           kind__in=(TransferKind.SAME_BANK, TransferKind.INTERBANK)).first())
        if earlier is not None:
            return {"payee_account": earlier.payee_account, "payee_name": earlier.payee_name,
                    "payee_bank": earlier.payee_bank.code if earlier.payee_bank_id else ""}
    return {}


def _payee_shown(quote, instruction) -> dict:
    """The payee on the confirmation page. A payee found by mobile number is shown partly
    hidden: the payer checks the name without learning the account."""
    if quote.kind == TransferKind.MOBILE:
        return {"payee_account": mask_account(quote.key.payee_account),
                "payee_name": mask_name(quote.key.payee_name),
                "payee_mobile": mask_phone(instruction.payee_mobile)}
    return {"payee_account": quote.key.payee_account, "payee_name": quote.key.payee_name}


def _pending(request) -> dict | None:
    pending = request.session.get(PENDING)
    if not pending or clock.now() - datetime.fromisoformat(pending["at"]) > WINDOW:
        request.session.pop(PENDING, None)
        return None
    return pending


@require_http_methods(["GET", "HEAD", "POST"])
@customer_required
def transfer_confirm(request):
    pending = _pending(request)
    if pending is None:
        return redirect("transfer_new")
    user = request.customer
    error = ""
    if request.method == "POST":
        now = clock.now()
        instruction = _instruction(pending["instruction"])
        try:
            if pending.get("factors"):
                # The codes confirm what the page showed; execution then recomputes the
                # digest from the instruction it runs (TX-06).
                authn.challenge_verify(challenge_id=pending["challenge"], person=user.person,
                                       purpose=pending["operation"], digest=pending["digest"],
                                       codes=stepup.codes_from(request.POST), at=now)
            if pending.get("schedule"):
                frequency, first, end = pending["schedule"]
                orders.order_create(
                    user=user, instruction=instruction, nonce=pending["nonce"],
                    schedule=orders.Schedule(frequency, date.fromisoformat(first),
                                             date.fromisoformat(end) if end else None),
                    challenge_id=pending.get("challenge"), idempotency_key=pending["key"],
                    device_id=request.device_id, ip=client_ip(request), at=now)
                request.session.pop(PENDING, None)
                request.session[ORDER_NOTICE] = str(_("Your scheduled transfer is set up. "
                                                      "You can cancel it here until it runs."))
                return redirect("transfer_orders")
            transfer = payments.transfer_execute(
                user=user, instruction=instruction, nonce=pending["nonce"],
                challenge_id=pending.get("challenge"), idempotency_key=pending["key"],
                device_id=request.device_id, ip=client_ip(request), at=now)
        except RETRY_HERE as exc:
            error = str(exc.message)
        except DomainError as exc:
            request.session.pop(PENDING, None)
            request.session["transfer_error"] = str(exc.message)
            return redirect("transfer_new")
        else:
            request.session.pop(PENDING, None)
            return redirect("transfer_done", transfer_id=transfer.pk)
    return stepup.camera_if_asked(render(request, "web/transfer_confirm.html", {
        "shown": pending["shown"], "error": error,
        **stepup.factor_context(pending, user.person.masked_phone)},
        status=400 if error else 200), pending)


@require_safe
@customer_required
def transfer_done(request, transfer_id: int):
    transfer = (Transfer.objects.select_related("debit_account", "payee_bank")
                .filter(pk=transfer_id, person_id=request.customer.person_id).first())
    if transfer is None:
        raise Http404  # another customer's transfer looks like none
    return render(request, "web/transfer_done.html", {
        "transfer": transfer, "amount": format_money(Money(transfer.amount_fen)),
        "fee": format_money(Money(transfer.fee_fen)) if transfer.fee_fen else "",
        "payee_account": mask_account(transfer.payee_account),
        "payee_name": mask_name(transfer.payee_name) if transfer.kind == TransferKind.MOBILE
        else transfer.payee_name,
        "events": transfer.events.all(),
        "arrival": ARRIVAL.get(transfer.channel, "") if transfer.status == "PROCESSING"
        else ""})


@require_safe
@customer_required
def transfer_orders(request):
    """The customer's scheduled and recurring transfers, with a cancel button each."""
    return render(request, "web/transfer_orders.html", {
        "orders": orders.orders_of(request.customer),
        "notice": request.session.pop(ORDER_NOTICE, "")})


@require_POST
@customer_required
def transfer_order_cancel(request, order_id: int):
    try:
        orders.order_cancel(user=request.customer, order_id=order_id, ip=client_ip(request),
                            at=clock.now())
    except DomainError as exc:
        if exc.http_status == 404:
            raise Http404 from exc
        raise
    request.session[ORDER_NOTICE] = str(_("The scheduled transfer is cancelled."))
    return redirect("transfer_orders")
