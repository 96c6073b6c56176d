"""Back-office forms: every field validated on the server."""

from django import forms
from django.utils.translation import gettext_lazy as _

from wangyin.identity.models import Edition


class StaffLoginForm(forms.Form):
    username = forms.CharField(label=_("Staff ID"), max_length=150)
    password = forms.CharField(label=_("Password"), max_length=128,
                               widget=forms.PasswordInput(render_value=False))


class OtpForm(forms.Form):
    token = forms.RegexField(label=_("Code from the authenticator app"), regex=r"^\d{6}$",
                             max_length=6, error_messages={"invalid": _("Enter 6 digits.")})


class CustomerSearchForm(forms.Form):
    q = forms.CharField(label=_("ID number, mobile number or login name"), max_length=40)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason (recorded in the audit trail)"), max_length=200)


class OpenBankingForm(ReasonForm):
    login_name = forms.CharField(label=_("Login name chosen by the customer"), max_length=30)
    edition = forms.ChoiceField(label=_("Edition"), choices=Edition.choices)
    risk_acknowledged = forms.BooleanField(
        label=_("The customer has read and acknowledged the risk warning"), required=True)
