"""Amounts in Chinese capitals (大写金额) by the PBOC's rules for payment instruments."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wangyin.core.money import Money
from wangyin.core.money_words import DIGITS, MAX_YUAN, amount_in_words


@pytest.mark.parametrize(("yuan", "words"), [
    # the examples of the rules (正确填写票据和结算凭证的基本规定), in our one form
    ("1409.50", "壹仟肆佰零玖元伍角整"),
    ("6007.14", "陆仟零柒元壹角肆分"),
    ("1680.32", "壹仟陆佰捌拾元叁角贰分"),
    ("107000.53", "壹拾万零柒仟元伍角叁分"),
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),
    ("325.04", "叁佰贰拾伍元零肆分"),
    # round amounts, small amounts, zero
    ("0.00", "零元整"),
    ("0.05", "伍分"),
    ("0.50", "伍角整"),
    ("0.55", "伍角伍分"),
    ("1.00", "壹元整"),
    ("10.00", "壹拾元整"),
    ("15.00", "壹拾伍元整"),
    ("1000.00", "壹仟元整"),
    ("1234.56", "壹仟贰佰叁拾肆元伍角陆分"),
    ("10100.00", "壹万零壹佰元整"),
    ("20000.10", "贰万元壹角整"),
    ("100000.00", "壹拾万元整"),
    ("1000100.00", "壹佰万零壹佰元整"),
    # a skipped 万 group keeps its 零: 壹亿壹仟 would read as 1.1 亿
    ("100001000.00", "壹亿零壹仟元整"),
    ("100000000.01", "壹亿元零壹分"),
    ("100100000.00", "壹亿零壹拾万元整"),
    ("999999999999.99", "玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分"),
])
def test_examples(yuan, words):
    assert amount_in_words(Money.from_yuan(yuan)) == words


def test_refuses_negative_and_too_large_amounts():
    with pytest.raises(ValueError):
        amount_in_words(Money(-1))
    with pytest.raises(ValueError):
        amount_in_words(Money((MAX_YUAN + 1) * 100))


_UNITS = {"拾": 10, "佰": 100, "仟": 1000}


def _read(words: str) -> int:
    """Read capitals back into fen (the test's own reader, the other way round)."""
    yuan_part, cents = words.split("元") if "元" in words else ("", words)
    total = group = digit = 0
    for char in yuan_part:
        if char in DIGITS:
            digit = DIGITS.index(char)
        elif char in _UNITS:
            group, digit = group + digit * _UNITS[char], 0
        elif char == "万":
            group, digit = (group + digit) * 10_000, 0
        elif char == "亿":
            total, group, digit = (total + group + digit) * 100_000_000, 0, 0
    fen = (total + group + digit) * 100
    cents = cents.removesuffix("整").removeprefix("零")
    for number, unit in zip(cents[::2], cents[1::2], strict=True):
        fen += DIGITS.index(number) * {"角": 10, "分": 1}[unit]
    return fen


@given(st.integers(min_value=0, max_value=MAX_YUAN * 100 + 99))
def test_every_amount_reads_back_to_itself(fen):
    words = amount_in_words(Money(fen))
    assert _read(words) == fen
    assert "零零" not in words
    assert words == "零元整" or not words.startswith("零") and "零元" not in words
    assert words.endswith(("整", "分"))
