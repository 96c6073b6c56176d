"""What an in-app notice can say: each kind has a category, a title and a body template
with named parameters. The text is rendered when it is read, in the reader's language; the
parameters are checked when it is written (``check_params``): fixed names per kind (no
place for a code or a password) and no full account or phone number in any text."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext_lazy as _

from wangyin.core.money import Money, format_money
from wangyin.notify.models import Category

# Six digits in a row is a one-time code, an account, card, phone or ID number: never here.
_DIGIT_RUN = re.compile(r"\d{6,}")


@dataclass(frozen=True)
class Kind:
    category: str
    title: Any
    body: Any
    params: frozenset[str] = frozenset()


def _kind(category: str, title, body, *params: str) -> Kind:
    return Kind(category, title, body, frozenset(params))


KINDS: dict[str, Kind] = {
    # Funds (TX-09): every change of a customer's money.
    "funds.debit": _kind(
        Category.FUNDS, _("Money paid out"),
        _("%(amount)s was paid from your account ending %(tail)s to %(payee)s. "
          "Available balance: %(available)s. If this was not you, call the bank at once."),
        "tail", "amount_fen", "payee", "available_fen"),
    "funds.debit_fee": _kind(
        Category.FUNDS, _("Money paid out"),
        _("%(amount)s was paid from your account ending %(tail)s to %(payee)s, with a fee "
          "of %(fee)s. Available balance: %(available)s. If this was not you, call the bank "
          "at once."),
        "tail", "amount_fen", "fee_fen", "payee", "available_fen"),
    "funds.held": _kind(
        Category.FUNDS, _("Transfer held for review"),
        _("Your transfer of %(amount)s from the account ending %(tail)s to %(payee)s is "
          "being reviewed. The money is held meanwhile; we will tell you the outcome."),
        "tail", "amount_fen", "payee"),
    "funds.declined": _kind(
        Category.FUNDS, _("Transfer not made"),
        _("After review, your transfer of %(amount)s to %(payee)s was not made. The held "
          "money is available again in your account ending %(tail)s."),
        "tail", "amount_fen", "payee"),
    "funds.credit": _kind(
        Category.FUNDS, _("Money received"),
        _("%(amount)s was paid into your account ending %(tail)s by %(payer)s."),
        "tail", "amount_fen", "payer"),
    "funds.returned": _kind(
        Category.FUNDS, _("Transfer returned"),
        _("Your transfer of %(amount)s to %(payee)s on %(date)s could not be credited "
          "(%(reason)s). The money is back in your account ending %(tail)s."),
        "tail", "amount_fen", "payee", "date", "reason"),
    "funds.order_failed": _kind(
        Category.FUNDS, _("Scheduled transfer not made"),
        _("Your scheduled transfer of %(amount)s to %(payee)s for %(date)s was not made: "
          "%(reason)s"),
        "amount_fen", "payee", "date", "reason"),
    # Security (CS-05): sign-ins and changes to how the customer signs in and pays.
    "security.login": _kind(
        Category.SECURITY, _("Signed in"),
        _("You signed in to internet banking (%(device)s). If this was not you, change "
          "your password and call the bank at once."),
        "device"),
    "security.locked": _kind(
        Category.SECURITY, _("Login locked"),
        _("Your internet banking login was locked after too many wrong passwords. It opens "
          "again at %(until)s, or at a branch with your ID card."),
        "until"),
    "security.unlocked": _kind(
        Category.SECURITY, _("Login unlocked"),
        _("Your internet banking login was unlocked at a branch.")),
    "security.password_changed": _kind(
        Category.SECURITY, _("Password changed"),
        _("Your internet banking password was changed. If this was not you, call the bank "
          "at once.")),
    "security.password_reset": _kind(
        Category.SECURITY, _("Password reset"),
        _("Your internet banking password was reset. If this was not you, call the bank at "
          "once.")),
    "security.device_bound": _kind(
        Category.SECURITY, _("New device bound"),
        _("A new device was bound to your internet banking: %(device)s. If this was not you, "
          "call the bank at once."), "device"),
    "security.device_removed": _kind(
        Category.SECURITY, _("Device removed"),
        _("A device was removed from your internet banking: %(device)s."),
        "device"),
    "security.factor_added": _kind(
        Category.SECURITY, _("Security device added"),
        _("A new way to confirm payments was added to your internet banking: %(factor)s."),
        "factor"),
    "security.factor_removed": _kind(
        Category.SECURITY, _("Security device removed"),
        _("A way to confirm payments was removed from your internet banking: %(factor)s."),
        "factor"),
    "security.limits_changed": _kind(
        Category.SECURITY, _("Transfer limits changed"),
        _("Your own transfer limits are now %(per_transaction)s per transfer and "
          "%(per_day)s per day."),
        "per_transaction_fen", "per_day_fen"),
    "security.phone_changed": _kind(
        Category.SECURITY, _("Mobile number changed"),
        _("The bank now sends its messages to your mobile number ending %(phone_tail)s."),
        "phone_tail"),
    "security.payee_added": _kind(
        Category.SECURITY, _("Payee added"),
        _("%(payee)s (account ending %(tail)s) was added to your payee book. If this was not "
          "you, call the bank at once."),
        "payee", "tail"),
    "security.mobile_receiving": _kind(
        Category.SECURITY, _("Receiving by mobile number"),
        _("Payments to your mobile number now go to your account ending %(tail)s."),
        "tail"),
    "security.mobile_receiving_stopped": _kind(
        Category.SECURITY, _("Receiving by mobile number stopped"),
        _("Payers can no longer pay you by your mobile number.")),
    # Risk control (RK-12, TX-08, TX-13): the customer confirms a held operation; a
    # stop-payment they asked for is in force.
    "risk.confirm": _kind(
        Category.SECURITY, _("Please confirm a held transfer"),
        _("Your transfer of %(amount)s from the account ending %(tail)s to %(payee)s on "
          "%(date)s is on hold. Was it you? Answer in Security centre › Confirm held "
          "transfers, or call the bank."),
        "tail", "amount_fen", "payee", "date"),
    "risk.stop_payment": _kind(
        Category.SECURITY, _("Stop-payment in force"),
        _("At your request, payments out of your accounts ending %(tail)s are stopped. "
          "Money can still be paid in. To lift it, visit a branch with your ID card."),
        "tail"),
    # Service: the customer's internet banking itself.
    "service.opened": _kind(
        Category.SERVICE, _("Welcome to internet banking"),
        _("Your internet banking is open: %(edition)s."), "edition"),
    "service.edition_changed": _kind(
        Category.SERVICE, _("Internet banking edition changed"),
        _("Your internet banking is now: %(edition)s."), "edition"),
}

FACTORS = {
    "passkey": _("Passkey (fingerprint or face)"),
    "soft_certificate": _("Soft certificate"),
    "usb_key": _("USB-Key"),
    "token": _("Security token"),
    "ocra_token": _("Challenge-response token"),
    "card": _("Password card"),
}

EDITIONS = {
    "PUBLIC": _("Public edition (queries and own-account transfers)"),
    "PRO": _("Professional edition (all services, with security devices)"),
}


def _hide_digits(match: re.Match) -> str:
    run = match.group()
    return "*" * len(run) if len(run) < 10 else "*" * (len(run) - 4) + run[-4:]


def check_params(kind: str, params: dict[str, Any]) -> tuple[Kind, dict[str, Any]]:
    """The kind and the parameters as they may be stored. A parameter set that is not
    exactly the kind's is a programming error (raised); amounts must be integer fen under
    ``*_fen`` keys; text is cut to 200 characters and any six digits in a row in it (a
    one-time code, an account, card, phone or ID number) is starred out, keeping at most
    the last four of a long number."""
    spec = KINDS.get(kind)
    if spec is None:
        raise ValueError(f"unknown notice kind {kind!r}")
    if set(params) != spec.params:
        raise ValueError(f"notice {kind!r} takes {sorted(spec.params)}, got {sorted(params)}")
    clean: dict[str, Any] = {}
    for key, value in params.items():
        if key.endswith("_fen"):
            if type(value) is not int:
                raise ValueError(f"{key} must be integer fen")
            clean[key] = value
        elif isinstance(value, str):
            clean[key] = _DIGIT_RUN.sub(_hide_digits, value[:200])
        else:
            raise ValueError(f"{key} must be text")
    return spec, clean


def _shown(params: dict[str, Any]) -> dict[str, str]:
    shown: dict[str, str] = {}
    for key, value in params.items():
        if key.endswith("_fen"):
            shown[key[:-4]] = format_money(Money(int(value)))
        elif key == "factor":
            shown[key] = str(FACTORS.get(value, value))
        elif key == "edition":
            shown[key] = str(EDITIONS.get(value, value))
        else:
            shown[key] = str(value)
    return shown


def render_title(kind: str) -> str:
    spec = KINDS.get(kind)
    return str(spec.title) if spec else str(_("Message from the bank"))


def render_body(kind: str, params: dict[str, Any]) -> str:
    spec = KINDS.get(kind)
    if spec is None:
        return ""
    try:
        return str(spec.body) % _shown(params)
    except (KeyError, ValueError, TypeError):  # a template changed since it was written
        return str(spec.title)
