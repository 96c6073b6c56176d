"""What corporate banking refuses, in words the company's operators and the bank's staff can
act on. Sections per module (counter, operators, sign-in, approvals): add yours under your
module's heading."""

from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class CorporateError(DomainError):
    code = "corporate_error"
    message = _("The corporate banking request could not be completed.")


# --- the counter (corporate.counter) -----------------------------------------------------


# --- operators (corporate.operators) -----------------------------------------------------


# --- sign-in (corporate.signin) ----------------------------------------------------------


# --- approvals (corporate.approvals) -----------------------------------------------------
