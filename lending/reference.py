"""Application reference numbers shown to applicants and officers, e.g. ``SME-2026-000123``."""

from __future__ import annotations

PREFIX = "SME"


def application_reference(year: int, number: int) -> str:
    """The reference for the `number`-th application of `year` (numbers start at 1).

    Numbers beyond 999 999 simply get more digits, so references stay unique.
    """
    if not 1000 <= year <= 9999:
        raise ValueError("year must have four digits")
    if number < 1:
        raise ValueError("number must be positive")
    return f"{PREFIX}-{year:04d}-{number:06d}"
