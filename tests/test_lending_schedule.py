"""Repayment schedules: exact principal, level instalments, half-up cents, month-end dates."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lending.products import RepaymentMethod
from lending.schedule import Instalment, due_date, repayment_schedule

CENT = Decimal("0.01")


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def test_equal_instalments_match_the_textbook_figure() -> None:
    # 100 000 at 6 % a year over 12 months: the well-known level payment of 8 606.64.
    schedule = repayment_schedule(
        Decimal("100000"), Decimal("0.06"), 12, RepaymentMethod.EQUAL_INSTALMENTS, date(2026, 5, 10)
    )
    assert [i.total for i in schedule[:-1]] == [Decimal("8606.64")] * 11
    assert schedule[0].interest == Decimal("500.00")
    assert schedule[0].principal == Decimal("8106.64")
    assert schedule[-1].remaining == 0
    assert sum(i.principal for i in schedule) == Decimal("100000")


def test_equal_principal_pays_the_same_principal_and_less_interest_each_month() -> None:
    schedule = repayment_schedule(
        Decimal("100000"), Decimal("0.06"), 12, RepaymentMethod.EQUAL_PRINCIPAL, date(2026, 5, 10)
    )
    assert {i.principal for i in schedule[:-1]} == {Decimal("8333.33")}
    assert schedule[-1].principal == Decimal("8333.37")
    interests = [i.interest for i in schedule]
    assert interests == sorted(interests, reverse=True)
    assert schedule[1].interest == Decimal("458.33")  # 91 666.67 × 0.5 %, half-up


def test_interest_only_repays_principal_at_the_end() -> None:
    schedule = repayment_schedule(
        Decimal("250000"), Decimal("0.0435"), 6, RepaymentMethod.INTEREST_ONLY, date(2026, 1, 15)
    )
    assert [i.principal for i in schedule] == [Decimal(0)] * 5 + [Decimal("250000")]
    assert {i.interest for i in schedule} == {Decimal("906.25")}
    assert schedule[-1].total == Decimal("250906.25")


def test_half_up_rounding_of_interest() -> None:
    # 1 000.00 × 0.06 / 12 = 5.00; 1 001.00 × 0.005 = 5.005 → 5.01 (half-up, not half-even).
    schedule = repayment_schedule(
        Decimal("1001.00"), Decimal("0.06"), 2, RepaymentMethod.INTEREST_ONLY, date(2026, 1, 1)
    )
    assert schedule[0].interest == Decimal("5.01")


def test_zero_rate_has_no_interest() -> None:
    schedule = repayment_schedule(
        Decimal("10000"), Decimal("0"), 3, RepaymentMethod.EQUAL_INSTALMENTS, date(2026, 1, 1)
    )
    assert [i.total for i in schedule] == [
        Decimal("3333.33"),
        Decimal("3333.33"),
        Decimal("3333.34"),
    ]
    assert all(i.interest == 0 for i in schedule)


def test_due_dates_keep_the_day_clamped_to_month_end() -> None:
    schedule = repayment_schedule(
        Decimal("60000"), Decimal("0.05"), 14, RepaymentMethod.EQUAL_PRINCIPAL, date(2024, 1, 31)
    )
    assert [i.due_date for i in schedule[:5]] == [
        date(2024, 1, 31),
        date(2024, 2, 29),
        date(2024, 3, 31),
        date(2024, 4, 30),
        date(2024, 5, 31),
    ]
    assert schedule[12].due_date == date(2025, 1, 31)
    assert schedule[13].due_date == date(2025, 2, 28)


def test_an_anchor_day_restores_the_day_after_a_clamped_first_date() -> None:
    schedule = repayment_schedule(
        Decimal("30000"),
        Decimal("0.05"),
        3,
        RepaymentMethod.EQUAL_PRINCIPAL,
        date(2026, 2, 28),
        anchor_day=31,
    )
    assert [i.due_date for i in schedule] == [
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]
    with pytest.raises(ValueError):
        repayment_schedule(
            Decimal("30000"),
            Decimal("0.05"),
            3,
            RepaymentMethod.EQUAL_PRINCIPAL,
            date(2026, 2, 10),
            anchor_day=31,
        )


def test_due_date_across_years() -> None:
    assert due_date(date(2025, 11, 30), 3) == date(2026, 2, 28)
    assert due_date(date(2025, 12, 15), 1) == date(2026, 1, 15)
    assert due_date(date(2026, 2, 28), 1, day=31) == date(2026, 3, 31)


@pytest.mark.parametrize(
    ("principal", "rate", "months"),
    [
        (Decimal("0"), Decimal("0.05"), 12),
        (Decimal("-1"), Decimal("0.05"), 12),
        (Decimal("100.001"), Decimal("0.05"), 12),
        (Decimal("1000"), Decimal("-0.01"), 12),
        (Decimal("1000"), Decimal("4.35"), 12),  # a percentage passed as a fraction
        (Decimal("1000"), Decimal("0.05"), 0),
        (Decimal("1000"), Decimal("0.05"), 601),
    ],
)
def test_bad_arguments_are_refused(principal: Decimal, rate: Decimal, months: int) -> None:
    with pytest.raises(ValueError):
        repayment_schedule(
            principal, rate, months, RepaymentMethod.EQUAL_PRINCIPAL, date(2026, 1, 1)
        )


def _check_schedule(
    schedule: list[Instalment], principal: Decimal, rate: Decimal, months: int
) -> None:
    assert len(schedule) == months
    assert sum(i.principal for i in schedule) == principal
    owed = principal
    for instalment in schedule:
        assert instalment.interest == cents(owed * rate / 12)
        owed -= instalment.principal
        assert instalment.remaining == owed
        assert instalment.principal >= 0
        assert instalment.total == instalment.principal + instalment.interest
        for figure in (instalment.principal, instalment.interest, instalment.total):
            assert figure == figure.quantize(CENT)
    assert schedule[-1].remaining == 0
    assert [i.number for i in schedule] == list(range(1, months + 1))


PRINCIPALS = st.decimals(
    min_value=Decimal("1000"), max_value=Decimal("10000000"), places=2, allow_nan=False
)
RATES = st.decimals(min_value=Decimal("0"), max_value=Decimal("0.24"), places=4, allow_nan=False)
MONTHS = st.integers(min_value=1, max_value=360)
FIRST_DUE = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=150)
@given(principal=PRINCIPALS, rate=RATES, months=MONTHS, method=st.sampled_from(RepaymentMethod))
def test_any_schedule_repays_exactly_the_principal(
    principal: Decimal, rate: Decimal, months: int, method: RepaymentMethod
) -> None:
    schedule = repayment_schedule(principal, rate, months, method, date(2026, 1, 31))
    _check_schedule(schedule, principal, rate, months)


@settings(max_examples=150)
@given(principal=PRINCIPALS, rate=RATES, months=MONTHS)
def test_equal_instalments_are_level_except_the_last(
    principal: Decimal, rate: Decimal, months: int
) -> None:
    schedule = repayment_schedule(
        principal, rate, months, RepaymentMethod.EQUAL_INSTALMENTS, date(2026, 1, 31)
    )
    level = {i.total for i in schedule[:-1]}
    assert len(level) <= 1
    if level:
        # The last one only absorbs the level payment's rounding (at most half a cent a
        # month), grown by the interest it saved or cost over the term.
        growth = (1 + rate / 12) ** months
        assert abs(schedule[-1].total - level.pop()) <= CENT * months * growth


@settings(max_examples=100)
@given(first_due=FIRST_DUE, months=st.integers(min_value=1, max_value=120))
def test_due_dates_are_monthly_on_the_same_day_or_the_month_end(
    first_due: date, months: int
) -> None:
    schedule = repayment_schedule(
        Decimal("50000"), Decimal("0.05"), months, RepaymentMethod.INTEREST_ONLY, first_due
    )
    assert schedule[0].due_date == first_due
    for previous, current in pairwise(schedule):
        months_apart = (current.due_date.year - previous.due_date.year) * 12 + (
            current.due_date.month - previous.due_date.month
        )
        assert months_apart == 1
        next_month_end = due_date(current.due_date, 0, day=31)
        assert current.due_date.day == min(first_due.day, next_month_end.day)
