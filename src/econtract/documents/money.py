"""Amounts of money written in Chinese capital figures (大写金额), one fixed convention.

The convention is the People's Bank's: 《支付结算办法》 (银发〔1997〕393号), annex
《正确填写票据和结算凭证的基本规定》, the rules banks apply to bills and settlement vouchers.

- Digits 零壹贰叁肆伍陆柒捌玖, units 拾佰仟 within a group of four, 万 and 亿 (10^8) between groups,
  元角分 for the currency. Amounts below 10^16 are written (the highest group is 万亿).
- 整 (the rules allow 整 or 正; we always write 整): "到'元'为止的，在'元'之后，应写'整'字，在'角'之后，
  可以不写'整'字；大写金额数字有'分'的，'分'后面不写'整'字". We write 整 after 元 and after 角 when
  nothing follows (10010.10 → 壹万零壹拾元零壹角整), never after 分.
- 零: the rules require or allow one 零 where the figures have 0; we write it wherever it is allowed:
  "数字中间有'0'时…要写'零'字" and "中间连续有几个'0'时…可以只写一个'零'字": a run of zeros inside
  the integer part gives one 零, also across 万/亿 (100010000 → 壹亿零壹万元整; 107000 → 壹拾万零柒仟元整,
  the rules' own example allows 零 there); trailing zeros of the integer part give none
  (1000000 → 壹佰万元整). "万位或元位是'0'…但千位、角位不是'0'时…可以只写一个零字，也可以不写":
  we write it (1680.32 → 壹仟陆佰捌拾元零叁角贰分). "角位是'0'，而分位不是'0'时…'元'后面应写'零'字"
  (100.05 → 壹佰元零伍分). A single 零 stands for the whole run, so two 零 never follow each other.
- 壹拾: the 壹 before 拾 is always written (10 → 壹拾元整), as in the rules' example
  "¥107,000.53 应写成人民币壹拾万柒仟元零伍角叁分"; a leading 拾 could be altered into 贰拾 etc.

Cases the rules leave open, decided here:
- 0 → 零元整 (the only place a leading 零 is written);
- no integer part: 0.5 → 伍角整, 0.05 → 伍分, 0.55 → 伍角伍分 (no "零元", no leading 零);
- negative amounts, non-finite ones and amounts from 10^16 up are refused (ValueError); -0 is 0;
- more than two decimals are refused unless the extra digits are zeros (12.340 is 12.34);
- input is a Decimal, an int or a str of a plain decimal ("1234", "1234.5"; no sign, exponent,
  separators or spaces); a float is refused (TypeError) because it is not exact, as is a bool.
"""

from __future__ import annotations

from decimal import Context, Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_SMALL_UNITS = ("", "拾", "佰", "仟")
# Group marks by the position (power of ten) of the group's lowest digit.
_GROUP_MARKS = {4: "万", 8: "亿", 12: "万"}
LIMIT = 10**16
_ASCII_DIGITS = frozenset("0123456789")
_CENT = Decimal("0.01")


def parse_amount(amount: Decimal | str | int) -> Decimal:
    """``amount`` as a Decimal with exactly two decimals, or ValueError/TypeError (see module doc)."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | str | int):
        raise TypeError(f"an amount must be a Decimal, an int or a str, not {type(amount).__name__}")
    if isinstance(amount, str):
        value = _parse_plain_decimal(amount)
    elif isinstance(amount, int):
        value = Decimal(amount)
    else:
        value = amount
    if not value.is_finite():
        raise ValueError("the amount must be a finite number")
    if value < 0:
        raise ValueError("the amount must not be negative")
    if value >= LIMIT:
        raise ValueError("the amount must be less than 10^16 (万亿 is the highest unit)")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # finite, checked above
    if exponent < -2:
        extra = -2 - exponent  # digits below 分: all must be zeros
        if any(value.as_tuple().digits[-extra:]):
            raise ValueError("the amount must have at most two decimals (分 is the smallest unit)")
    # exact: at most 16 + 2 digits, far below the precision
    return value.quantize(_CENT, context=Context(prec=40)).copy_abs()  # copy_abs: -0 is 0


def _parse_plain_decimal(text: str) -> Decimal:
    whole, dot, fraction = text.partition(".")
    if (
        not whole
        or (dot and not fraction)
        or not set(whole) <= _ASCII_DIGITS
        or not set(fraction) <= _ASCII_DIGITS
    ):
        raise ValueError(f"not a plain decimal amount: {text[:40]!r}")
    return Decimal(text)


def capital_amount(amount: Decimal | str | int) -> str:
    """The amount in capital figures, e.g. ``Decimal("1680.32")`` → 壹仟陆佰捌拾元零叁角贰分."""
    cents = int(parse_amount(amount) * 100)
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    if yuan == 0:
        if jiao == 0 and fen == 0:
            return "零元整"
        if jiao == 0:
            return DIGITS[fen] + "分"
        return DIGITS[jiao] + "角" + (DIGITS[fen] + "分" if fen else "整")
    text = _integer_figures(yuan) + "元"
    if jiao == 0 and fen == 0:
        return text + "整"
    if jiao == 0:
        return text + "零" + DIGITS[fen] + "分"  # 角位是0而分位不是0: 元后写零
    if yuan % 10 == 0:
        text += "零"  # 元位是0而角位不是0: the rules allow one 零; we write it
    return text + DIGITS[jiao] + "角" + (DIGITS[fen] + "分" if fen else "整")


def _integer_figures(number: int) -> str:
    """0 < number < 10^16 in figures and units, without 元."""
    digits = str(number)
    top = len(digits) - 1
    parts: list[str] = []
    zero_pending = False
    for index, char in enumerate(digits):
        position = top - index
        digit = int(char)
        if digit == 0:
            zero_pending = True  # something nonzero always precedes: the first digit is not 0
        else:
            if zero_pending:
                parts.append("零")  # one 零 for the whole run of zeros
                zero_pending = False
            parts.append(DIGITS[digit] + _SMALL_UNITS[position % 4])
        mark = _GROUP_MARKS.get(position)
        if mark is not None and _group_mark_needed(digits, position):
            parts.append(mark)
    return "".join(parts)


def _group_mark_needed(digits: str, position: int) -> bool:
    # 万 (and the 万 of 万亿) only when its group of four has a nonzero digit; 亿 whenever anything
    # stands at or above it, so that 10^12 reads 壹万亿 and 10^12 + 10^8 reads 壹万零壹亿.
    top = len(digits) - 1
    highest = top if position == 8 else min(top, position + 3)
    return any(digits[top - p] != "0" for p in range(position, highest + 1))
