"""Payment instructions in the corporate web bank (FC-02): the entering operator's payment
form, drafts and "my instructions"; the approvers' queue and the approval page, where the
operator's USB-Key signs the instruction through the U盾 agent (the key shows the payment
in words) or the operator rejects it with a reason; the company's instruction list and an
instruction's page with its full history and risk decision. The rules are
``wangyin.corporate.approvals``'; reads come from ``wangyin.corporate.selectors``."""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from wangyin.authn.errors import ChallengeFailed
from wangyin.authn.models import Factor
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import InvalidAmount, Money
from wangyin.core.money_words import amount_in_words
from wangyin.corporate import approvals, selectors, signin
from wangyin.corporate import errors as corp_errors
from wangyin.corporate.models import (
    OPEN_STATUSES,
    Instruction,
    InstructionStatus,
    Operator,
    Role,
    Step,
)
from wangyin.corpweb import batch_data
from wangyin.corpweb.forms import InstructionFilterForm, PaymentForm, ReasonForm, new_key
from wangyin.corpweb.menu import APPROVAL_ROLES, PAYMENT_ROLES
from wangyin.corpweb.middleware import operator_required
from wangyin.payments import directory
from wangyin.payments import errors as pay_errors
from wangyin.risk.models import Action
from wangyin.web import stepup
from wangyin.web.customer import client_ip

NOTICE = "corp_instruction_notice"
APPROVING = "corp_approving"  # {instruction id: the pending USB-Key challenge}
LIST_LIMIT = 100

# Which field a refusal of the entry is about, so it is shown next to that field.
FIELD_OF_ERROR = {
    "debit_account": (corp_errors.AccountNotInScope, pay_errors.AccountCannotPay),
    "payee_account": (
        pay_errors.PayeeNotFound,
        pay_errors.PayeeAccountInvalid,
        pay_errors.PayeeAccountClosed,
        pay_errors.SameAccount,
        pay_errors.PayeeBlocked,
    ),
    "payee_name": (
        pay_errors.PayeeNameRequired,
        pay_errors.PayeeNameMismatch,
        corp_errors.PayeeNameTooLong,
    ),
    "payee_bank": (pay_errors.UnknownBank,),
    "amount": (
        InvalidAmount,
        corp_errors.AmountAboveMaximum,
        corp_errors.OperatorPaymentLimit,
        corp_errors.OperatorDailyLimit,
    ),
    "purpose": (corp_errors.PurposeRequired,),
}

# The history's actions in words (an unknown one is shown as it is stored).
ACTIONS = {
    "drafted": gettext_lazy("Saved as a draft"),
    "uploaded": gettext_lazy("Batch file uploaded"),
    "rows_removed": gettext_lazy("Rows removed from the batch"),
    "paying": gettext_lazy("Paying the rows"),
    "edited": gettext_lazy("Draft changed"),
    "entered": gettext_lazy("Entered"),
    "checked": gettext_lazy("Checked"),
    "authorised": gettext_lazy("Authorised"),
    "rejected": gettext_lazy("Rejected"),
    "cancelled": gettext_lazy("Cancelled"),
    "expired": gettext_lazy("Expired"),
    "blocked": gettext_lazy("Stopped by risk control"),
    "executed": pgettext_lazy("instruction", "Paid"),
    "failed": gettext_lazy("Could not be paid"),
    "held": gettext_lazy("Held for the bank's risk review"),
    "released": gettext_lazy("Released by the bank's risk review"),
    "declined": gettext_lazy("Refused by the bank's risk review"),
}
SYSTEM_ACTORS = {
    "system:risk": gettext_lazy("Risk control"),
    "system:corporate": gettext_lazy("The bank (automatically)"),
}
STAFF = gettext_lazy("The bank")  # a staff member's name is not shown to the company


def _ip(request) -> str | None:
    return client_ip(request)


def _show_error(form, exc: DomainError) -> None:
    for field, kinds in FIELD_OF_ERROR.items():
        if isinstance(exc, kinds):
            form.add_error(field, str(exc.message))
            return
    form.add_error(None, str(exc.message))


def _scope_accounts(operator: Operator) -> list:
    return [(a, a.ledger_account.available_money) for a in signin.operator_accounts(operator)]


def _payment_form(request, *, data=None, initial=None) -> PaymentForm:
    return PaymentForm(
        data,
        initial=initial,
        accounts=_scope_accounts(request.operator),
        banks=directory.banks_for_choice,
    )


