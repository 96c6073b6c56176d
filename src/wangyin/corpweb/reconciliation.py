"""Bank–enterprise reconciliation in the corporate web bank (银企对账, FC-07): the monthly
balance statements of the accounts the operator sees, one statement's figures and answer,
and — for an operator with the authorising role — the answer form (the balances agree, or
they do not: the company's balance and the items that explain the difference) and the page
where their USB-Key signs the answer through the U盾 agent. Every operator who sees the
account reads its statements; only authorisers answer. The rules are
``wangyin.corporate.reconciliation``'s."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django import forms
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_safe

from wangyin.authn.errors import ChallengeFailed
from wangyin.core import clock
from wangyin.core.errors import DomainError
from wangyin.core.money import Money
from wangyin.core.money_words import amount_in_words
from wangyin.corporate import reconciliation as recon
from wangyin.corporate.errors import StatementNotFound
from wangyin.corporate.models.reconciliation import (
    BalanceStatement,
    DifferenceKind,
    StatementStatus,
)
from wangyin.corpweb.middleware import operator_required
from wangyin.web import stepup
from wangyin.web.customer import client_ip

NOTICE = "corp_statement_notice"
SIGNING = "corp_statement_signing"  # the answer waiting for the USB-Key's signature
EXTRA_ROWS = 3
AGREE, DISAGREE = "AGREE", "DISAGREE"

# --- forms ------------------------------------------------------------------------------


def _yuan(label, *, required=False, positive=True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal("0.01") if positive else None,
        max_digits=15,
        decimal_places=2,
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        error_messages={
            "min_value": _("Enter a positive amount in yuan."),
            "invalid": _("Enter an amount in yuan, for example 50000.00."),
            "max_decimal_places": _("An amount has at most two decimals."),
        },
    )


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label=gettext_lazy("Your answer"),
        widget=forms.RadioSelect,
        choices=[
            (AGREE, gettext_lazy("The balances agree")),
            (DISAGREE, gettext_lazy("The balances do not agree")),
        ],
        error_messages={"required": gettext_lazy("Choose whether the balances agree.")},
    )
    company_balance = _yuan(gettext_lazy("Balance in the company's books (yuan)"), positive=False)

    def clean(self):
        data = super().clean()
        if data.get("answer") == DISAGREE and data.get("company_balance") is None:
            if "company_balance" not in self.errors:
                self.add_error(
                    "company_balance", _("Give the balance of the account in your books.")
                )
        return data


class DifferenceForm(forms.Form):
    """One item that explains the difference; an empty row is ignored."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        required=False,
        choices=[("", "—"), *DifferenceKind.choices],
    )
    day = forms.DateField(
        label=gettext_lazy("Date"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": gettext_lazy("Enter a date, for example 2026-10-31.")},
    )
    amount = _yuan(gettext_lazy("Amount (yuan)"))
    description = forms.CharField(
        label=gettext_lazy("Description"), required=False, max_length=recon.DESCRIPTION_MAX
    )

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return not any(data.get(name) for name in ("kind", "day", "amount", "description"))

    def clean(self):
        data = super().clean()
        if self.is_blank():
            return data
        for name in ("kind", "day", "amount", "description"):
            if not data.get(name) and name not in self.errors:
                self.add_error(name, _("Fill this in, or empty the whole row."))
        return data

    def spec(self) -> recon.DifferenceSpec:
        data = self.cleaned_data
        return recon.DifferenceSpec(
            kind=data["kind"],
            day=data["day"],
            amount_fen=Money.from_yuan(data["amount"]).fen,
            description=data["description"],
        )


DifferenceFormSet = forms.formset_factory(
    DifferenceForm,
    extra=0,
    max_num=recon.MAX_DIFFERENCES,
    validate_max=True,
    absolute_max=recon.MAX_DIFFERENCES * 2,
)


def _answer_of(form: AnswerForm, rows) -> recon.Answer:
    """The answer as typed (differences typed with "agree" are passed on, for the service
    to refuse rather than to drop them unseen)."""
    differences = tuple(row.spec() for row in rows.forms if not row.is_blank())
    if form.cleaned_data["answer"] == AGREE:
        return recon.Answer(agree=True, differences=differences)
    balance = form.cleaned_data["company_balance"]
    return recon.Answer(
        agree=False, company_balance_fen=Money.from_yuan(balance).fen, differences=differences
    )


def _stored(answer: recon.Answer) -> dict:
    return {
        "agree": answer.agree,
        "company_balance_fen": answer.company_balance_fen,
        "differences": [
            [d.kind, d.day.isoformat(), d.amount_fen, d.description] for d in answer.differences
        ],
    }


def _answer_from(kept: dict) -> recon.Answer:
    return recon.Answer(
        agree=kept["agree"],
        company_balance_fen=kept["company_balance_fen"],
        differences=tuple(
            recon.DifferenceSpec(
                kind=kind, day=date.fromisoformat(day), amount_fen=fen, description=text
            )
            for kind, day, fen, text in kept["differences"]
        ),
    )


# --- pages ------------------------------------------------------------------------------


def _statement_or_404(operator, statement_id: int) -> BalanceStatement:
    try:
        return recon.statement_of(operator, statement_id)
    except StatementNotFound as exc:
        raise Http404 from exc


def _names(statement: BalanceStatement) -> str:
    operator = statement.answered_by
    return f"{operator.code} ({operator.person.masked_name})" if operator else ""


def _figures(statement: BalanceStatement, at) -> dict:
    closing = Money(statement.closing_fen, statement.currency)
    answer = None
    if statement.status != StatementStatus.ISSUED:
        differences = list(statement.differences.all())
        answer = {
            "by": _names(statement),
            "at": statement.answered_at,
            "company_balance": Money(statement.company_balance_fen, statement.currency)
            if statement.company_balance_fen is not None
            else None,
            "differences": differences,
            "serial": statement.signature.certificate.usb_key.serial
            if statement.signature and statement.signature.certificate.usb_key_id
            else "",
            "unexplained": Money(
                recon.unexplained_fen(
                    statement,
                    recon.Answer(
                        agree=statement.status == StatementStatus.AGREED,
                        company_balance_fen=statement.company_balance_fen,
                        differences=tuple(
                            recon.DifferenceSpec(d.kind, d.day, d.amount_fen, d.description)
                            for d in differences
                        ),
                    ),
                ),
                statement.currency,
            ),
        }
    return {
        "statement": statement,
        "month": statement.period,
        "opening": Money(statement.opening_fen, statement.currency),
        "closing": closing,
        "closing_words": amount_in_words(closing),
        "money_in": Money(statement.money_in_fen, statement.currency),
        "money_out": Money(statement.money_out_fen, statement.currency),
        "overdue": recon.is_overdue(statement, at),
        "answer": answer,
    }


@require_safe
@operator_required
def statement_list(request):
    """The statements of the accounts the operator sees, newest month first."""
    operator, now = request.operator, clock.now()
    rows = [
        {
            "statement": s,
            "closing": Money(s.closing_fen, s.currency),
            "overdue": recon.is_overdue(s, now),
        }
        for s in recon.statements_for(operator)[:120]
    ]
    return render(
        request,
        "corpweb/reconciliation/list.html",
        {
            "rows": rows,
            "can_answer": recon.may_answer(operator),
            "notice": request.session.pop(NOTICE, ""),
        },
    )


def _detail_page(request, statement, *, form=None, rows=None, error="", status=200):
    operator = request.operator
    answering = statement.status == StatementStatus.ISSUED and recon.may_answer(operator)
    if answering and form is None:
        form = AnswerForm(auto_id="answer_%s")
        rows = DifferenceFormSet(initial=[{}] * EXTRA_ROWS, prefix="diff")
    return render(
        request,
        "corpweb/reconciliation/detail.html",
        {
            **_figures(statement, clock.now()),
            "answering": answering,
            "form": form,
            "rows": rows,
            "error": error,
            "notice": request.session.pop(NOTICE, ""),
        },
        status=status,
    )


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def statement_detail(request, statement_id: int):
    """The statement's figures and answer; for an authoriser, the answer form. A valid
    answer opens the USB-Key challenge and goes to the signing page."""
    operator = request.operator
    statement = _statement_or_404(operator, statement_id)
    if request.method != "POST":
        return _detail_page(request, statement)
    if not recon.may_answer(operator):
        raise Http404
    form = AnswerForm(request.POST, auto_id="answer_%s")
    rows = DifferenceFormSet(request.POST, prefix="diff")
    if request.POST.get("action") == "add":  # the rows as typed, and one more
        count = min(rows.total_form_count() + 1, recon.MAX_DIFFERENCES)
        typed = [
            {n: request.POST.get(f"diff-{i}-{n}", "") for n in DifferenceForm.base_fields}
            for i in range(rows.total_form_count())
        ]
        more = DifferenceFormSet(initial=(typed + [{}])[:count], prefix="diff")
        kept = AnswerForm(initial=request.POST.dict(), auto_id="answer_%s")
        return _detail_page(request, statement, form=kept, rows=more)
    if form.is_valid() and rows.is_valid():
        answer = _answer_of(form, rows)
        try:
            challenge = recon.answer_challenge(operator, statement.pk, answer, clock.now())
        except DomainError as exc:
            return _detail_page(
                request, statement, form=form, rows=rows, error=str(exc.message), status=400
            )
        request.session[SIGNING] = {
            "statement": statement.pk,
            "answer": _stored(answer),
            **stepup.pending_of(challenge),
        }
        return redirect("corpweb:reconciliation_sign", statement_id=statement.pk)
    return _detail_page(request, statement, form=form, rows=rows, status=400)


@require_http_methods(["GET", "HEAD", "POST"])
@operator_required
def statement_sign(request, statement_id: int):
    """The answer in words and the USB-Key's signature over it; then it is recorded."""
    operator = request.operator
    statement = _statement_or_404(operator, statement_id)
    pending = request.session.get(SIGNING)
    if not pending or pending.get("statement") != statement.pk:
        return redirect("corpweb:reconciliation_statement", statement_id=statement.pk)
    answer = _answer_from(pending["answer"])
    error = ""
    if request.method == "POST":
        if request.POST.get("action") == "cancel":
            request.session.pop(SIGNING, None)
            request.session[NOTICE] = _("Nothing was sent. The statement still awaits your answer.")
            return redirect("corpweb:reconciliation_statement", statement_id=statement.pk)
        signature = stepup.codes_from(request.POST)["USBKEY"]
        at = clock.now()
        try:
            if not signature:
                raise ChallengeFailed()
            recon.answer_verify(operator, statement.pk, answer, pending["challenge"], signature, at)
            done = recon.answer_submit(
                operator,
                statement.pk,
                answer,
                pending["challenge"],
                at,
                ip=client_ip(request),
                device_id=request.device_id,
            )
        except ChallengeFailed:
            error = (
                _("Sign with your USB-Key first. Nothing was sent.")
                if not signature
                else _(
                    "The USB-Key signature was not accepted for this answer. Nothing was "
                    "sent. Sign again, or start again."
                )
            )
        except DomainError as exc:
            request.session.pop(SIGNING, None)
            request.session[NOTICE] = _("%(why)s Nothing was sent.") % {"why": exc.message}
            return redirect("corpweb:reconciliation_statement", statement_id=statement.pk)
        else:
            request.session.pop(SIGNING, None)
            request.session[NOTICE] = (
                _("Your signed answer is recorded: the balances agree.")
                if done.status == StatementStatus.AGREED
                else _(
                    "Your signed answer is recorded: the differences are reported to the "
                    "bank, which will follow them up with you."
                )
            )
            return redirect("corpweb:reconciliation_statement", statement_id=statement.pk)
    return render(
        request,
        "corpweb/reconciliation/sign.html",
        {
            **_figures(statement, clock.now()),
            "agree": answer.agree,
            "summary": recon.answer_summary(statement, answer),
            "error": error,
            **stepup.factor_context(pending, ""),
        },
        status=400 if error else 200,
    )
