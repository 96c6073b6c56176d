from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class ChallengeFailed(DomainError):
    code = "challenge_failed"
    message = _("The verification code is wrong or has expired. Request a new one.")


class FaceNotRecognised(DomainError):
    """The other codes were right; the face was not accepted (not the ID photo's, not live,
    or the provider did not answer). The audit says which."""

    code = "face_not_recognised"
    http_status = 400
    message = _("Your face could not be matched with your ID card's photo. Face the camera "
                "in good light and try again, or visit a branch counter.")


class PasskeyRefused(DomainError):
    """A passkey assertion that does not prove anything: an unknown or removed credential,
    a missing or stale challenge, another person's user handle, a bad signature, no user
    verification, or a counter that went backwards. ``why`` is for the audit only;
    ``passkey`` is None when no passkey ever had the credential id. Customers see the
    caller's vague message (identity.errors.PasskeyLoginFailed), never this detail."""

    code = "passkey_refused"
    http_status = 401
    message = _("The passkey was not accepted.")

    def __init__(self, *, why: str = "", passkey=None):
        super().__init__(extra={"why": why, "passkey": passkey.pk if passkey else None})
        self.why, self.passkey = why, passkey


class TooManyCodes(DomainError):
    code = "too_many_codes"
    http_status = 429
    message = _("Too many codes were requested. Please wait a few minutes.")


class NotAuthorised(DomainError):
    """No usable authorisation: never verified, already used, expired or for another
    purpose or person."""

    code = "not_authorised"
    http_status = 403
    message = _("This confirmation is no longer valid. Nothing was changed; please start "
                "again.")


class DigestMismatch(DomainError):
    """What is about to execute differs from what the customer confirmed (TX-06)."""

    code = "digest_mismatch"
    http_status = 409
    message = _("The details changed after you confirmed them. Nothing was done; please "
                "start again.")


class NoSecondFactor(DomainError):
    code = "no_second_factor"
    http_status = 403
    message = _("This needs a security device (such as an OTP token) in addition to the SMS "
                "code, and you do not have one. Please visit a branch counter with your ID.")


class TokenLocked(DomainError):
    code = "token_locked"
    http_status = 403
    message = _("Your OTP token is locked after too many wrong codes. Please visit a branch "
                "counter with your ID and the token.")


class InvalidToken(DomainError):
    code = "invalid_token"
    message = _("The token serial or seed is not valid.")


class TokenAlreadyIssued(DomainError):
    code = "token_already_issued"
    message = _("This customer already holds a token, or the serial is in use. Revoke the "
                "old token first.")


class NoToken(DomainError):
    code = "no_token"
    http_status = 404
    message = _("This customer holds no token.")


class CardUnusable(DomainError):
    code = "card_unusable"
    http_status = 403
    message = _("Your password card is locked, expired or used up. Please visit a branch "
                "counter with your ID for a new one.")


class UsbKeyUnusable(DomainError):
    code = "usb_key_unusable"
    message = _("The USB-Key serial is not valid, is already bound, or this customer "
                "already holds a USB-Key. Return the old key first.")


class NoUsbKey(DomainError):
    code = "no_usb_key"
    http_status = 404
    message = _("This customer holds no USB-Key.")


class EnrolmentFailed(DomainError):
    """Wrong, expired or used certificate codes, or a request that does not fit."""

    code = "enrolment_failed"
    http_status = 403
    message = _("The certificate could not be issued: the reference code or authorisation "
                "code is wrong or has expired, or the security device does not match. "
                "Check the codes; if they have expired, ask a branch counter for new ones.")


class NoCertificate(DomainError):
    code = "no_certificate"
    http_status = 403
    message = _("You have no valid certificate for this. Download one in the security "
                "centre, or visit a branch counter.")