def _renewed(form: PaymentForm) -> None:
    """After a refusal the page is a new form: a new key, so what the operator corrects
    is a new payment (a refused one made nothing, a blocked one keeps its key)."""
    form.data = form.data.copy()
    form.data["idempotency_key"] = new_key()


def _visible(operator: Operator, instruction_id: int) -> Instruction:
    """An instruction of the operator's company from an account the operator sees; any
    other looks missing (SE-09)."""
    instruction = selectors.instructions(operator.service).filter(pk=instruction_id).first()
    if (
        instruction is None
        or signin.operator_account(operator, instruction.debit_account_id) is None
    ):
        raise Http404
    return instruction


def _names(operator: Operator) -> dict[str, str]:
    """Actor strings of the company's operators in words: code and masked name."""
    return {
        o.actor: f"{o.code} ({o.person.masked_name})"
        for o in Operator.objects.filter(service_id=operator.service_id).select_related("person")
    }


def _detail(operator: Operator, instruction: Instruction) -> dict:
    """What every page about one instruction shows: the key data with the amount in
    capitals, the requirement of its tier, approvals so far, the history and the risk."""
    record = selectors.history(instruction)
    names = _names(operator)
    amount = Money(instruction.amount_fen, instruction.currency)
    events = [
        {
            "at": e.at,
            "action": ACTIONS.get(e.action, e.action),
            "who": names.get(e.actor)
            or SYSTEM_ACTORS.get(e.actor, STAFF if e.actor.startswith("staff:") else e.actor),
            "status": InstructionStatus(e.status).label
            if e.status in InstructionStatus.values
            else e.status,
            "reason": batch_data.event_reason(e.action, e.reason),
        }
        for e in record.events
    ]
    done = [
        {
            "step": Step(a.step).label,
            "who": names.get(a.operator.actor, ""),
            "at": a.at,
            "serial": a.signature.certificate.usb_key.serial
            if a.signature.certificate.usb_key_id
            else "",
        }
        for a in record.approvals
    ]
    checks = sum(1 for a in record.approvals if a.step == Step.CHECK)
    risk = [
        {
            "at": d.at,
            "action": Action(d.action).label if d.action in Action.values else d.action,
            "raw": d.action,
            "reasons": d.reasons,
        }
        for d in record.risk
    ]
    if not risk and instruction.risk_action:
        risk = [
            {
                "at": instruction.entered_at,
                "raw": instruction.risk_action,
                "action": Action(instruction.risk_action).label
                if instruction.risk_action in Action.values
                else instruction.risk_action,
                "reasons": instruction.risk_reasons,
            }
        ]
    status = instruction.get_status_display()
    if instruction.status == InstructionStatus.ENTERED and not instruction.checkers_required:
        status = _("Entered, awaiting authorisation")  # its tier asks for no check
    return {
        "instruction": instruction,
        "amount": amount,
        "status": status,
        "amount_words": amount_in_words(amount),
        "events": events,
        "approvals": done,
        "checks_done": checks,
        "authorisations_done": len(done) - checks,
        "risk": risk,
        "entered_by": names.get(instruction.entered_by.actor, ""),
        "bank": instruction.payee_bank.name
        if instruction.payee_bank_id
        else _("This bank (Wangyin Bank)"),
    }


