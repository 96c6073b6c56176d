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


class PayeeBlocked(PaymentError):
    code = "payee_blocked"
    http_status = 403
    message = _("For your safety this payee cannot be added. Please call the bank's service "
                "line if you need help.")


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


class PayeeExists(PaymentError):
    code = "payee_exists"
    message = _("This account is already in your payee book.")


class PayeeBookFull(PaymentError):
    code = "payee_book_full"
    message = _("Your payee book is full. Delete payees you no longer pay, then add this one.")


class PayeeIsOwnAccount(PaymentError):
    code = "payee_is_own_account"
    message = _("This is one of your own accounts: it is always listed when you transfer, "
                "no need to add it.")


class PayeeUnknown(PaymentError):
    """Another customer's payee book entry looks like none."""

    code = "payee_unknown"
    http_status = 404
    message = _("This payee is not in your payee book.")


class MobileNotRegistered(PaymentError):
    code = "mobile_not_registered"
    message = _("This mobile number is not registered for receiving transfers at this bank. "
                "Ask the payee for their account number.")


class MobileLookupsExceeded(PaymentError):
    code = "mobile_lookups_exceeded"
    http_status = 429
    message = _("Too many mobile numbers looked up. Try again in an hour, or pay to an "
                "account number.")


class MobileTaken(PaymentError):
    code = "mobile_taken"
    message = _("This mobile number is already registered for receiving by another customer. "
                "Please ask at a branch counter.")


class MobileAccountUnusable(PaymentError):
    code = "mobile_account_unusable"
    message = _("Choose one of your open accounts to receive into.")


class MobileNotScheduled(PaymentError):
    code = "mobile_not_scheduled"
    message = _("Transfers to a mobile number are made now. For a scheduled transfer, enter "
                "the payee's account number.")


class TransferNotHeld(PaymentError):
    """Staff decided a transfer that is not (or no longer) waiting for review."""

    code = "transfer_not_held"
    message = _("This transfer is not waiting for review.")
