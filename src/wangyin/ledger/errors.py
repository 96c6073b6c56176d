"""Ledger errors, each with a stable code."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError
from wangyin.core.money import CurrencyMismatch, InvalidAmount

__all__ = [
    "AccountClosed", "AccountFrozen", "AccountNotEmpty", "AccountNotFound", "CurrencyMismatch",
    "DuplicateAccountNumber", "HoldNotPending", "IdempotencyKeyReused", "InsufficientFunds",
    "InvalidAmount", "LedgerError", "UnbalancedJournal",
]


class LedgerError(DomainError):
    code = "ledger_error"


class InsufficientFunds(LedgerError):
    code = "insufficient_funds"
    message = _("The available balance is not sufficient.")


class AccountFrozen(LedgerError):
    code = "account_frozen"
    message = _("The account is frozen and cannot be debited.")


class AccountClosed(LedgerError):
    code = "account_closed"
    message = _("The account is closed.")


class AccountNotFound(LedgerError):
    code = "account_not_found"
    http_status = 404
    message = _("The account does not exist.")


class AccountNotEmpty(LedgerError):
    code = "account_not_empty"
    message = _("The account still has a balance or held funds and cannot be closed.")


class DuplicateAccountNumber(LedgerError):
    code = "duplicate_account_number"
    message = _("An account with this number already exists.")


class UnbalancedJournal(LedgerError):
    code = "unbalanced_journal"
    message = _("The entries of this transaction do not balance.")


class IdempotencyKeyReused(LedgerError):
    code = "idempotency_key_reused"
    http_status = 409
    message = _("This request reference was already used for a different request.")


class HoldNotPending(LedgerError):
    code = "hold_not_pending"
    http_status = 409
    message = _("The reserved amount has already been settled or released.")
