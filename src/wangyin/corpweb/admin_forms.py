"""The company administrator's forms in the corporate web bank: what is typed is checked
here for shape (amounts in yuan to exact fen, counts in range); the rules are
``corporate.operators``' and ``corporate.approvals``'."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from wangyin.core.money import Money
from wangyin.corporate.approvals import MAX_AUTHORISERS, MAX_CHECKERS, TierSpec
from wangyin.corporate.models import Role
from wangyin.corporate.operators import Scope
from wangyin.customers.models import IdType

ANY = ""  # the "any account" choice of a tier


def _yuan_field(label) -> forms.DecimalField:
    return forms.DecimalField(
        label=label, required=False, min_value=Decimal("0.01"), max_digits=14,
        decimal_places=2, widget=forms.TextInput(attrs={"inputmode": "decimal"}),
        error_messages={"min_value": _("Enter a positive amount in yuan, or leave it empty "
                                       "for no limit."),
                        "invalid": _("Enter an amount in yuan, for example 50000.00."),
                        "max_decimal_places": _("An amount has at most two decimals.")})


def fen_of(value) -> int | None:
    """Yuan as typed (a Decimal with at most two decimals) to exact fen."""
    return None if value is None else Money.from_yuan(value).fen


class ScopeFields:
    """A row of fields per linked account: may use it, and the operator's own limits."""

    def add_scope_fields(self, accounts, scopes=None) -> None:
        self.accounts = list(accounts)
        for account in self.accounts:
            current = (scopes or {}).get(account.pk)
            self.fields[f"use_{account.pk}"] = forms.BooleanField(
                label=_("May use %(number)s") % {"number": account.masked_number},
                required=False, initial=current is not None)
            self.fields[f"per_payment_{account.pk}"] = _yuan_field(_("Limit per payment (yuan)"))
            self.fields[f"per_day_{account.pk}"] = _yuan_field(_("Limit per day (yuan)"))
            if current is not None:
                for name, fen in (("per_payment", current.per_payment_fen),
                                  ("per_day", current.per_day_fen)):
                    if fen is not None:
                        self.fields[f"{name}_{account.pk}"].initial = Money(fen).to_yuan_str()

    def scope_rows(self):
        """For the template: the account, its "may use" field and its two limit fields."""
        return [{"account": a, "use": self[f"use_{a.pk}"],
                 "limits": [self[f"per_payment_{a.pk}"], self[f"per_day_{a.pk}"]]}
                for a in self.accounts]

    def scopes(self) -> list[Scope]:
        data = self.cleaned_data
        return [Scope(account_id=a.pk, per_payment_fen=fen_of(data.get(f"per_payment_{a.pk}")),
                      per_day_fen=fen_of(data.get(f"per_day_{a.pk}")))
                for a in self.accounts if data.get(f"use_{a.pk}")]


class RolesField(forms.MultipleChoiceField):
    def __init__(self, **kwargs):
        super().__init__(label=_("Roles"), choices=Role.choices, required=False,
                         widget=forms.CheckboxSelectMultiple, **kwargs)


class OperatorCreateForm(ScopeFields, forms.Form):
    name = forms.CharField(label=_("Name (as on the identity document)"), max_length=60)
    id_type = forms.ChoiceField(label=_("Identity document"), choices=IdType.choices)
    id_number = forms.CharField(label=_("Document number"), max_length=40)
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("Only for a document other than the resident identity card."))
    mobile = forms.CharField(label=_("Mobile number"), max_length=11,
                             widget=forms.TextInput(attrs={"inputmode": "numeric"}),
                             help_text=_("The number the bank holds for this person, or "
                                         "theirs if the bank does not know them yet."))
    code = forms.CharField(label=_("Operator code"), max_length=20,
                           help_text=_("2 to 20 letters, digits or underscores; typed at "
                                       "sign-in with the service number."))
    roles = RolesField()

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.add_scope_fields(accounts)

    def identity_fields(self):
        return [self[name] for name in ("name", "id_type", "id_number", "birth_date", "mobile",
                                        "code")]


class RolesForm(forms.Form):
    roles = RolesField()


class ScopesForm(ScopeFields, forms.Form):
    def __init__(self, *args, accounts=(), scopes=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_scope_fields(accounts, scopes)


class UsbKeyForm(forms.Form):
    serial = forms.RegexField(label=_("USB-Key serial number"), regex=r"^[A-Za-z0-9]{6,32}$",
                              max_length=32, help_text=_("Printed on the key."),
                              error_messages={"invalid": _("A serial number is 6 to 32 "
                                                           "letters and digits.")})


class TierForm(forms.Form):
    """One row of the approval policy table."""

    account = forms.ChoiceField(label=_("Account"), required=False)
    up_to = _yuan_field(_("Up to (yuan)"))
    checkers = forms.IntegerField(label=_("Checks"), min_value=0, max_value=MAX_CHECKERS,
                                  required=False)
    authorisers = forms.IntegerField(label=_("Authorisations"), min_value=1,
                                     max_value=MAX_AUTHORISERS, required=False)
    remove = forms.BooleanField(label=_("Remove this row"), required=False)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [(ANY, _("Any account"))] + [
            (str(a.pk), a.masked_number) for a in accounts]
        self.fields["up_to"].help_text = _("Empty: any amount.")

    def is_blank(self) -> bool:
        data = self.cleaned_data
        return data.get("remove") or (data.get("up_to") is None and data.get("checkers") is None
                                      and data.get("authorisers") is None
                                      and not data.get("account"))

    def clean(self):
        data = super().clean()
        if not self.is_blank() and data.get("authorisers") is None and "authorisers" \
                not in self.errors:
            self.add_error("authorisers", _("Give the number of authorisations (1 to 5)."))
        return data

    def tier(self) -> TierSpec:
        data = self.cleaned_data
        return TierSpec(account_id=int(data["account"]) if data.get("account") else None,
                        up_to_fen=fen_of(data.get("up_to")), checkers=data.get("checkers") or 0,
                        authorisers=data["authorisers"])


class BaseTierFormSet(forms.BaseFormSet):
    def __init__(self, *args, accounts=(), **kwargs):
        self.accounts = accounts
        super().__init__(*args, **kwargs)

    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "accounts": self.accounts}

    def tiers(self) -> list[TierSpec]:
        return [form.tier() for form in self.forms if not form.is_blank()]


TierFormSet = forms.formset_factory(TierForm, formset=BaseTierFormSet, extra=0,
                                    max_num=20, validate_max=True, absolute_max=40)
