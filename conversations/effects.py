"""What the adapter must persist for an event, in order, in the same unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ANSWER_FIELDS = (
    "company_name",
    "credit_code",
    "industry",
    "years_in_operation",
    "employees",
    "annual_revenue",
    "owner_name",
    "owner_id_number",
    "phone",
    "amount",
    "term_months",
    "purpose",
    "repayment_method",
    "security_type",
    "security_details",
)


@dataclass(frozen=True)
class SetLocale:
    """Store the applicant's language choice (`en` or `zh_Hans`)."""

    locale: str


@dataclass(frozen=True)
class RecordConsent:
    """Record consent to the privacy notice of `version` on the draft, with the current time."""

    version: str


@dataclass(frozen=True)
class StartDraft:
    """Create the applicant's draft application."""


@dataclass(frozen=True)
class SaveAnswer:
    """Store a validated, normalised answer on the draft; `field` is one of ANSWER_FIELDS.

    An empty string clears the field (security_details when the security type becomes none).
    """

    field: str
    value: str | int | Decimal

    def __repr__(self) -> str:
        # Answers include ID and phone numbers, which must never reach a log through a repr.
        return f"SaveAnswer(field={self.field!r}, value=<hidden>)"


@dataclass(frozen=True)
class AttachDocument:
    """Confirm the file just stored as the draft's `doc_type`, replacing an earlier one."""

    doc_type: str


@dataclass(frozen=True)
class SubmitApplication:
    """Submit the draft: assign a reference, set status submitted, feed SubmissionRecorded."""


@dataclass(frozen=True)
class DiscardDraft:
    """Delete the draft application with its answers and documents."""


Effect = (
    SetLocale
    | RecordConsent
    | StartDraft
    | SaveAnswer
    | AttachDocument
    | SubmitApplication
    | DiscardDraft
)
