"""Turn a typed answer into the normalised value to save, or into the lines that re-ask it.

The checks themselves live in `lending.answers`; this module picks the right one per
question, adds the few checks only the conversation needs (overall length, the free-text
security description) and phrases every refusal the same way: the reason, then one
"Example:" line. The reason never carries an example of its own (see `InvalidAnswer`), so
each refusal shows exactly one, and it is an answer the same question accepts.
"""

from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal

from conversations.display import MONTHS
from conversations.replies import Message, Money, Value
from lending.answers import (
    InvalidAnswer,
    parse_amount,
    parse_company_name,
    parse_count,
    parse_credit_code,
    parse_id_number,
    parse_person_name,
    parse_revenue,
    parse_term,
)
from lending.products import ProductLimits
from locales import N_

# No typed answer needs more (security details are stored in 500 characters); longer text is
# refused before any validator runs.
MAX_ANSWER_LENGTH = 500
MIN_DETAILS_LENGTH = 4

MAX_YEARS_IN_OPERATION = 200
MAX_EMPLOYEES = 1_000_000

EXAMPLE_LINE = N_("Example: {example}")
TOO_LONG = N_(
    "That answer is too long ({length} characters). Please send at most {maximum} characters."
)
DETAILS_TOO_SHORT = N_("Please describe it in a few words (at least {minimum} characters).")
DETAILS_EXAMPLE = N_("Factory building in Suzhou, about 200万")
DETAILS_CONTROL_CHARACTERS = N_(
    "That description contains invisible control characters. Please type it again."
)

TEXT_FIELDS = (
    "company_name",
    "credit_code",
    "years_in_operation",
    "employees",
    "annual_revenue",
    "owner_name",
    "owner_id_number",
    "amount",
    "term_months",
    "security_details",
)


class Rejection(Exception):
    """An answer that is not accepted, with the lines that explain why (reason, example)."""

    def __init__(self, lines: tuple[Message, ...]) -> None:
        super().__init__("answer rejected")
        self.lines = lines


def parse_answer(
    field: str, text: str, *, today: date, limits: ProductLimits
) -> str | int | Decimal:
    """The normalised value of a typed answer to `field`'s question; raises Rejection."""
    if len(text) > MAX_ANSWER_LENGTH:
        raise Rejection((Message(TOO_LONG, {"length": len(text), "maximum": MAX_ANSWER_LENGTH}),))
    try:
        return _parse(field, text, today=today, limits=limits)
    except InvalidAnswer as invalid:
        raise Rejection(rejection_lines(invalid, field)) from None


def rejection_lines(invalid: InvalidAnswer, field: str = "") -> tuple[Message, ...]:
    """The validator's reason (numbers as numbers, amounts as money) and its example."""
    params: dict[str, Value] = dict(invalid.params)
    for name, number in invalid.values.items():
        params[name] = Money(number) if isinstance(number, Decimal) else number
    return (
        Message(invalid.message, params),
        Message(EXAMPLE_LINE, {"example": _shown_example(field, invalid.example)}),
    )


def _shown_example(field: str, example: str) -> Value:
    # A bare "12" under the term question reads as a count; "12 months" (12个月) is a term,
    # and the parser accepts it in both languages.
    if field == "term_months" and example.isdigit():
        return Message(MONTHS, {"months": int(example)})
    return example


def _parse(field: str, text: str, *, today: date, limits: ProductLimits) -> str | int | Decimal:
    if field == "company_name":
        return parse_company_name(text)
    if field == "credit_code":
        return parse_credit_code(text)
    if field == "years_in_operation":
        return parse_count(text, minimum=0, maximum=MAX_YEARS_IN_OPERATION)
    if field == "employees":
        return parse_count(text, minimum=0, maximum=MAX_EMPLOYEES)
    if field == "annual_revenue":
        return parse_revenue(text)
    if field == "owner_name":
        return parse_person_name(text)
    if field == "owner_id_number":
        return parse_id_number(text, today=today)
    if field == "amount":
        return parse_amount(text, limits)
    if field == "term_months":
        return parse_term(text, limits)
    if field == "security_details":
        return _parse_details(text)
    raise ValueError(f"{field} is not a typed answer")


def _parse_details(text: str) -> str:
    details = " ".join(text.split())
    # Bidi overrides and other invisible characters could disguise the text an officer reads.
    if any(unicodedata.category(char).startswith("C") for char in details):
        raise Rejection(
            (
                Message(DETAILS_CONTROL_CHARACTERS),
                Message(EXAMPLE_LINE, {"example": Message(DETAILS_EXAMPLE)}),
            )
        )
    if len(details) < MIN_DETAILS_LENGTH:
        raise Rejection(
            (
                Message(DETAILS_TOO_SHORT, {"minimum": MIN_DETAILS_LENGTH}),
                Message(EXAMPLE_LINE, {"example": Message(DETAILS_EXAMPLE)}),
            )
        )
    return details
