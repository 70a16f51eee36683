"""Validators for numeric answers: loan amount, annual revenue, term, counts (years, employees).

Like every validator in `lending.answers` (which re-exports these), each is total: any `str`
returns a value or raises `InvalidAnswer`. Text is folded with NFKC first, so full-width
digits and punctuation (`３０万`, `300，000`) read like ASCII; spaces are ignored.

Amounts: a number with optional thousands separators (groups of exactly three, so `300,50` is
refused rather than guessed), an optional currency word before (`¥`, `RMB`, `CNY`, `人民币`)
and after (`元`, `块`, `整`, `RMB`, `CNY`), and at most one multiplier: `k`/`千`, `w`/`万`,
`亿`, or one of the standard compounds `百万`, `千万`, `十万`, `十亿`, `百亿`, `千亿`, `万亿`.
Other stacks such as `3亿万` or `3万5千` are refused with their own message instead of being
guessed; `万亿` (a trillion) is read literally and then fails the product's maximum.
Exponents, NaN and infinity are not amounts. A loan amount and a revenue figure share this
syntax but not their wording: each refusal names what was asked for.

A refusal's message never gives an example answer itself; `InvalidAnswer.example` is the one
example shown with it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation, localcontext

from lending.invalid_answer import InvalidAnswer, refusal
from lending.products import ProductLimits
from locales import N_

# Longer answers are refused before any parsing work is spent on them.
_MAX_NUMBER_LENGTH = 100
CENT = Decimal("0.01")


def _compact(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split()).lower()


AMOUNT_EXAMPLE = "30万"
_CURRENCY_PREFIXES = ("人民币", "rmb", "cny", "¥")
_CURRENCY_SUFFIXES = ("人民币", "rmb", "cny", "yuan", "块钱", "元", "块", "整")
_NEGATIVE_SIGNS = ("-", "−", "负")
_MULTIPLIERS: dict[str, int] = {
    "": 1,
    "百": 10**2,
    "k": 10**3,
    "千": 10**3,
    "w": 10**4,
    "万": 10**4,
    "十万": 10**5,
    "百万": 10**6,
    "千万": 10**7,
    "亿": 10**8,
    "十亿": 10**9,
    "百亿": 10**10,
    "千亿": 10**11,
    "万亿": 10**12,
}
_UNIT_CHARS = "十百千万亿kw"
_AMOUNT = re.compile(r"(?P<number>[0-9][0-9,]*(?:\.[0-9]+)?)(?P<unit>[" + _UNIT_CHARS + "]*)")
_COMPOUND_AMOUNT = re.compile(r"[0-9.,]+(?:[" + _UNIT_CHARS + r"]+[0-9.,]*)+")
_GROUPED = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})*(?:\.[0-9]+)?")


def _strip_affixes(text: str) -> str:
    for prefix in _CURRENCY_PREFIXES:
        if text.startswith(prefix):
            text = text[len(prefix) :]
            break
    stripped = True
    while stripped:
        stripped = False
        for suffix in _CURRENCY_SUFFIXES:
            if text.endswith(suffix):
                text = text[: -len(suffix)]
                stripped = True
    return text


@dataclass(frozen=True)
class _AmountWording:
    """The refusals that name what is being asked for; the rest are shared by every amount."""

    unreadable: str
    negative: str
    example: str


_LOAN_WORDING = _AmountWording(
    unreadable=N_(
        "Please send the amount in yuan using digits. You can write 万 or 亿 after the number."
    ),
    negative=N_("The amount must be more than zero. Please send the amount you want to borrow."),
    example=AMOUNT_EXAMPLE,
)
REVENUE_EXAMPLE = "300万"
# A generous bound that still catches a slip of several zeros; zero is allowed, since a firm in
# its first year may truly have had no revenue.
MAX_ANNUAL_REVENUE = Decimal(10**12)
_REVENUE_WORDING = _AmountWording(
    unreadable=N_(
        "Please send last year's revenue in yuan using digits. You can write 万 or 亿 after "
        "the number."
    ),
    negative=N_(
        "Revenue cannot be negative. If the company had no revenue last year, please send 0."
    ),
    example=REVENUE_EXAMPLE,
)


def _read_yuan(text: str, wording: _AmountWording) -> Decimal:
    """A non-negative amount of yuan in whole fen, as typed (any affixes, one multiplier)."""
    unreadable = InvalidAnswer(wording.unreadable, wording.example)
    if len(text) > _MAX_NUMBER_LENGTH:
        raise unreadable
    compact = _compact(text)
    if compact.startswith(_NEGATIVE_SIGNS) or _strip_affixes(compact).startswith(_NEGATIVE_SIGNS):
        raise InvalidAnswer(wording.negative, wording.example)
    body = _strip_affixes(compact)
    match = _AMOUNT.fullmatch(body)
    if match is None:
        if _COMPOUND_AMOUNT.fullmatch(body):
            raise _mixed_units()
        raise unreadable
    number, unit = match["number"], match["unit"]
    if unit not in _MULTIPLIERS:
        raise _mixed_units()
    if "," in number and not _GROUPED.fullmatch(number):
        raise InvalidAnswer(
            N_(
                "The commas in that amount are not in the right places: they must separate "
                "groups of three digits. Please send the amount again, or without commas."
            ),
            "300,000",
        )
    # Exact arithmetic: the input is at most 100 characters, far inside this precision.
    with localcontext() as context:
        context.prec = 4 * _MAX_NUMBER_LENGTH
        try:
            amount = Decimal(number.replace(",", "")) * _MULTIPLIERS[unit]
            whole_cents = amount == amount.quantize(CENT)
        except InvalidOperation:
            raise unreadable from None
    if not whole_cents:
        raise InvalidAnswer(
            N_(
                "An amount can have at most two decimal places (fen). Please round it and "
                "send it again."
            ),
            wording.example,
        )
    return amount.quantize(CENT)


def parse_amount(text: str, limits: ProductLimits) -> Decimal:
    """A loan amount in CNY, quantised to 0.01, within the product's limits."""
    amount = _read_yuan(text, _LOAN_WORDING)
    if amount == 0:
        raise InvalidAnswer(_LOAN_WORDING.negative, AMOUNT_EXAMPLE)
    if amount < limits.min_amount:
        raise refusal(
            N_(
                "That is below our minimum loan of {minimum}. Please send an amount between "
                "{minimum} and {maximum}."
            ),
            AMOUNT_EXAMPLE,
            minimum=limits.min_amount,
            maximum=limits.max_amount,
        )
    if amount > limits.max_amount:
        raise refusal(
            N_(
                "That is above our maximum loan of {maximum}. Please send an amount between "
                "{minimum} and {maximum}."
            ),
            AMOUNT_EXAMPLE,
            minimum=limits.min_amount,
            maximum=limits.max_amount,
        )
    return amount


