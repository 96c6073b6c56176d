"""Template filters shared by the channels: money and masking go through core only."""

from django import template

from wangyin.core import masking
from wangyin.core.money import Money, format_money

register = template.Library()


@register.filter
def money(value: Money) -> str:
    return format_money(value)


@register.filter
def fen(value: int) -> str:
    """An integer amount in fen, as people read it."""
    return format_money(Money(int(value)))


@register.filter
def mask_phone(value: str) -> str:
    return masking.mask_phone(value)
