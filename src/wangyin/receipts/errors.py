from django.utils.translation import gettext_lazy as _

from wangyin.core.errors import DomainError


class ReceiptNotAvailable(DomainError):
    """No receipt can be given for this: the event is not the customer's (it looks like
    none) or its money has not moved."""

    code = "receipt_not_available"
    http_status = 404
    message = _("There is no electronic receipt for this transaction. A receipt is issued "
                "once the money has moved.")


class TooManyReceipts(DomainError):
    """More receipts than one download holds: the customer chooses a shorter period."""

    code = "receipts_too_many"
    message = _("There are more receipts in this period than one download can hold "
                "(%(count)s at most). Choose a shorter period.")

    def __init__(self, *, limit: int, extra: dict | None = None) -> None:
        super().__init__(self.message % {"count": f"{limit:,}"}, extra=extra)


class NoReceipts(DomainError):
    code = "receipts_none"
    http_status = 404
    message = _("There are no electronic receipts for the movements of this period.")