def parse_revenue(text: str) -> Decimal:
    """Last year's revenue in CNY, quantised to 0.01: from 0 up to `MAX_ANNUAL_REVENUE`."""
    revenue = _read_yuan(text, _REVENUE_WORDING)
    if revenue > MAX_ANNUAL_REVENUE:
        raise refusal(
            N_(
                "That is more than {maximum}, which cannot be right for one year's revenue. "
                "Please check the figure and send it again."
            ),
            REVENUE_EXAMPLE,
            maximum=MAX_ANNUAL_REVENUE,
        )
    return revenue


def _mixed_units() -> InvalidAnswer:
    return InvalidAnswer(
        N_("Please write the amount with a single unit, such as 万 or 亿 (not 3万5千)."),
        "3.5万",
    )


# --- whole numbers: term, years, employees ----------------------------------------------------

_CHINESE_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
_CHINESE_SMALL_NUMBER = re.compile(r"([一二两三四五六七八九]?)(十?)([零〇一二三四五六七八九]?)")
_DECIMAL = re.compile(r"[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+(?:\.[0-9]+)?")


def _small_number(text: str) -> Decimal | None:
    """Digits (with thousands commas or a decimal part) or a Chinese numeral below 100."""
    if _DECIMAL.fullmatch(text):
        return Decimal(text.replace(",", ""))
    match = _CHINESE_SMALL_NUMBER.fullmatch(text)
    if match is None or not text:
        return None
    tens, ten, units = match.groups()
    if ten:
        value = _CHINESE_DIGITS.get(tens, 1) * 10 + _CHINESE_DIGITS.get(units, 0)
    elif tens and not units:
        value = _CHINESE_DIGITS[tens]
    elif units and not tens:
        value = _CHINESE_DIGITS[units]
    else:
        return None
    return Decimal(value)


