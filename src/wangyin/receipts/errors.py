from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class ReceiptNotAvailable(DomainError):
    """No receipt can be given for this: the event is not the customer's (it looks like
    none) or its money has not moved."""

    code = "receipt_not_available"
    http_status = 404
    message = _("There is no electronic receipt for this transaction. A receipt is issued "
                "once the money has moved.")
