"""`InvalidAnswer`: why an applicant's answer was refused, ready to translate and format."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal


class InvalidAnswer(Exception):
    """An answer the applicant must send again.

    `message` is an English message id (translate it, then `str.format` it). `params` holds
    plain-text values for the message's placeholders; `values` holds the same placeholders as
    numbers for the renderer to format for the locale (a `Decimal` is money in CNY, an `int` a
    plain number), overriding `params`. `example` is a literal valid answer to show; it is the
    only example the applicant sees, so `message` never gives one of its own.
    No part of the applicant's input is ever kept here.
    """

    def __init__(
        self,
        message: str,
        example: str,
        params: Mapping[str, str] | None = None,
        values: Mapping[str, Decimal | int] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.example = example
        self.params: dict[str, str] = dict(params or {})
        self.values: dict[str, Decimal | int] = dict(values or {})


def _plain(values: Mapping[str, Decimal | int]) -> dict[str, str]:
    return {
        name: format(value, "f") if isinstance(value, Decimal) else str(value)
        for name, value in values.items()
    }


def refusal(message: str, example: str, **values: Decimal | int) -> InvalidAnswer:
    """An `InvalidAnswer` whose placeholders are filled from `values` (also as plain text)."""
    return InvalidAnswer(message, example, params=_plain(values), values=values)
