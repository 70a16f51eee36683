"""The page helpers kept for speed: cached formats and counts, still right."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from backoffice.queue import StatusCounter
from backoffice.rendering import moment_text, money_text, number_text
from lending.workflow import Status
from locales import format_moment, format_money, format_number
from storage.database import Database
from tests.test_backoffice_harness import add_application

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_cached_formats_are_the_locales_formats(locale: str) -> None:
    for amount in (Decimal("0"), Decimal("300000"), Decimal("300000.00"), Decimal("1234.5")):
        assert money_text(amount, locale) == format_money(amount, locale)
        assert number_text(amount, locale) == format_number(amount, locale)
    moment = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    assert moment_text(moment, SHANGHAI, locale) == format_moment(
        moment.astimezone(SHANGHAI), locale
    )


def test_the_same_instant_in_two_zones_is_not_mixed_up() -> None:
    moment = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
    in_shanghai = moment_text(moment.astimezone(SHANGHAI), SHANGHAI, "en")
    in_utc = moment_text(moment, UTC, "en")
    assert "9:00" in in_shanghai and "1:00" in in_utc


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


async def test_counts_are_reused_for_a_few_seconds_then_counted_again(
    database: Database,
) -> None:
    clock = FakeMonotonic()
    counter = StatusCounter(max_age=5.0, clock=clock)
    await add_application(database, company="First Ltd")
    assert (await counter.counts(database))[Status.SUBMITTED] == 1

    await add_application(database, company="Second Ltd")
    clock.now += 4.9
    assert (await counter.counts(database))[Status.SUBMITTED] == 1  # still the kept counts
    clock.now += 0.2
    assert (await counter.counts(database))[Status.SUBMITTED] == 2

    await add_application(database, company="Third Ltd")
    counter.invalidate()
    assert (await counter.counts(database))[Status.SUBMITTED] == 3


async def test_the_kept_counts_cannot_be_changed_by_a_caller(database: Database) -> None:
    counter = StatusCounter(clock=FakeMonotonic())
    first = await counter.counts(database)
    first[Status.SUBMITTED] = 99
    assert (await counter.counts(database))[Status.SUBMITTED] == 0
