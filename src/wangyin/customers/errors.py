"""Customer and account-opening errors, each with a stable code."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class CustomerError(DomainError):
    code = "customer_error"


class InvalidIdNumber(CustomerError):
    code = "invalid_id_number"
    message = _("The identity document number is not valid.")


class BirthDateMismatch(CustomerError):
    code = "birth_date_mismatch"
    message = _("The birth date does not match the identity card number.")


class InvalidPhone(CustomerError):
    code = "invalid_phone"
    message = _("The mobile phone number is not valid.")


class InvalidCreditCode(CustomerError):
    code = "invalid_credit_code"
    message = _("The unified social credit code is not valid.")


class InvalidName(CustomerError):
    code = "invalid_name"
    message = _("The name is missing or too long.")


class PartyExists(CustomerError):
    code = "party_exists"
    http_status = 409
    message = _("A customer with this identity document already exists.")


class PartyNotFound(CustomerError):
    code = "party_not_found"
    http_status = 404
    message = _("The customer does not exist.")


class ProductNotAllowed(CustomerError):
    code = "product_not_allowed"
    message = _("This kind of account cannot be opened for this customer.")


class FaceToFaceRequired(CustomerError):
    code = "face_to_face_required"
    message = _("A Class I account can only be opened after identity is verified in person.")


class AccountLimitReached(CustomerError):
    code = "account_limit_reached"
    http_status = 409
    message = _("The customer already holds the maximum number of accounts of this kind.")


class BasicAccountRequired(CustomerError):
    code = "basic_account_required"
    message = _("The company needs a basic deposit account first.")


class InvalidExpiry(CustomerError):
    code = "invalid_expiry"
    message = _("A temporary account needs an expiry date within two years; others none.")
