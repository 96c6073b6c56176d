"""Customer-site forms: server-side validation of everything a customer submits."""

import functools
from datetime import datetime, time, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wangyin.core.money import Money
from wangyin.ledger.selectors import Direction, StatementFilters, StatementKind


def form_errors_text(form) -> str:
    """A form's errors as one sentence, for a notice shown after a redirect."""
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


class StatementFilterForm(forms.Form):
    """The account history's filters; the same for the page, the CSV and the PDF."""

    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    direction = forms.ChoiceField(label=_("In or out"), required=False, choices=[
        ("", _("In and out")), *Direction.choices])
    kind = forms.ChoiceField(label=_("Type"), required=False, choices=[
        ("", _("All types")), *StatementKind.choices])
    min_amount = forms.DecimalField(label=_("Amount from (yuan)"), required=False,
                                    min_value=0, max_digits=12, decimal_places=2,
                                    widget=forms.NumberInput(attrs={"step": "0.01",
                                                                    "inputmode": "decimal"}))
    max_amount = forms.DecimalField(label=_("Amount to (yuan)"), required=False,
                                    min_value=0, max_digits=12, decimal_places=2,
                                    widget=forms.NumberInput(attrs={"step": "0.01",
                                                                    "inputmode": "decimal"}))
    counterparty = forms.CharField(label=_("Counterparty"), required=False, max_length=60,
                                   help_text=_("Name, or the last four digits or the whole "
                                               "account number."))
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if until < since:
                raise forms.ValidationError(_("The end date is before the start date."))
            if until - since > timedelta(days=366):
                raise forms.ValidationError(_("Choose a period of at most one year."))
        low, high = data.get("min_amount"), data.get("max_amount")
        if low is not None and high is not None and low > high:
            raise forms.ValidationError(_("The smallest amount is larger than the largest "
                                          "amount."))
        return data

    def filters(self) -> StatementFilters:
        """The valid filters for the ledger: the dates as a half-open range of moments in
        the bank's time zone, the amounts in fen."""
        data = self.cleaned_data
        tz = timezone.get_current_timezone()
        since, until = data.get("since"), data.get("until")

        def money(value):
            return None if value is None else Money.from_yuan(value)

        return StatementFilters(
            since=datetime.combine(since, time.min, tz) if since else None,
            until=datetime.combine(until + timedelta(days=1), time.min, tz) if until else None,
            min_amount=money(data.get("min_amount")),
            max_amount=money(data.get("max_amount")), direction=data.get("direction") or None,
            kind=data.get("kind") or None,
            counterparty=" ".join((data.get("counterparty") or "").split()))


class ReservedMessageForm(forms.Form):
    reserved_message = forms.CharField(label=_("New reserved message"), min_length=2,
                                       max_length=20)


class OwnLimitsForm(forms.Form):
    per_transaction = forms.DecimalField(label=_("Limit per payment (yuan)"), min_value=0.01,
                                         max_digits=12, decimal_places=2)
    per_day = forms.DecimalField(label=_("Limit per day (yuan)"), min_value=0.01,
                                 max_digits=12, decimal_places=2)


def _bank_choices(banks) -> list[tuple[str, str]]:
    return [("", _("This bank (Wangyin Bank)"))] + [(b.code, b.name) for b in banks]


class TransferForm(forms.Form):
    """A transfer as the customer types it; the payments service checks the rest."""

    debit_account = forms.TypedChoiceField(label=_("Pay from"), coerce=int)
    payee_account = forms.RegexField(label=_("Payee account number"), regex=r"^[0-9 ]{8,40}$",
                                     max_length=40, required=False, error_messages={
                                         "invalid": _("Enter the account number in digits.")})
    payee_mobile = forms.RegexField(
        label=_("Or the payee's mobile number"), regex=r"^1[0-9]{10}$", max_length=11,
        required=False, widget=forms.TextInput(attrs={"inputmode": "numeric"}),
        help_text=_("For customers of this bank who receive transfers by mobile number. "
                    "You will see their name, partly hidden, before you pay."),
        error_messages={"invalid": _("Enter the 11-digit mobile number.")})
    payee_bank = forms.ChoiceField(label=_("Payee bank"), required=False,
                                   help_text=_("Leave it at this bank for our own customers."))
    payee_name = forms.CharField(label=_("Payee name"), max_length=60, required=False,
                                 help_text=_("Not needed between your own accounts."))
    amount = forms.DecimalField(label=_("Amount (yuan)"), min_value=0.01,
                                max_value=100_000_000, max_digits=11, decimal_places=2)
    memo = forms.CharField(label=_("Note for the payee"), max_length=30, required=False)
    when = forms.ChoiceField(label=_("When"), required=False, initial="NOW", choices=[
        ("NOW", _("Now")), ("ONCE", _("Once, on a date")), ("WEEKLY", _("Every week")),
        ("MONTHLY", _("Every month"))])
    first_date = forms.DateField(label=_("Date (first payment)"), required=False,
                                 widget=forms.DateInput(attrs={"type": "date"}))
    end_date = forms.DateField(label=_("Last date (repeating transfers)"), required=False,
                               widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("when", "NOW") not in ("", "NOW") and not data.get("first_date"):
            self.add_error("first_date", _("Choose the date of the first payment."))
        account, mobile = data.get("payee_account"), data.get("payee_mobile")
        if account and mobile:
            raise forms.ValidationError(_("Enter the payee's account number or their mobile "
                                          "number, not both."))
        if not account and not mobile and not self.has_error("payee_account") \
                and not self.has_error("payee_mobile"):
            self.add_error("payee_account", _("Enter the payee's account number."))
        return data

    def __init__(self, *args, accounts=(), banks=(), **kwargs):
        """``banks``: the other banks, or a function that reads them — then only when the
        list is shown or another bank was chosen (a payment within the bank never needs
        the directory)."""
        super().__init__(*args, **kwargs)
        self.fields["debit_account"].choices = [
            (a.pk, f"{a.get_product_display()} {a.masked_number}") for a in accounts]
        self.fields["payee_bank"].choices = (functools.cache(lambda: _bank_choices(banks()))
                                             if callable(banks) else _bank_choices(banks))


class PayeeForm(forms.Form):
    """A new payee book entry; the payments service checks it like a payment."""

    payee_name = forms.CharField(label=_("Payee name"), max_length=60)
    payee_account = forms.RegexField(label=_("Payee account number"), regex=r"^[0-9 ]{8,40}$",
                                     max_length=40, error_messages={
                                         "invalid": _("Enter the account number in digits.")})
    payee_bank = forms.ChoiceField(label=_("Payee bank"), required=False)
    alias = forms.CharField(label=_("Your name for this payee (optional)"), max_length=30,
                            required=False)

    def __init__(self, *args, banks=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["payee_bank"].choices = [("", _("This bank (Wangyin Bank)"))] + [
            (b.code, b.name) for b in banks]


class PayeeAliasForm(forms.Form):
    alias = forms.CharField(label=_("Your name for this payee"), max_length=30, required=False)