TERM_EXAMPLE = "12"
_MONTH_UNITS = ("个月", "月", "months", "month", "mos", "mo", "m")
_YEAR_UNITS = ("年", "years", "year", "yrs", "yr", "y")


def _term_in_months(text: str) -> Decimal | None:
    if text == "半年":
        return Decimal(6)
    for unit in _YEAR_UNITS:
        if text.endswith(unit):
            years = _small_number(text[: -len(unit)])
            return None if years is None else years * 12
    if text.endswith("年半"):
        years = _small_number(text[:-2])
        return None if years is None else years * 12 + 6
    for unit in _MONTH_UNITS:
        if text.endswith(unit):
            return _small_number(text[: -len(unit)])
    return _small_number(text)


def parse_term(text: str, limits: ProductLimits) -> int:
    """The loan term in whole months: `12`, `12个月`, `12 months`, `1年`, `一年`, `1年半`."""
    months = None
    if len(text) <= _MAX_NUMBER_LENGTH:
        months = _term_in_months(_compact(text))
    if months is None:
        raise InvalidAnswer(
            N_("Please send the loan term as a number of months or years."),
            TERM_EXAMPLE,
        )
    if months != months.to_integral_value():
        raise InvalidAnswer(
            N_("The term must be a whole number of months. Please send it again."),
            TERM_EXAMPLE,
        )
    if months < limits.min_term:
        raise refusal(
            N_(
                "The shortest term we offer is {minimum} months. Please choose a term between "
                "{minimum} and {maximum} months."
            ),
            TERM_EXAMPLE,
            minimum=limits.min_term,
            maximum=limits.max_term,
        )
    if months > limits.max_term:
        raise refusal(
            N_(
                "The longest term we offer is {maximum} months. Please choose a term between "
                "{minimum} and {maximum} months."
            ),
            TERM_EXAMPLE,
            minimum=limits.min_term,
            maximum=limits.max_term,
        )
    return int(months)


_COUNT_UNITS = (
    "employees",
    "employee",
    "persons",
    "person",
    "people",
    "staff",
    "years",
    "year",
    "yrs",
    "yr",
    "人",
    "名",
    "位",
    "个",
    "年",
)


def parse_count(text: str, *, minimum: int, maximum: int) -> int:
    """A whole number within bounds, e.g. years in operation (`3年`) or employees (`12人`)."""
    example = str(min(max(12, minimum), maximum))
    compact = _compact(text[: _MAX_NUMBER_LENGTH + 1])
    for unit in _COUNT_UNITS:
        if compact.endswith(unit):
            compact = compact[: -len(unit)]
            break
    negative = compact.startswith(_NEGATIVE_SIGNS)
    number = _small_number(compact[1:] if negative else compact)
    if number is None or len(text) > _MAX_NUMBER_LENGTH:
        raise InvalidAnswer(
            N_("Please send a whole number using digits."),
            example,
        )
    if number != number.to_integral_value():
        raise InvalidAnswer(
            N_("Please send a whole number, without decimals."),
            example,
        )
    count = -int(number) if negative else int(number)
    if count < minimum:
        raise refusal(
            N_("That number is too small: please send a number between {minimum} and {maximum}."),
            example,
            minimum=minimum,
            maximum=maximum,
        )
    if count > maximum:
        raise refusal(
            N_("That number is too large: please send a number between {minimum} and {maximum}."),
            example,
            minimum=minimum,
            maximum=maximum,
        )
    return count
