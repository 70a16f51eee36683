"""Validators for the applicant's answers: good values pass normalised, bad ones say why."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending.amounts import MAX_ANNUAL_REVENUE
from lending.answers import (
    InvalidAnswer,
    parse_amount,
    parse_company_name,
    parse_count,
    parse_credit_code,
    parse_id_number,
    parse_mobile,
    parse_person_name,
    parse_revenue,
    parse_term,
)
from lending.products import ProductLimits

TODAY = date(2026, 3, 15)
LIMITS = ProductLimits()
WIDE_LIMITS = ProductLimits(max_amount=Decimal("1000000000"))

# Check characters computed here independently of lending.check_codes, from the standards.
USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def uscc_check(first_17: str) -> str:
    total = sum(USCC_CHARSET.index(c) * pow(3, i, 31) for i, c in enumerate(first_17))
    return USCC_CHARSET[(31 - total % 31) % 31]


def org_check(body: str) -> str:
    total = sum(int(c, 36) * w for c, w in zip(body, (3, 7, 9, 10, 5, 8, 4, 2), strict=True))
    remainder = 11 - total % 11
    return {10: "X", 11: "0"}.get(remainder, str(remainder))


def id_check(first_17: str) -> str:
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(first_17))
    return "10X98765432"[total % 11]


def with_id_check(first_17: str) -> str:
    return first_17 + id_check(first_17)


def error_of(parse: Callable[[str], object], text: str) -> InvalidAnswer:
    with pytest.raises(InvalidAnswer) as caught:
        parse(text)
    return caught.value


# --- unified social credit code ------------------------------------------------------------

# Published codes: GB 32100's own example, the State Grid Corporation, Tencent, Huawei, Xiaomi,
# Alibaba, and a post-2015 "MA" code from a company's web footer.
REAL_CREDIT_CODES = [
    "91350100M000100Y43",
    "91110000600037341L",
    "91440300708461136T",
    "914403001922038216",
    "91110108551385082Q",
    "91330100716105852F",
    "91440300MA5H0HLK5U",
]


@pytest.mark.parametrize("code", REAL_CREDIT_CODES)
def test_real_credit_codes_pass_both_check_characters(code: str) -> None:
    assert uscc_check(code[:17]) == code[17]
    assert org_check(code[8:16]) == code[16]
    assert parse_credit_code(code) == code


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("91350100m000100y43", "91350100M000100Y43"),
        (" 9135 0100 M000 100Y 43 ", "91350100M000100Y43"),
        ("９１３５０１００Ｍ０００１００Ｙ４３", "91350100M000100Y43"),
        ("91110000600037341l\n", "91110000600037341L"),
    ],
)
def test_credit_code_is_normalised(typed: str, expected: str) -> None:
    assert parse_credit_code(typed) == expected


def test_every_single_character_typo_in_a_credit_code_is_caught() -> None:
    code = "91350100M000100Y43"
    for position in range(18):
        for replacement in USCC_CHARSET:
            if replacement != code[position]:
                typo = code[:position] + replacement + code[position + 1 :]
                with pytest.raises(InvalidAnswer):
                    parse_credit_code(typo)


def test_credit_code_failures_each_have_their_own_message() -> None:
    good = "91350100M000100Y43"
    org_body = "M0001002"  # a changed organisation code body ...
    forged_first_17 = good[:8] + org_body + good[16]  # ... keeping the old org check char
    forged = forged_first_17 + uscc_check(forged_first_17)  # and a correct final check char
    assert org_check(org_body) != good[16]
    cases = {
        "length": good[:17],
        "characters": good[:10] + "O" + good[11:],
        "authority": "0" + good[1:],
        "division": good[:2] + "990100" + good[8:],
        "final check": good[:17] + ("4" if good[17] != "4" else "5"),
        "organisation check": forged,
    }
    messages = {kind: error_of(parse_credit_code, text).message for kind, text in cases.items()}
    assert len(set(messages.values())) == len(cases), messages
    assert "last character" in messages["final check"]
    length_error = error_of(parse_credit_code, good[:17])
    assert length_error.values == {"count": 17}
    assert length_error.message.format(**length_error.params).count("17") == 1


# --- resident ID number --------------------------------------------------------------------


def test_standard_example_id_number_is_valid() -> None:
    assert id_check("11010519491231002") == "X"
    assert parse_id_number("11010519491231002X", today=TODAY) == "11010519491231002X"


@pytest.mark.parametrize(
    "typed",
    ["11010519491231002x", " 110105 19491231 002X ", "１１０１０５１９４９１２３１００２ｘ"],
)
def test_id_number_is_normalised(typed: str) -> None:
    assert parse_id_number(typed, today=TODAY) == "11010519491231002X"


def test_every_single_digit_typo_in_an_id_number_is_caught() -> None:
    number = "11010519491231002X"
    for position in range(18):
        for replacement in "0123456789X" if position == 17 else "0123456789":
            if replacement != number[position]:
                typo = number[:position] + replacement + number[position + 1 :]
                with pytest.raises(InvalidAnswer):
                    parse_id_number(typo, today=TODAY)


def test_age_limits_are_inclusive_on_birthdays() -> None:
    eighteen_today = with_id_check("11010520080315001")
    assert parse_id_number(eighteen_today, today=TODAY) == eighteen_today
    eighteen_tomorrow = with_id_check("11010520080316001")
    assert (
        "years old"
        in error_of(lambda t: parse_id_number(t, today=TODAY), eighteen_tomorrow).message
    )
    hundred = with_id_check("11010519260315001")
    assert parse_id_number(hundred, today=TODAY) == hundred
    hundred_and_one = with_id_check("11010519250314001")
    error = error_of(lambda t: parse_id_number(t, today=TODAY), hundred_and_one)
    assert error.values == {"minimum": 18, "maximum": 100}


def test_leap_day_birthdays_are_real_dates() -> None:
    leap = with_id_check("44030419960229123")
    assert parse_id_number(leap, today=TODAY) == leap
    not_leap = with_id_check("44030419970229123")
    assert "date of birth" in error_of(lambda t: parse_id_number(t, today=TODAY), not_leap).message


def test_id_number_failures_each_have_their_own_message() -> None:
    def parse(text: str) -> str:
        return parse_id_number(text, today=TODAY)

    good = "11010519491231002X"
    cases = {
        "length": good[:16],
        "old format": "110105491231002",
        "characters": "1101051949X231002X",
        "region": with_id_check("99010519491231002"),
        "birth date": with_id_check("11010519491331002"),
        "future birth": with_id_check("11010520300101002"),
        "check digit": good[:17] + "1",
        "age": with_id_check("11010520150101002"),
    }
    messages = {kind: error_of(parse, text).message for kind, text in cases.items()}
    assert messages["birth date"] == messages["future birth"]
    del messages["future birth"]
    assert len(set(messages.values())) == len(messages), messages


def test_errors_never_carry_the_personal_data_that_was_typed() -> None:
    valid = with_id_check("44030419880512345")
    number = valid[:17] + ("0" if valid[17] != "0" else "1")
    error = error_of(lambda t: parse_id_number(t, today=TODAY), number)
    shown = [str(error), repr(error), error.example, *error.params.values()]
    assert not any(number[:14] in text for text in shown)


# --- mobile --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13812345678",
        "+86 138 1234 5678",
        "+8613812345678",
        "0086-138-1234-5678",
        "8613812345678",
        "(+86) 138-1234-5678",
        "１３８１２３４５６７８",
    ],
)
def test_mobile_forms_give_eleven_digits(typed: str) -> None:
    assert parse_mobile(typed) == "13812345678"


def test_mobile_failures_each_have_their_own_message() -> None:
    cases = {
        "foreign": "+1 415 555 0100",
        "characters": "138-1234-567O",
        "length": "1381234567",
        "not mobile": "01012345678",
    }
    messages = {kind: error_of(parse_mobile, text).message for kind, text in cases.items()}
    assert len(set(messages.values())) == len(cases), messages
    assert error_of(parse_mobile, "1381234567").values == {"count": 10}


# --- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("  杭州示例科技有限公司 ", "杭州示例科技有限公司"),
        ("深圳市  华强\u3000电子（集团）\n有限公司", "深圳市 华强 电子（集团） 有限公司"),
        ("<b>ACME</b> & Sons 有限公司", "<b>ACME</b> & Sons 有限公司"),
        ("3M", "3M"),
        ("A" * 100, "A" * 100),
    ],
)
def test_company_names_are_kept_as_data(typed: str, expected: str) -> None:
    assert parse_company_name(typed) == expected


def test_company_name_failures_each_have_their_own_message() -> None:
    cases = {
        "short": " 华 ",
        "long": "华" * 101,
        "control": "华强\x00电子",
        "only digits": "123456",
    }
    messages = {kind: error_of(parse_company_name, text).message for kind, text in cases.items()}
    assert len(set(messages.values())) == len(cases), messages
    for disguised in ("华强\u202e电子", "华强\x1f电子", "华强\u200b电子"):
        assert error_of(parse_company_name, disguised).message == messages["control"]


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("张伟", "张伟"),
        ("阿依古丽 · 买买提", "阿依古丽·买买提"),
        ("阿依古丽•买买提", "阿依古丽·买买提"),
        ("Mary  O’Brien-Smith", "Mary O'Brien-Smith"),
        ("Jose\u0301 Garci\u0301a", "José García"),
        ("Ｚｈａｎｇ\u3000Ｗｅｉ", "Zhang Wei"),
    ],
)
def test_person_names_are_normalised(typed: str, expected: str) -> None:
    assert parse_person_name(typed) == expected


def test_person_name_failures_each_have_their_own_message() -> None:
    cases = {
        "characters": "张3",
        "short": "张",
        "long": "张" * 51,
        "punctuation": "-张三",
    }
    messages = {kind: error_of(parse_person_name, text).message for kind, text in cases.items()}
    assert len(set(messages.values())) == len(cases), messages
    # "Letter" alone would not tell a Chinese applicant that 张 is one.
    assert "a Chinese character or a letter" in messages["punctuation"]
    assert error_of(parse_person_name, "<script>").message == messages["characters"]
    assert error_of(parse_person_name, "张三·").message == messages["punctuation"]
    assert error_of(parse_person_name, "Li--Na").message == messages["punctuation"]


# --- amounts -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("300000", "300000"),
        ("300,000", "300000"),
        ("300，000", "300000"),
        ("30万", "300000"),
        ("30万元", "300000"),
        ("¥30万元", "300000"),
        ("￥300000", "300000"),
        ("RMB 300000", "300000"),
        ("rmb300000", "300000"),
        ("CNY300,000.50", "300000.50"),
        ("300000元", "300000"),
        ("30 万", "300000"),
        ("３０万", "300000"),
        ("30w", "300000"),
        ("1.5亿", "150000000"),
        ("1千万", "10000000"),
        ("5百万", "5000000"),
        ("12.3456万", "123456"),
        ("300000.5", "300000.50"),
        ("人民币30万元整", "300000"),
    ],
)
def test_amount_forms(typed: str, expected: str) -> None:
    amount = parse_amount(typed, WIDE_LIMITS)
    assert amount == Decimal(expected)
    assert amount.as_tuple().exponent == -2


def test_amount_failures_each_have_their_own_message() -> None:
    cases = {
        "garbage": "a lot",
        "exponent": "3e5",
        "negative": "-300000",
        "zero": "0",
        "decimals": "300000.001",
        "decimals after conversion": "1.2345678万",
        "mixed units": "3万5千",
        "stacked units": "3亿万",
        "separators": "300,00",
        "below": "9999.99",
        "above": "10000000.01",
    }
    errors = {kind: error_of(lambda t: parse_amount(t, LIMITS), t) for kind, t in cases.items()}
    messages = {kind: error.message for kind, error in errors.items()}
    assert messages["exponent"] == messages["garbage"]
    assert messages["zero"] == messages["negative"]
    assert messages["decimals after conversion"] == messages["decimals"]
    assert messages["stacked units"] == messages["mixed units"]
    distinct = {"garbage", "negative", "decimals", "mixed units", "separators", "below", "above"}
    assert len({messages[kind] for kind in distinct}) == len(distinct)
    for kind in ("below", "above"):
        assert errors[kind].values == {
            "minimum": Decimal("10000"),
            "maximum": Decimal("10000000"),
        }
        formatted = errors[kind].message.format(**errors[kind].params)
        assert "10000" in formatted
        assert "10000000" in formatted


@pytest.mark.parametrize("typed", ["NaN", "inf", "-inf", "Infinity", "1E5", "0x10", "三十万"])
def test_non_decimal_amounts_are_refused(typed: str) -> None:
    with pytest.raises(InvalidAnswer):
        parse_amount(typed, WIDE_LIMITS)


def test_trillion_is_read_literally_and_fails_the_maximum() -> None:
    error = error_of(lambda t: parse_amount(t, LIMITS), "3万亿")
    assert error.message == error_of(lambda t: parse_amount(t, LIMITS), "10000001").message


AMOUNTS = st.decimals(
    min_value=Decimal("10000"),
    max_value=Decimal("10000000"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
FULL_WIDTH = str.maketrans("0123456789.,", "０１２３４５６７８９．，")


def _plain(amount: Decimal) -> str:
    return format(amount, "f")


RENDERINGS: list[Callable[[Decimal], str]] = [
    _plain,
    lambda a: f"{a:,.2f}",
    lambda a: f"{a:,}",
    lambda a: _plain(a.scaleb(-4)) + "万",
    lambda a: _plain(a.scaleb(-8)) + "亿",
    lambda a: "¥" + _plain(a.scaleb(-4)) + "万元",
    lambda a: _plain(a.scaleb(-4)) + " 万",
    lambda a: "RMB " + f"{a:,}",
    lambda a: (_plain(a.scaleb(-4)) + "万").translate(FULL_WIDTH),
    lambda a: "￥" + f"{a:,}".translate(FULL_WIDTH),
]


@settings(max_examples=300)
@given(amount=AMOUNTS, render=st.sampled_from(RENDERINGS))
def test_rendered_amounts_parse_back_equal(
    amount: Decimal, render: Callable[[Decimal], str]
) -> None:
    assert parse_amount(render(amount), LIMITS) == amount


# --- annual revenue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("0", "0"),
        ("0元", "0"),
        ("０", "0"),
        ("0.5", "0.50"),
        ("300万", "3000000"),
        ("¥1,200,000.50", "1200000.50"),
        ("人民币1.5亿元", "150000000"),
        ("1万亿", "1000000000000"),
        ("10000亿", "1000000000000"),
    ],
)
def test_revenue_forms(typed: str, expected: str) -> None:
    revenue = parse_revenue(typed)
    assert revenue == Decimal(expected)
    assert revenue.as_tuple().exponent == -2


def test_revenue_refusals_speak_of_revenue_not_of_the_loan() -> None:
    cases = {"garbage": "lots", "negative": "-5", "negative with unit": "-5万", "above": "20000亿"}
    errors = {kind: error_of(parse_revenue, text) for kind, text in cases.items()}
    assert errors["negative with unit"].message == errors["negative"].message
    for kind in ("garbage", "negative", "above"):
        message = errors[kind].message
        assert "revenue" in message, message
        assert "borrow" not in message and "loan" not in message, message
        assert message != error_of(lambda t: parse_amount(t, LIMITS), cases[kind]).message
    assert "send 0" in errors["negative"].message
    assert errors["above"].values == {"maximum": MAX_ANNUAL_REVENUE}
    assert parse_revenue("1万亿") == MAX_ANNUAL_REVENUE


def test_revenue_shares_the_amount_syntax_refusals() -> None:
    for typed in ("3万5千", "300,00", "0.001"):
        amount_error = error_of(lambda t: parse_amount(t, LIMITS), typed)
        assert error_of(parse_revenue, typed).message == amount_error.message


REVENUES = st.decimals(
    min_value=Decimal("0"),
    max_value=MAX_ANNUAL_REVENUE,
    places=2,
    allow_nan=False,
    allow_infinity=False,
)


@settings(max_examples=300)
@given(revenue=REVENUES, render=st.sampled_from(RENDERINGS))
def test_rendered_revenues_parse_back_equal(
    revenue: Decimal, render: Callable[[Decimal], str]
) -> None:
    assert parse_revenue(render(revenue)) == revenue


# --- term and counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "months"),
    [
        ("12", 12),
        ("12个月", 12),
        ("12 months", 12),
        ("1 month", None),
        ("1年", 12),
        ("1 year", 12),
        ("2 years", 24),
        ("一年", 12),
        ("两年", 24),
        ("三十六个月", 36),
        ("1年半", 18),
        ("半年", 6),
        ("1.5年", 18),
        ("３６个月", 36),
    ],
)
def test_term_forms(typed: str, months: int | None) -> None:
    if months is None:
        with pytest.raises(InvalidAnswer):
            parse_term(typed, LIMITS)
    else:
        assert parse_term(typed, LIMITS) == months


def test_term_failures_each_have_their_own_message() -> None:
    cases = {"garbage": "soon", "fraction": "1.3年", "short": "2", "long": "61"}
    errors = {kind: error_of(lambda t: parse_term(t, LIMITS), t) for kind, t in cases.items()}
    assert len({error.message for error in errors.values()}) == len(cases)
    assert errors["short"].values == {"minimum": 3, "maximum": 60}
    assert "3" in errors["short"].message.format(**errors["short"].params)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("12", 12),
        ("12人", 12),
        ("12 people", 12),
        ("12 employees", 12),
        ("3年", 3),
        ("3 years", 3),
        ("1,200", 1200),
        ("十二", 12),
        ("０", 0),
    ],
)
def test_count_forms(typed: str, expected: int) -> None:
    assert parse_count(typed, minimum=0, maximum=100000) == expected


def test_count_failures_each_have_their_own_message() -> None:
    def parse(text: str) -> int:
        return parse_count(text, minimum=1, maximum=100000)

    cases = {"garbage": "many", "fraction": "2.5", "small": "0", "large": "100001"}
    errors = {kind: error_of(parse, t) for kind, t in cases.items()}
    assert len({error.message for error in errors.values()}) == len(cases)
    assert error_of(parse, "-3").message == errors["small"].message
    assert errors["large"].values == {"minimum": 1, "maximum": 100000}


# --- every parser is total, and its examples are valid answers ------------------------------

PARSERS: dict[str, Callable[[str], object]] = {
    "company": parse_company_name,
    "credit code": parse_credit_code,
    "person": parse_person_name,
    "id number": lambda text: parse_id_number(text, today=TODAY),
    "mobile": parse_mobile,
    "amount": lambda text: parse_amount(text, LIMITS),
    "revenue": parse_revenue,
    "term": lambda text: parse_term(text, LIMITS),
    "years": lambda text: parse_count(text, minimum=0, maximum=100),
    "employees": lambda text: parse_count(text, minimum=1, maximum=100000),
}
GIVES_AN_EXAMPLE = re.compile(r"for example|for instance|e\.g\.|\bas in\b", re.IGNORECASE)
NUMERIC_ALPHABET = "0123456789０３,，..-+ ()万亿千百十kwXx元块¥￥年月个人半一二两十eE\u3000"
TEXTS = st.one_of(
    st.text(),
    st.text(alphabet=NUMERIC_ALPHABET, max_size=24),
    st.builds(
        lambda count, char: char * count,
        st.integers(min_value=990, max_value=1100),
        st.sampled_from(["9", "万", " ", "a", "·"]),
    ),
)


def _check_total(parse: Callable[[str], object], text: str) -> None:
    try:
        parse(text)
    except InvalidAnswer as error:
        # Every placeholder of the message is filled by params, and the example is valid.
        error.message.format(**error.params)
        assert set(error.values) <= set(error.params)
        # The example is shown on a line of its own; the message must not add a second one.
        assert not GIVES_AN_EXAMPLE.search(error.message), error.message
        parse(error.example)


@settings(max_examples=150)
@given(text=TEXTS, name=st.sampled_from(sorted(PARSERS)))
def test_parsers_return_or_raise_invalid_answer_only(text: str, name: str) -> None:
    _check_total(PARSERS[name], text)


@pytest.mark.parametrize("name", sorted(PARSERS))
@pytest.mark.parametrize(
    "text", ["", " ", "\x00", "\ud800", "<script>alert(1)</script>", "9" * 5000]
)
def test_parsers_handle_hostile_input(name: str, text: str) -> None:
    _check_total(PARSERS[name], text)


@settings(max_examples=200)
@given(text=st.text(alphabet=NUMERIC_ALPHABET, max_size=16))
def test_parsed_amounts_are_whole_cents_within_limits(text: str) -> None:
    try:
        amount = parse_amount(text, LIMITS)
    except InvalidAnswer:
        return
    assert LIMITS.min_amount <= amount <= LIMITS.max_amount
    assert amount == amount.quantize(Decimal("0.01"))
