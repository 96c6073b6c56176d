"""Customer-site forms: server-side validation of everything a customer submits."""

from datetime import timedelta

from django import forms
from django.utils.translation import gettext_lazy as _


def form_errors_text(form) -> str:
    """A form's errors as one sentence, for a notice shown after a redirect."""
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


class StatementFilterForm(forms.Form):
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        since, until = data.get("since"), data.get("until")
        if since and until:
            if until < since:
                raise forms.ValidationError(_("The end date is before the start date."))
            if until - since > timedelta(days=366):
                raise forms.ValidationError(_("Choose a period of at most one year."))
        return data


class ReservedMessageForm(forms.Form):
    reserved_message = forms.CharField(label=_("New reserved message"), min_length=2,
                                       max_length=20)


class OwnLimitsForm(forms.Form):
    per_transaction = forms.DecimalField(label=_("Limit per payment (yuan)"), min_value=0.01,
                                         max_digits=12, decimal_places=2)
    per_day = forms.DecimalField(label=_("Limit per day (yuan)"), min_value=0.01,
                                 max_digits=12, decimal_places=2)


class TransferForm(forms.Form):
    """A transfer as the customer types it; the payments service checks the rest."""

    debit_account = forms.TypedChoiceField(label=_("Pay from"), coerce=int)
    payee_account = forms.RegexField(label=_("Payee account number"), regex=r"^[0-9 ]{8,40}$",
                                     max_length=40, error_messages={
                                         "invalid": _("Enter the account number in digits.")})
    payee_name = forms.CharField(label=_("Payee name"), max_length=60, required=False,
                                 help_text=_("Not needed between your own accounts."))
    amount = forms.DecimalField(label=_("Amount (yuan)"), min_value=0.01,
                                max_value=100_000_000, max_digits=11, decimal_places=2)
    memo = forms.CharField(label=_("Note for the payee"), max_length=30, required=False)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["debit_account"].choices = [
            (a.pk, f"{a.get_product_display()} {a.masked_number}") for a in accounts]
