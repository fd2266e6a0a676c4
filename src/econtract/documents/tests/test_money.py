"""Chinese capital figures (大写金额) by the People's Bank rules, read back by an independent parser."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from econtract.documents.money import capital_amount, parse_amount

# --- an independent reverse parser: digits × units, nothing shared with the module ------------------

_DIGIT_VALUES = {c: i for i, c in enumerate("零壹贰叁肆伍陆柒捌玖")}
_SMALL = {"拾": 10, "佰": 100, "仟": 1000}


def _read_integer(text: str) -> int:
    total = 0  # everything up to the last 亿, already multiplied out
    section = 0  # the current part below 亿 (may carry a ×10^4 from 万)
    number = 0  # the last digit read, waiting for its unit
    for char in text:
        if char == "零":
            continue
        if char in _DIGIT_VALUES:
            number = _DIGIT_VALUES[char]
        elif char in _SMALL:
            assert number, f"a unit without its digit in {text}"  # 壹拾, never a bare 拾
            section += number * _SMALL[char]
            number = 0
        elif char == "万":
            section = (section + number) * 10**4
            number = 0
        elif char == "亿":
            total = (total + section + number) * 10**8
            section = number = 0
        else:
            raise AssertionError(f"unexpected {char!r} in {text}")
    return total + section + number


def read_capital(text: str) -> Decimal:
    integer_text, yuan, fraction = text.partition("元")
    if not yuan:  # no 元: only 角 and/or 分
        integer_text, fraction = "", text
    integer = _read_integer(integer_text)
    jiao = fen = 0
    rest = fraction.removesuffix("整").removeprefix("零")
    if "角" in rest:
        digit, _, rest = rest.partition("角")
        jiao = _DIGIT_VALUES[digit]
    if "分" in rest:
        digit, _, rest = rest.partition("分")
        fen = _DIGIT_VALUES[digit]
    assert rest == "", f"left over {rest!r} in {text}"
    return Decimal(integer) + Decimal(jiao) / 10 + Decimal(fen) / 100


# --- the issue's examples and the cases the module decides ------------------------------------------


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (Decimal("12345.67"), "壹万贰仟叁佰肆拾伍元陆角柒分"),
        (Decimal("1000000"), "壹佰万元整"),
        (Decimal("100.05"), "壹佰元零伍分"),
        (Decimal("10010.10"), "壹万零壹拾元零壹角整"),
        (Decimal("1680.32"), "壹仟陆佰捌拾元零叁角贰分"),
    ],
)
def test_the_issues_examples(amount: Decimal, expected: str) -> None:
    # Given the examples of the issue, When written in capitals, Then exactly as the issue says
    assert capital_amount(amount) == expected


@pytest.mark.parametrize(
    ("amount", "expected"),
    [
        (0, "零元整"),
        (Decimal("0.5"), "伍角整"),
        (Decimal("0.05"), "伍分"),
        (Decimal("0.55"), "伍角伍分"),
        (10, "壹拾元整"),
        (100000000, "壹亿元整"),
        (100010000, "壹亿零壹万元整"),
        (Decimal("1010.00"), "壹仟零壹拾元整"),
        (1001, "壹仟零壹元整"),
        (Decimal("-0"), "零元整"),
        (Decimal("12.340"), "壹拾贰元叁角肆分"),  # extra zero decimals are fine
    ],
)
def test_decided_cases(amount: Decimal | int, expected: str) -> None:
    # Given the cases the issue leaves open, When written, Then as the module docstring decides
    assert capital_amount(amount) == expected


# Derived by hand from the rules: one 零 per run of zeros inside the integer part (also across 万/亿),
# none for trailing zeros, 元零 when the 元 digit is 0 and 角 is not, 元零 when 角 is 0 and 分 is not,
# 整 after 元 or 角 when nothing follows. Those marked "rules" are the annex's own examples (with 零/整
# added where the annex says "may").
HAND_DERIVED = [
    ("100100.01", "壹拾万零壹佰元零壹分"),
    ("1000000.10", "壹佰万元零壹角整"),
    ("20000000000.00", "贰佰亿元整"),
    ("10000.01", "壹万元零壹分"),
    ("101010101.01", "壹亿零壹佰零壹万零壹佰零壹元零壹分"),
    ("1409.50", "壹仟肆佰零玖元伍角整"),  # rules
    ("6007.14", "陆仟零柒元壹角肆分"),  # rules
    ("107000.53", "壹拾万零柒仟元零伍角叁分"),  # rules
    ("16409.02", "壹万陆仟肆佰零玖元零贰分"),  # rules
    ("325.04", "叁佰贰拾伍元零肆分"),  # rules
    ("100000001", "壹亿零壹元整"),
    ("1000010000", "壹拾亿零壹万元整"),
    ("10000100", "壹仟万零壹佰元整"),
    ("110000", "壹拾壹万元整"),
    ("100000.00", "壹拾万元整"),
    ("0.10", "壹角整"),
    ("0.01", "壹分"),
    ("0.11", "壹角壹分"),
    ("1.00", "壹元整"),
    ("1.10", "壹元壹角整"),
    ("11.11", "壹拾壹元壹角壹分"),
    ("10.50", "壹拾元零伍角整"),
    ("10.05", "壹拾元零伍分"),
    ("20.20", "贰拾元零贰角整"),
    ("200.02", "贰佰元零贰分"),
    ("10000000.01", "壹仟万元零壹分"),
    ("50005000", "伍仟万零伍仟元整"),
    ("1010101.10", "壹佰零壹万零壹佰零壹元壹角整"),  # 元 digit 1: no 零 after 元
    ("1010100.10", "壹佰零壹万零壹佰元零壹角整"),
    ("1000000000000", "壹万亿元整"),
    ("1000100000000", "壹万零壹亿元整"),
    ("1000000000001.01", "壹万亿零壹元零壹分"),
    ("12340000000000", "壹拾贰万叁仟肆佰亿元整"),
    ("1234567890123.45", "壹万贰仟叁佰肆拾伍亿陆仟柒佰捌拾玖万零壹佰贰拾叁元肆角伍分"),
    (
        "9999999999999999.99",
        "玖仟玖佰玖拾玖万玖仟玖佰玖拾玖亿玖仟玖佰玖拾玖万玖仟玖佰玖拾玖元玖角玖分",
    ),
]


@pytest.mark.parametrize(("amount", "expected"), HAND_DERIVED)
def test_amounts_with_zeros_inside(amount: str, expected: str) -> None:
    # Given an amount with zeros in awkward places, When written, Then as derived by hand
    assert capital_amount(amount) == expected
    assert capital_amount(Decimal(amount)) == expected
    assert read_capital(expected) == Decimal(amount)  # the reverse parser agrees with the table


def test_ints_strs_and_decimals_agree() -> None:
    # Given one amount as int, str and Decimal, Then one capital string
    assert capital_amount(1680) == capital_amount("1680") == capital_amount(Decimal("1680.00"))


# --- refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "amount",
    [
        Decimal("-0.01"),
        -1,
        "-1",
        Decimal("1.001"),
        "1.005",
        Decimal("0.01000000000000000000000000000001"),  # beyond the context's 28 digits
        Decimal("NaN"),
        Decimal("Infinity"),
        Decimal("sNaN"),
        10**16,
        Decimal("1E+16"),
        "1e3",
        " 1",
        "1.",
        ".5",
        "+1",
        "1,000",
        "",
        "١٢",  # Arabic-Indic digits: not a plain decimal
    ],
)
def test_refused_amounts(amount: object) -> None:
    # Given a negative, over-precise, non-finite, too large or non-plain amount, Then ValueError
    with pytest.raises(ValueError):
        capital_amount(amount)  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [1.5, 0.0, True, None, [1]])
def test_floats_and_other_types_are_refused(amount: object) -> None:
    # Given a float (inexact), a bool or another type, Then TypeError
    with pytest.raises(TypeError):
        capital_amount(amount)  # type: ignore[arg-type]


def test_parse_amount_gives_two_decimals() -> None:
    # Given amounts of any form, When parsed, Then a Decimal with exactly two decimals and no sign
    assert str(parse_amount("12.3")) == "12.30"
    assert str(parse_amount(Decimal("-0"))) == "0.00"
    assert str(parse_amount(Decimal("1E+3"))) == "1000.00"


# --- properties ----------------------------------------------------------------------------------

amounts = st.integers(min_value=0, max_value=10**14 - 1).map(lambda cents: Decimal(cents).scaleb(-2))


@given(amounts)
def test_reading_back_gives_the_amount(amount: Decimal) -> None:
    # Given any amount below 10^12 with two decimals, When written and read back by digits × units,
    # Then the same amount
    assert read_capital(capital_amount(amount)) == amount


@given(amounts)
def test_never_two_zeros_in_a_row_and_zheng_iff_no_fen(amount: Decimal) -> None:
    # Given any amount, When written, Then one 零 at a time, 整 exactly when there is no 分, 壹拾 not 拾
    text = capital_amount(amount)
    assert "零零" not in text
    fen = int(amount * 100) % 10
    assert text.endswith("整") == (fen == 0)
    assert text.endswith("分") == (fen != 0)
    assert text.count("整") <= 1
    assert not text.startswith("零") or text == "零元整"
    assert "零元" not in text or text == "零元整"
    assert not text.startswith("拾")  # 壹拾, never a bare 拾
    assert "元元" not in text and "万万" not in text and "亿亿" not in text
