"""What the adapter must persist for an event, in order, in the same unit of work."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# What one message to an officer may hold: the back-office's limit for the thread.
MAX_MESSAGE_LENGTH = 2000

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
class AttachInfoDocument:
    """Confirm the file just stored as `doc_type` of the applicant's OPEN application.

    Not the draft: this answers an officer's request for information. The adapter stores it
    as that application's active document of the type (replacing an earlier one), then tells
    the back-office through `decisions.record_applicant_reply(document_type=doc_type)`.
    """

    doc_type: str


@dataclass(frozen=True)
class ReplyToOfficer:
    """Pass the applicant's `text` to the officers' thread of their open application.

    It may answer the open request's question: the adapter calls
    `decisions.record_applicant_reply(text=text)`. At most MAX_MESSAGE_LENGTH characters.
    """

    text: str

    def __repr__(self) -> str:
        # Applicants write what they like to their officer, ID and phone numbers included.
        return f"ReplyToOfficer(text=<{len(self.text)} characters>)"


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
    | AttachInfoDocument
    | ReplyToOfficer
    | SubmitApplication
    | DiscardDraft
)
