"""How answers and documents appear to the applicant: field names, values, the checklist.

ID and phone numbers only ever leave this layer masked; amounts travel as `Money` and
choices as their translatable product labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from conversations.replies import Masked, Message, Money, Value
from lending.masking import mask_id_number, mask_phone
from lending.products import (
    DocumentType,
    Industry,
    LoanPurpose,
    ProductChoice,
    RepaymentMethod,
    SecurityType,
    label,
    required_documents,
)
from locales import N_

FIELD_LABELS = {
    "company_name": N_("Company name"),
    "credit_code": N_("Unified social credit code"),
    "industry": N_("Industry"),
    "years_in_operation": N_("Years in operation"),
    "employees": N_("Employees"),
    "annual_revenue": N_("Annual revenue"),
    "owner_name": N_("Owner's name"),
    "owner_id_number": N_("Owner's resident ID number"),
    "phone": N_("Mobile phone"),
    "amount": N_("Loan amount"),
    "term_months": N_("Term"),
    "purpose": N_("Purpose"),
    "repayment_method": N_("Repayment method"),
    "security_type": N_("Security"),
    "security_details": N_("Security details"),
    "documents": N_("Documents"),
}

CHOICE_ENUMS: Mapping[str, type[ProductChoice]] = {
    "industry": Industry,
    "purpose": LoanPurpose,
    "repayment_method": RepaymentMethod,
    "security_type": SecurityType,
}

MONTHS = N_("{months} months")
FIELD_VALUE = N_("{field}: {value}")
NOT_ANSWERED = N_("(not answered)")

CHECKLIST_LINE = N_("{document}: {state}")
RECEIVED = N_("received ✅")
REQUIRED = N_("required")
OPTIONAL = N_("optional")
RECEIVED_BUTTON = N_("{document} ✅")
MISSING_LINE = N_("• {document}")


def answer_value(field: str, value: str | int | Decimal) -> Value:
    """The display value of a stored answer: masked, as money, or as a label where it applies."""
    if field == "owner_id_number":
        return Masked(mask_id_number(str(value)))
    if field == "phone":
        return Masked(mask_phone(str(value)))
    if field in ("amount", "annual_revenue"):
        return Money(Decimal(value))
    if field == "term_months":
        return Message(MONTHS, {"months": int(value)})
    choices = CHOICE_ENUMS.get(field)
    if choices is not None:
        member = choice(choices, str(value))
        return Message(label(member)) if member is not None else str(value)
    return value if isinstance(value, int) else str(value)


def choice(choices: type[ProductChoice], value: str) -> ProductChoice | None:
    """The member of `choices` with this stored value, or None for anything else."""
    for member in choices:
        if member.value == value:
            return member
    return None


def security_type(answers: Mapping[str, str | int | Decimal]) -> SecurityType:
    """The chosen security type; no security until one is chosen."""
    member = choice(SecurityType, str(answers.get("security_type", "")))
    return member if isinstance(member, SecurityType) else SecurityType.NONE


def checklist(answers: Mapping[str, str | int | Decimal]) -> tuple[tuple[DocumentType, bool], ...]:
    """Every document type in checklist order, with whether the application requires it."""
    required = required_documents(security_type(answers))
    optional = tuple(kind for kind in DocumentType if kind not in required)
    return tuple((kind, True) for kind in required) + tuple((kind, False) for kind in optional)


def missing_documents(
    answers: Mapping[str, str | int | Decimal], received: frozenset[str] | set[str]
) -> tuple[DocumentType, ...]:
    return tuple(
        kind for kind in required_documents(security_type(answers)) if kind not in received
    )


def document_label(kind: DocumentType) -> Message:
    return Message(label(kind))
