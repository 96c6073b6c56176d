from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class ChallengeFailed(DomainError):
    code = "challenge_failed"
    message = _("The verification code is wrong or has expired. Request a new one.")


class TooManyCodes(DomainError):
    code = "too_many_codes"
    http_status = 429
    message = _("Too many codes were requested. Please wait a few minutes.")
