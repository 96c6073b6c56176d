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


class EditionForm(ReasonForm):
    edition = forms.ChoiceField(label=_("Edition"), choices=Edition.choices)
    risk_acknowledged = forms.BooleanField(
        label=_("For the professional edition: the customer has read and acknowledged the "
                "risk warning"), required=False)


TOKEN_KINDS = [("TOTP", _("OTP token")), ("OCRA", _("Challenge-response token"))]


class TokenKindForm(ReasonForm):
    kind = forms.ChoiceField(choices=TOKEN_KINDS, widget=forms.HiddenInput)


class TokenForm(ReasonForm):
    kind = forms.ChoiceField(label=_("Token type"), choices=TOKEN_KINDS)
    serial = forms.RegexField(label=_("Token serial number"), regex=r"^[A-Za-z0-9]{6,20}$",
                              max_length=20)
    seed = forms.CharField(label=_("Token seed (Base32, from the token supplier's file)"),
                           max_length=128, widget=forms.PasswordInput(render_value=False))
    field_order = ["kind", "serial", "seed", "reason"]


class UsbKeyForm(ReasonForm):
    serial = forms.RegexField(label=_("USB-Key serial number (printed on the key)"),
                              regex=r"^[A-Za-z0-9]{8,32}$", max_length=32)
    field_order = ["serial", "reason"]


class UsbKeyEndForm(ReasonForm):
    lost = forms.BooleanField(label=_("The customer reports the key lost"), required=False)


ROLE_CHOICES = [("teller", _("Teller")), ("security_admin", _("Security administrator")),
                ("auditor", _("Auditor")), ("risk_officer", _("Risk officer (branch)")),
                ("risk_manager", _("Risk manager (head office)"))]


class StaffEnrolForm(ReasonForm):
    username = forms.CharField(label=_("Staff ID"), max_length=30)
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)
    field_order = ["username", "role", "reason"]


class StaffRoleForm(ReasonForm):
    role = forms.ChoiceField(label=_("Role"), choices=ROLE_CHOICES)


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("Actor"), max_length=80, required=False)
    action = forms.CharField(label=_("Action starts with"), max_length=80, required=False)
    target = forms.CharField(label=_("Target"), max_length=120, required=False)
    since = forms.DateField(label=_("From"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False,
                            widget=forms.DateInput(attrs={"type": "date"}))
    before = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)


class MediumLimitForm(ReasonForm):
    medium = forms.CharField(widget=forms.HiddenInput, max_length=8)
    per_transaction = forms.DecimalField(label=_("Per payment (yuan)"), min_value=0.01,
                                         max_digits=12, decimal_places=2)
    per_day = forms.DecimalField(label=_("Per day (yuan)"), min_value=0.01, max_digits=12,
                                 decimal_places=2)
    per_day_count = forms.IntegerField(label=_("Payments per day"), min_value=1,
                                       max_value=10_000)
    field_order = ["medium", "per_transaction", "per_day", "per_day_count", "reason"]


class PhoneChangeForm(ReasonForm):
    phone = forms.CharField(label=_("New reserved mobile number (the customer's ID checked)"),
                            max_length=20)
    field_order = ["phone", "reason"]
