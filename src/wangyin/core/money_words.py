"""Amounts in Chinese capital numerals (大写金额), as receipts, drafts and contracts print them.

The rules are the PBOC's for filling in payment instruments (正确填写票据和结算凭证的基本规定):
the capitals 壹贰叁肆伍陆柒捌玖 with 拾佰仟万亿; "整" after 元 when there are no 角 or 分;
"零" where digits are skipped, and "元零X分" when 角 is zero but 分 is not.

Where the rules let a 零 be left out inside the yuan (a zero 万 digit before a non-zero
仟), we always write it: ``107000.53`` is 壹拾万零柒仟元伍角叁分, and 100 001 000 yuan is
壹亿零壹仟元整, never 壹亿壹仟元 (which reads as 1.1 亿). We also close an amount that ends
in 角 with "整" (the rules make it optional), so nothing can be appended. Hence our own few
lines rather than a general numeral library: cn2an, the maintained one, elides that 零
and brings a text-preprocessing pipeline into the import.
"""

from __future__ import annotations

from wangyin.core.money import Money

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_IN_GROUP = ("", "拾", "佰", "仟")  # positions inside a group of four digits
_GROUPS = ("", "万", "亿")
MAX_YUAN = 10 ** 12 - 1  # 9999 亿: beyond this the groups nest (万亿), never needed here


def _yuan_in_words(yuan: int) -> str:
    text = str(yuan)
    out: list[str] = []
    skipped = False  # zeros seen since the last digit written
    for i, char in enumerate(text):
        place = len(text) - 1 - i
        digit = int(char)
        if digit:
            if skipped and out:
                out.append("零")
            skipped = False
            out.append(DIGITS[digit] + _IN_GROUP[place % 4])
        else:
            skipped = True
        if place % 4 == 0 and place and int(text[max(0, i - 3):i + 1]):
            out.append(_GROUPS[place // 4])  # the group's name, unless all four are zero
    return "".join(out)


def amount_in_words(money: Money) -> str:
    """``Money(123456)`` -> ``"壹仟贰佰叁拾肆元伍角陆分"``; zero is ``"零元整"``. Negative
    amounts are refused: a receipt states the size of a movement, its direction in words."""
    if money.fen < 0:
        raise ValueError("amounts in words are for non-negative amounts")
    yuan, cents = divmod(money.fen, 100)
    if yuan > MAX_YUAN:
        raise ValueError("amount too large to write in words")
    jiao, fen = divmod(cents, 10)
    whole = _yuan_in_words(yuan)
    if not cents:
        return (whole or "零") + "元整"
    head = whole + "元" if whole else ""
    if not jiao:
        return head + ("零" if head else "") + DIGITS[fen] + "分"
    return head + DIGITS[jiao] + "角" + (DIGITS[fen] + "分" if fen else "整")
