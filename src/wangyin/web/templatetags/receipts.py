"""Template filters for electronic receipts: whether a transfer has one to download."""

from django import template

from wangyin.payments import receipts

register = template.Library()


@register.filter
def receipt_available(transfer) -> bool:
    return receipts.receipt_available(transfer)