# --- entering (the ENTER role) ---------------------------------------------------------


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required(roles=PAYMENT_ROLES)
def payment_new(request):
    """Enter a payment, or save it as a draft."""
    if request.method != "POST":
        form = _payment_form(request, initial={"idempotency_key": new_key()})
        return render(request, "corpweb/payment_form.html", {"form": form})
    form = _payment_form(request, data=request.POST)
    if form.is_valid():
        try:
            instruction = approvals.instruction_enter(
                request.operator,
                **form.order(),
                idempotency_key=form.cleaned_data["idempotency_key"],
                at=clock.now(),
                draft=request.POST.get("action") == "draft",
                device_id=request.device_id,
                ip=_ip(request),
            )
        except DomainError as exc:
            _show_error(form, exc)
            _renewed(form)
        else:
            request.session[NOTICE] = (
                _("The draft is saved. Submit it when it is ready.")
                if instruction.status == InstructionStatus.DRAFT
                else _("The payment is entered and waits for its approvals.")
            )
            return redirect("corpweb:instruction", instruction_id=instruction.pk)
    return render(request, "corpweb/payment_form.html", {"form": form}, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required(roles=PAYMENT_ROLES)
def draft_edit(request, instruction_id: int):
    """Change one's own draft (every field checked again)."""
    instruction = _visible(request.operator, instruction_id)
    if (
        instruction.entered_by_id != request.operator.pk
        or instruction.status != InstructionStatus.DRAFT
    ):
        raise Http404
    if request.method != "POST":
        form = _payment_form(
            request,
            initial={
                "debit_account": instruction.debit_account_id,
                "payee_account": instruction.payee_account,
                "payee_name": instruction.payee_name,
                "payee_bank": instruction.payee_bank.code if instruction.payee_bank_id else "",
                "amount": Money(instruction.amount_fen).to_yuan_str(),
                "purpose": instruction.purpose,
                "idempotency_key": instruction.idempotency_key,
            },
        )
        return render(request, "corpweb/payment_form.html", {"form": form, "draft": instruction})
    form = _payment_form(request, data=request.POST)
    if form.is_valid():
        try:
            approvals.instruction_edit(
                request.operator, instruction.pk, **form.order(), at=clock.now()
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            request.session[NOTICE] = _("The draft is saved. Submit it when it is ready.")
            return redirect("corpweb:instruction", instruction_id=instruction.pk)
    return render(
        request, "corpweb/payment_form.html", {"form": form, "draft": instruction}, status=400
    )


def _back(request, instruction_id: int, notice: str):
    request.session[NOTICE] = notice
    return redirect("corpweb:instruction", instruction_id=instruction_id)


@require_POST
@operator_required(roles=PAYMENT_ROLES)
def draft_submit(request, instruction_id: int):
    _visible(request.operator, instruction_id)
    try:
        approvals.instruction_submit(
            request.operator,
            instruction_id,
            clock.now(),
            device_id=request.device_id,
            ip=_ip(request),
        )
    except DomainError as exc:
        return _back(request, instruction_id, str(exc.message))
    return _back(request, instruction_id, _("The payment is entered and waits for its approvals."))


@require_POST
@operator_required(roles=PAYMENT_ROLES)
def instruction_cancel(request, instruction_id: int):
    """The enterer withdraws the instruction before it is authorised, with the reason."""
    instruction = _visible(request.operator, instruction_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            approvals.cancel(
                request.operator,
                instruction_id,
                form.cleaned_data["reason"],
                clock.now(),
                ip=_ip(request),
                device_id=request.device_id,
            )
        except DomainError as exc:
            form.add_error("reason", str(exc.message))
        else:
            return _back(request, instruction_id, _("The instruction is cancelled."))
    return _instruction_page(request, instruction, cancel_form=form, status=400)


@require_safe
@operator_required(roles=PAYMENT_ROLES)
def payments_mine(request):
    """The instructions this operator entered, newest first, by status."""
    operator = request.operator
    form = InstructionFilterForm(request.GET or None, accounts=signin.operator_accounts(operator))
    rows = selectors.instructions(operator.service, _filters(form, entered_by_id=operator.pk))
    return render(request, "corpweb/payments_mine.html", {"form": form, "rows": rows[:LIST_LIMIT]})


def _filters(form: InstructionFilterForm, **fixed) -> selectors.InstructionFilters:
    if not form.is_valid():
        return selectors.InstructionFilters(**fixed)
    data = form.cleaned_data
    return selectors.InstructionFilters(
        statuses=(data["status"],) if data["status"] else None,
        debit_account_id=data["account"],
        payee=data["payee"],
        **fixed,
    )


# --- one instruction, and the company's list (every operator who sees the account) -----


def _instruction_page(request, instruction: Instruction, *, cancel_form=None, status=200):
    operator = request.operator
    mine = instruction.entered_by_id == operator.pk and Role.ENTER in operator.roles
    can_approve = (
        bool(set(APPROVAL_ROLES) & set(operator.roles))
        and selectors.queue(operator).filter(pk=instruction.pk).exists()
    )
    return render(
        request,
        "corpweb/instruction.html",
        {
            **_detail(operator, instruction),
            **batch_data.batch_context(request, instruction),
            "notice": request.session.pop(NOTICE, ""),
            "mine": mine,
            "can_cancel": mine and instruction.status in OPEN_STATUSES,
            "is_draft": mine and instruction.status == InstructionStatus.DRAFT,
            "can_approve": can_approve,
            "cancel_form": cancel_form or ReasonForm(),
        },
        status=status,
    )


@require_safe
@operator_required
def instruction_detail(request, instruction_id: int):
    return _instruction_page(request, _visible(request.operator, instruction_id))


@require_safe
@operator_required
def instruction_list(request):
    """The company's instructions of the accounts the operator sees, every status."""
    operator = request.operator
    accounts = signin.operator_accounts(operator)
    form = InstructionFilterForm(request.GET or None, accounts=accounts)
    # Only the accounts the operator sees (SE-09): the administrator sees them all.
    rows = selectors.instructions(operator.service, _filters(form)).filter(
        debit_account_id__in=[a.pk for a in accounts]
    )[:LIST_LIMIT]
    return render(request, "corpweb/instructions.html", {"form": form, "rows": rows})


# --- approving (the CHECK or AUTHORISE role) --------------------------------------------


@require_safe
@operator_required(roles=APPROVAL_ROLES)
def approval_queue(request):
    rows = list(selectors.queue(request.operator)[:LIST_LIMIT])
    for row in rows:
        row.next_step = (
            Step.CHECK.label if row.checks < row.checkers_required else Step.AUTHORISE.label
        )
    return render(
        request, "corpweb/approvals.html", {"rows": rows, "notice": request.session.pop(NOTICE, "")}
    )


def _pending(request, instruction_id: int) -> dict | None:
    return request.session.get(APPROVING, {}).get(str(instruction_id))


def _keep(request, instruction_id: int, pending: dict | None) -> None:
    waiting = dict(request.session.get(APPROVING, {}))
    if pending is None:
        waiting.pop(str(instruction_id), None)
    else:
        waiting[str(instruction_id)] = pending
    request.session[APPROVING] = dict(list(waiting.items())[-5:])


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required(roles=APPROVAL_ROLES)
def approval(request, instruction_id: int):
    """Check or authorise one instruction with the USB-Key, or reject it with a reason.
    The page opens the challenge the key signs; it names the payment in words."""
    operator = request.operator
    instruction = _visible(operator, instruction_id)
    error, refusal, reject_form = "", "", ReasonForm()
    action = request.POST.get("action", "") if request.method == "POST" else ""
    pending = _pending(request, instruction.pk)
    now = clock.now()
    try:
        if action == "approve" and pending:
            approvals.approval_verify(
                operator,
                instruction.pk,
                pending["challenge"],
                stepup.codes_from(request.POST)[Factor.USBKEY],
                now,
            )
            approvals.approve(
                operator,
                instruction.pk,
                pending["challenge"],
                now,
                ip=_ip(request),
                device_id=request.device_id,
            )
            _keep(request, instruction.pk, None)
            instruction.refresh_from_db()
            return _back(
                request,
                instruction.pk,
                _("Your signature is recorded. The instruction is now: %(status)s.")
                % {"status": instruction.get_status_display()},
            )
        if action == "reject":
            reject_form = ReasonForm(request.POST)
            if reject_form.is_valid():
                approvals.reject(
                    operator,
                    instruction.pk,
                    reject_form.cleaned_data["reason"],
                    now,
                    ip=_ip(request),
                    device_id=request.device_id,
                )
                _keep(request, instruction.pk, None)
                return _back(request, instruction.pk, _("The instruction is rejected."))
            error = _("Give the reason for rejecting it.")
    except ChallengeFailed as exc:
        error = str(exc.message)
    except DomainError as exc:
        if action == "reject":
            reject_form.add_error("reason", str(exc.message))
        else:
            error = str(exc.message)
        _keep(request, instruction.pk, None)
        pending = None
    if pending is None or action == "renew":
        try:
            pending = stepup.pending_of(approvals.approval_challenge(operator, instruction.pk, now))
            _keep(request, instruction.pk, pending)
        except DomainError as exc:
            refusal, pending = str(exc.message), None
    instruction = _visible(operator, instruction.pk)
    return render(
        request,
        "corpweb/approval.html",
        {
            **_detail(operator, instruction),
            **batch_data.batch_context(request, instruction),
            "error": error,
            "refusal": refusal,
            "reject_form": reject_form,
            "signing": pending is not None,
            **stepup.factor_context(pending or {}, ""),
        },
        status=400 if error or reject_form.errors else 200,
    )
