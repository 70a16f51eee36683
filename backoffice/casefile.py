"""One application as an officer reads it: answers (ID and phone masked unless revealed),
documents, and a timeline of what happened. Database and cipher only, no web framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lending.masking import mask_id_number, mask_phone
from lending.workflow import Status
from locales import N_
from storage.applications import Drafts
from storage.fields import FieldCipher
from storage.models import Application, ApplicationMessage, AuditEvent, Document

# The answers in the order the applicant gave them, with their labels (message ids).
ANSWER_LABELS: tuple[tuple[str, str], ...] = (
    ("company_name", N_("Company name")),
    ("credit_code", N_("Unified social credit code")),
    ("industry", N_("Industry")),
    ("years_in_operation", N_("Years in operation")),
    ("employees", N_("Employees")),
    ("annual_revenue", N_("Annual revenue")),
    ("owner_name", N_("Owner")),
    ("owner_id_number", N_("Resident ID number")),
    ("phone", N_("Mobile phone")),
    ("amount", N_("Amount")),
    ("term_months", N_("Term (months)")),
    ("purpose", N_("Purpose")),
    ("repayment_method", N_("Repayment method")),
    ("security_type", N_("Collateral or guarantee")),
    ("security_details", N_("Collateral or guarantee details")),
)
MASKED_FIELDS = {"owner_id_number": mask_id_number, "phone": mask_phone}
MONEY_FIELDS = frozenset({"annual_revenue", "amount"})
# What the timeline calls the events it knows; others show their action name.
TIMELINE_LABELS = {
    "application.submitted": N_("Submitted by the applicant"),
    "consent.recorded": N_("Privacy notice accepted"),
    "document.received": N_("Document received"),
}
# Reads are audited but are not events in the application's own story.
_NOT_IN_TIMELINE = frozenset(
    {"application.viewed", "application.personal_data_revealed", "document.downloaded"}
)


@dataclass(frozen=True)
class Answer:
    field: str
    label: str
    value: str | int | Decimal
    is_money: bool
    masked: bool


@dataclass(frozen=True)
class TimelineEntry:
    moment: datetime
    kind: str  # "event" or "message"
    action: str
    direction: str | None = None
    body: str | None = None


@dataclass(frozen=True)
class CaseFile:
    application: Application
    status: Status
    answers: list[Answer]
    documents: list[Document]
    timeline: list[TimelineEntry]


async def find_application(session: AsyncSession, application_id: int) -> Application | None:
    found = await session.scalars(
        select(Application).where(
            Application.id == application_id, Application.status != Status.DRAFT.value
        )
    )
    return found.one_or_none()


def _answers(application: Application, cipher: FieldCipher, *, reveal: bool) -> list[Answer]:
    values = Drafts(cipher).answers(application)
    answers = []
    for field, label in ANSWER_LABELS:
        if field not in values:
            continue
        value = values[field]
        mask = MASKED_FIELDS.get(field)
        masked = mask is not None and not reveal
        if mask is not None and masked:
            value = mask(str(value))
        answers.append(Answer(field, label, value, field in MONEY_FIELDS, masked))
    return answers


async def _timeline(session: AsyncSession, application_id: int) -> list[TimelineEntry]:
    events = await session.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.subject_type == "application",
            AuditEvent.subject_id == str(application_id),
            AuditEvent.action.not_in(_NOT_IN_TIMELINE),
        )
        .order_by(AuditEvent.seq)
    )
    messages = await session.scalars(
        select(ApplicationMessage)
        .where(ApplicationMessage.application_id == application_id)
        .order_by(ApplicationMessage.id)
    )
    entries = [TimelineEntry(event.occurred_at, "event", event.action) for event in events]
    entries += [
        TimelineEntry(message.created_at, "message", "message", message.direction, message.body)
        for message in messages
    ]
    return sorted(entries, key=lambda entry: entry.moment)


async def load_case_file(
    session: AsyncSession, cipher: FieldCipher, application_id: int, *, reveal: bool
) -> CaseFile | None:
    application = await find_application(session, application_id)
    if application is None:
        return None
    documents = await session.scalars(
        select(Document)
        .where(Document.application_id == application_id, Document.replaced_at.is_(None))
        .order_by(Document.doc_type, Document.id)
    )
    return CaseFile(
        application=application,
        status=Status(application.status),
        answers=_answers(application, cipher, reveal=reveal),
        documents=list(documents),
        timeline=await _timeline(session, application_id),
    )


async def find_document(
    session: AsyncSession, application_id: int, document_id: int
) -> Document | None:
    """The document, only if it belongs to that (submitted) application."""
    found = await session.scalars(
        select(Document)
        .join(Application, Application.id == Document.application_id)
        .where(
            Document.id == document_id,
            Document.application_id == application_id,
            Application.status != Status.DRAFT.value,
        )
    )
    return found.one_or_none()
