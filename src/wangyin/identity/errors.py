"""Identity errors. Login failures deliberately share one vague message (AU-09)."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class IdentityError(DomainError):
    code = "identity_error"


class LoginFailed(IdentityError):
    code = "login_failed"
    http_status = 401
    message = _("The login name or password is incorrect, or login is not available. "
                "Please try again or contact the bank.")


class PasskeyLoginFailed(IdentityError):
    """Every failed passkey sign-in, whatever the reason (the audit has it)."""

    code = "passkey_login_failed"
    http_status = 401
    message = _("The passkey sign-in did not succeed. Please try again, or sign in with "
                "your login name and password.")


class LoginRefused(IdentityError):
    """Risk control refused this sign-in (a blocked network, a listed device or customer)."""

    code = "login_refused"
    http_status = 403
    message = _("For your security this sign-in was not allowed. Please try again later from "
                "your usual network, or call the bank.")


class DeviceRefused(IdentityError):
    code = "device_refused"
    http_status = 403
    message = _("For your security this device cannot be used for internet banking. Please "
                "call the bank, or sign in from a device you have used before.")


class SignUpRefused(IdentityError):
    code = "signup_refused"
    http_status = 403
    message = _("Online registration could not be completed. Please register at any branch "
                "counter with your ID card.")


class LoginLocked(IdentityError):
    code = "login_locked"
    http_status = 403
    message = _("Login is locked after too many failed attempts. It unlocks tomorrow, or "
                "at any branch counter today.")


class InvalidLoginName(IdentityError):
    code = "invalid_login_name"
    message = _("The login name must be 6 to 30 letters, digits or underscores and start "
                "with a letter.")


class LoginNameTaken(IdentityError):
    code = "login_name_taken"
    http_status = 409
    message = _("This login name is already taken.")


class AlreadyEnrolled(IdentityError):
    code = "already_enrolled"
    http_status = 409
    message = _("The customer already has internet banking.")


class RiskNotAcknowledged(IdentityError):
    code = "risk_not_acknowledged"
    message = _("The customer must acknowledge the risk warning first.")


class WeakPassword(IdentityError):
    code = "weak_password"
    message = _("The password does not meet the password rules.")

    def __init__(self, problems: list[str] | None = None):
        problems = problems or []
        from wangyin.identity.passwords import MESSAGES

        super().__init__(" ".join(str(MESSAGES[p]) for p in problems) or None,
                         extra={"problems": problems})
        self.problems = problems


class PasswordReused(IdentityError):
    code = "password_reused"
    message = _("The new password must differ from the current one.")


class NotEnrolled(IdentityError):
    code = "not_enrolled"
    http_status = 404
    message = _("No active internet banking was found for this customer.")


class InvalidReservedMessage(IdentityError):
    code = "invalid_reserved_message"
    message = _("The reserved message must be 2 to 20 characters.")
