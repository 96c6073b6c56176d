from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class PaymentError(DomainError):
    code = "payment"


class NotYourAccount(PaymentError):
    """The debit account is not the signed-in customer's (TX-07): it looks like no account."""

    code = "not_your_account"
    http_status = 404
    message = _("Choose one of your own accounts to pay from.")


class PayeeNotFound(PaymentError):
    code = "payee_not_found"
    message = _("There is no account with this number at this bank. Check the number.")


class UnknownBank(PaymentError):
    code = "unknown_bank"
    message = _("Choose the payee's bank from the list.")


class PayeeAccountInvalid(PaymentError):
    code = "payee_account_invalid"
    message = _("Enter the payee's account number: 8 to 32 digits.")


class PayeeNameRequired(PaymentError):
    code = "payee_name_required"
    message = _("Enter the payee's name as their bank knows it.")


class PayeeNameMismatch(PaymentError):
    code = "payee_name_mismatch"
    message = _("The payee's name does not match the account. Check the name with the payee.")


class PayeeAccountClosed(PaymentError):
    code = "payee_account_closed"
    message = _("The payee's account is closed and cannot receive money.")


class SameAccount(PaymentError):
    code = "same_account"
    message = _("The payee's account is the account you pay from.")


class AccountCannotPay(PaymentError):
    code = "account_cannot_pay"
    http_status = 403
    message = _("This account cannot make payments (it is frozen or closed). Please contact "
                "the bank.")


class AccountClassLimit(PaymentError):
    code = "account_class_limit"
    http_status = 403


class PaymentBlocked(PaymentError):
    code = "payment_blocked"
    http_status = 403
    message = _("For your safety this payment was stopped. Please call the bank's service "
                "line if you need help.")


class InstructionChanged(PaymentError):
    """The same confirmation (idempotency key) arrived with other payment details."""

    code = "instruction_changed"
    http_status = 409
    message = _("This confirmation belongs to another payment. Please start again.")


class ScheduleInvalid(PaymentError):
    code = "schedule_invalid"
    message = _("Check the dates of the scheduled transfer.")


class OrderNotFound(PaymentError):
    """Not one of the customer's scheduled transfers: it looks like none."""

    code = "order_not_found"
    http_status = 404
    message = _("There is no such scheduled transfer.")
