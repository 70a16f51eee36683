"""Repayment schedules for the three repayment methods (design §3).

Money is `Decimal`, each figure rounded half-up to 0.01. The monthly rate is the annual rate
divided by 12 (how Chinese lenders quote 月利率), applied to the principal still owed. The
principal of the instalments sums exactly to the loan: the last instalment absorbs every
rounding difference. Due dates keep one day of the month, clamped to the month's end
(31 Jan → 29 Feb → 31 Mar), each computed from the first due date, so a short month never
drags the following dates earlier.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext

from lending.products import RepaymentMethod

CENT = Decimal("0.01")
MAX_MONTHS = 600
# Interest rates are fractions (0.0435 for 4.35 %); a value of 1 or more is almost surely a
# percentage passed by mistake, and would be far above any lawful rate anyway.
_MAX_ANNUAL_RATE = Decimal(1)
# Keeps every figure well inside the default 28-digit precision of decimal arithmetic.
_MAX_PRINCIPAL = Decimal(10) ** 15


@dataclass(frozen=True)
class Instalment:
    """One monthly repayment; `remaining` is the principal still owed after paying it."""

    number: int
    due_date: date
    principal: Decimal
    interest: Decimal
    total: Decimal
    remaining: Decimal


def due_date(first_due: date, months_later: int, *, day: int | None = None) -> date:
    """The due date `months_later` months after `first_due`, on `day` (default: its day)."""
    wanted_day = first_due.day if day is None else day
    month_index = first_due.month - 1 + months_later
    year, month = first_due.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(wanted_day, calendar.monthrange(year, month)[1]))


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def repayment_schedule(
    principal: Decimal,
    annual_rate: Decimal,
    months: int,
    method: RepaymentMethod,
    first_due: date,
    *,
    anchor_day: int | None = None,
) -> list[Instalment]:
    """The instalments of a loan of `principal` at `annual_rate` (a fraction) over `months`.

    `anchor_day` is the day of the month every instalment keeps (default: `first_due`'s day);
    give it when `first_due` was already clamped, e.g. 31 for a first due date of 28 February.
    """
    if not 0 < principal < _MAX_PRINCIPAL or principal != principal.quantize(CENT):
        raise ValueError("principal must be positive, below 10^15, with at most two decimals")
    if not 0 <= annual_rate < _MAX_ANNUAL_RATE:
        raise ValueError("annual_rate must be a fraction in [0, 1), e.g. 0.0435 for 4.35%")
    if not 1 <= months <= MAX_MONTHS:
        raise ValueError(f"months must be between 1 and {MAX_MONTHS}")
    day = first_due.day if anchor_day is None else anchor_day
    if not 1 <= day <= 31 or due_date(first_due, 0, day=day) != first_due:
        raise ValueError("anchor_day must give first_due itself for the first month")

    with localcontext() as context:
        context.prec = 50
        monthly_rate = annual_rate / 12
        level_payment = Decimal(0)
        if method is RepaymentMethod.EQUAL_INSTALMENTS:
            if monthly_rate == 0:
                level_payment = _cents(principal / months)
            else:
                growth = (1 + monthly_rate) ** months
                level_payment = _cents(principal * monthly_rate * growth / (growth - 1))
        equal_principal = _cents(principal / months)

        instalments = _instalments(
            principal, annual_rate, months, method, level_payment, equal_principal, first_due, day
        )
        if method is RepaymentMethod.EQUAL_INSTALMENTS and _repaid_early(instalments):
            # Rounding the level payment up repays tiny, very long loans before the end;
            # rounding it down instead leaves the difference to the last instalment.
            level_payment = _level_payment_down(principal, monthly_rate, months)
            instalments = _instalments(
                principal,
                annual_rate,
                months,
                method,
                level_payment,
                equal_principal,
                first_due,
                day,
            )
    return instalments


def _level_payment_down(principal: Decimal, monthly_rate: Decimal, months: int) -> Decimal:
    """The equal-instalment payment rounded down to the cent."""
    with localcontext() as context:
        context.prec = 50
        if monthly_rate == 0:
            exact = principal / months
        else:
            growth = (1 + monthly_rate) ** months
            exact = principal * monthly_rate * growth / (growth - 1)
        return exact.quantize(CENT, rounding=ROUND_DOWN)


def _repaid_early(instalments: list[Instalment]) -> bool:
    return any(i.remaining == 0 for i in instalments[:-1])


def _instalments(
    principal: Decimal,
    annual_rate: Decimal,
    months: int,
    method: RepaymentMethod,
    level_payment: Decimal,
    equal_principal: Decimal,
    first_due: date,
    day: int | None,
) -> list[Instalment]:
    instalments = []
    remaining = principal
    with localcontext() as context:
        context.prec = 50
        for number in range(1, months + 1):
            # Multiplying before dividing keeps exact half-cents exact, so half-up applies.
            interest = _cents(remaining * annual_rate / 12)
            if number == months:
                repaid = remaining
            elif method is RepaymentMethod.EQUAL_INSTALMENTS:
                repaid = level_payment - interest
            elif method is RepaymentMethod.EQUAL_PRINCIPAL:
                repaid = equal_principal
            else:
                repaid = Decimal("0.00")
            # Only reachable for tiny loans over many months, where rounding up each share
            # would otherwise repay more than is owed before the end.
            repaid = min(max(repaid, Decimal("0.00")), remaining)
            remaining -= repaid
            instalments.append(
                Instalment(
                    number=number,
                    due_date=due_date(first_due, number - 1, day=day),
                    principal=repaid,
                    interest=interest,
                    total=repaid + interest,
                    remaining=remaining,
                )
            )
    return instalments
