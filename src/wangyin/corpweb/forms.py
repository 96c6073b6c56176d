"""Corporate web forms: what an operator types, checked for shape only; the rules are
``wangyin.corporate.approvals``'."""

from __future__ import annotations

import functools
import secrets

from django import forms
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext_lazy as _

from wangyin.core.money import Money, format_money
from wangyin.corporate.models import InstructionStatus
from wangyin.web.forms import TransferForm

REASON_MAX = 200


def new_key() -> str:
    """The idempotency key of one rendering of the entry form: a double submit of that
    form enters one instruction."""
    return secrets.token_urlsafe(18)


def _bank_choices(banks) -> list[tuple[str, str]]:
    return [("", _("This bank (Wangyin Bank)"))] + [(b.code, b.name) for b in banks]


class PaymentForm(forms.Form):
    """A payment as the entering operator types it."""

    debit_account = forms.TypedChoiceField(label=_("Pay from"), coerce=int)
    payee_account = forms.RegexField(
        label=_("Payee account number"),
        regex=r"^[0-9 ]{8,40}$",
        max_length=40,
        error_messages={
            "invalid": _("Enter the account number in digits."),
            "required": _("Enter the payee's account number."),
        },
    )
    payee_name = forms.CharField(
        label=_("Payee name"),
        max_length=60,
        error_messages={"required": _("Enter the payee's name as their bank knows it.")},
    )
    payee_bank = forms.ChoiceField(
        label=_("Payee bank"),
        required=False,
        help_text=_("Leave it at this bank for our own customers."),
    )
    # The personal transfer form's amount: yuan with at most two decimals, parsed exactly.
    amount = TransferForm.base_fields["amount"]
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=60,
        error_messages={"required": _("Enter what the payment is for (up to 60 characters).")},
        help_text=_("For example: goods, services, rent, salary. The approvers see it."),
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, accounts=(), banks=(), **kwargs):
        """``accounts``: (account, available Money) of the operator's scope; ``banks``: a
        function that reads the bank directory (only when the list is shown)."""
        super().__init__(*args, **kwargs)
        self.fields["debit_account"].choices = [
            (
                a.pk,
                _("%(product)s %(number)s (available %(available)s)")
                % {
                    "product": a.get_product_display(),
                    "number": a.masked_number,
                    "available": format_money(available),
                },
            )
            for a, available in accounts
        ]
        self.fields["payee_bank"].choices = functools.cache(lambda: _bank_choices(banks()))

    def order(self) -> dict:
        """The cleaned form as ``approvals.instruction_enter``'s keywords."""
        data = self.cleaned_data
        return {
            "debit_account_id": data["debit_account"],
            "payee_account": "".join(data["payee_account"].split()),
            "payee_name": data["payee_name"].strip(),
            "payee_bank_code": data["payee_bank"],
            "amount_fen": Money.from_yuan(data["amount"]).fen,
            "purpose": data["purpose"].strip(),
        }


class ReasonForm(forms.Form):
    """Why an instruction is rejected or cancelled."""

    reason = forms.CharField(
        label=_("Reason"),
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 3}),
        error_messages={"required": _("Give the reason (up to 200 characters).")},
    )


STATUS_CHOICES = [("", _("All statuses")), *InstructionStatus.choices]


class InstructionFilterForm(forms.Form):
    """The filters of an instruction list."""

    status = forms.ChoiceField(label=_("Status"), required=False, choices=STATUS_CHOICES)
    account = forms.TypedChoiceField(
        label=_("Account"), required=False, coerce=int, empty_value=None
    )
    payee = forms.CharField(label=_("Payee name or account"), required=False, max_length=40)

    def __init__(self, *args, accounts=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].choices = [("", _("All accounts"))] + [
            (a.pk, f"{a.get_product_display()} {a.masked_number}") for a in accounts
        ]


class BatchUploadForm(forms.Form):
    """A batch payment file as the entering operator uploads it; the rows are checked by
    ``corporate.batches``, the file's size here (``max_bytes``)."""

    debit_account = forms.TypedChoiceField(label=_("Pay from"), coerce=int)
    purpose = forms.CharField(
        label=_("Purpose"),
        max_length=60,
        error_messages={"required": _("Enter what the batch is for (up to 60 characters).")},
        help_text=_("For example: salaries for March. The approvers see it."),
    )
    file = forms.FileField(
        label=_("File (CSV or Excel)"),
        error_messages={
            "required": _("Choose the file to upload."),
            "empty": _("The file is empty."),
        },
    )
    idempotency_key = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, accounts=(), max_bytes: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.fields["file"].widget.attrs["accept"] = (
            ".csv,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        self.fields["file"].help_text = _(
            "Use the template: one payee per row. At most %(size)s."
        ) % {"size": filesizeformat(max_bytes)}
        self.fields["debit_account"].choices = (
            PaymentForm(accounts=accounts).fields["debit_account"].choices
        )

    def clean_file(self) -> tuple[str, bytes]:
        """The file's name and content, refused when it is larger than the limit."""
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(file_too_large(self.max_bytes))
        return upload.name, upload.read(self.max_bytes + 1)


def file_too_large(max_bytes: int) -> str:
    return _("The file is larger than %(size)s. Split it into several batches.") % {
        "size": filesizeformat(max_bytes)
    }
