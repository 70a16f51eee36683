"""One application as an officer reads it: answers (ID and phone masked unless revealed),
documents, the thread with the applicant (`storage.timeline`) and the decisions
open to the reader. Database and cipher only, no web framework.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from lending.masking import mask_id_number, mask_phone
from lending.products import DocumentType, SecurityType, label, required_documents
from lending.workflow import Role, Status, Trigger
from locales import N_
from storage.applications import Drafts
from storage.casework import InformationRequest, available_triggers, open_information_request
from storage.fields import FieldCipher
from storage.models import Application, Document, Officer
from storage.timeline import TimelineEntry, timeline

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


@dataclass(frozen=True)
class Answer:
    field: str
    label: str
    value: str | int | Decimal
    is_money: bool
    masked: bool


@dataclass(frozen=True)
class Reader:
    """Who reads the case file, and the amount above which only approvers decide."""

    officer_id: int
    role: Role
    approver_required_above: Decimal


@dataclass(frozen=True)
class CaseFile:
    """Everything the application page shows.

    `documents` are the active ones (the latest of each type); `missing_documents` the
    required types not received yet; `actions` the officer triggers the reader may fire now.
    """

    application: Application
    status: Status
    answers: list[Answer]
    documents: list[Document]
    missing_documents: tuple[DocumentType, ...]
    timeline: list[TimelineEntry]
    officer_names: dict[int, str]
    information_request: InformationRequest | None
    actions: list[Trigger]


# Statements built once (composing one costs about what running it does); values are bound.
_SUBMITTED_APPLICATION = select(Application).where(
    Application.id == bindparam("application_id"), Application.status != Status.DRAFT.value
)
_EVERY_DOCUMENT = (
    select(Document)
    .where(Document.application_id == bindparam("application_id"))
    .order_by(Document.id)
)
_OFFICER_NAMES = select(Officer.id, Officer.display_name).where(
    Officer.id.in_(bindparam("officer_ids", expanding=True))
)


async def find_application(session: AsyncSession, application_id: int) -> Application | None:
    found = await session.scalars(_SUBMITTED_APPLICATION, {"application_id": application_id})
    return found.one_or_none()


def _answers(application: Application, cipher: FieldCipher, *, reveal: bool) -> list[Answer]:
    values = Drafts(cipher).answers(application)
    answers = []
    for field, answer_label in ANSWER_LABELS:
        if field not in values:
            continue
        value = values[field]
        mask = MASKED_FIELDS.get(field)
        masked = mask is not None and not reveal
        if mask is not None and masked:
            value = mask(str(value))
        answers.append(Answer(field, answer_label, value, field in MONEY_FIELDS, masked))
    return answers


def _missing(application: Application, documents: Sequence[Document]) -> tuple[DocumentType, ...]:
    try:
        security = SecurityType(application.security_type or SecurityType.NONE.value)
    except ValueError:
        security = SecurityType.NONE
    present = {document.doc_type for document in documents}
    return tuple(doc for doc in required_documents(security) if doc.value not in present)


async def _officer_names(session: AsyncSession, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    found = await session.execute(_OFFICER_NAMES, {"officer_ids": sorted(ids)})
    return {officer_id: name for officer_id, name in found}


async def load_case_file(
    session: AsyncSession,
    cipher: FieldCipher,
    application: Application,
    *,
    reveal: bool,
    reader: Reader,
) -> CaseFile:
    """The case file of a submitted application (see `find_application`). Reads only."""
    application_id = application.id
    every_document = (
        await session.scalars(_EVERY_DOCUMENT, {"application_id": application_id})
    ).all()
    documents = sorted(
        (document for document in every_document if document.replaced_at is None),
        key=lambda document: (document.doc_type, document.id),
    )
    status = Status(application.status)
    entries = await timeline(session, cipher, application_id, documents=every_document)
    named = {
        officer_id
        for officer_id in (
            application.assigned_officer_id,
            application.recommended_by_id,
            application.decided_by_id,
            *(entry.actor_id for entry in entries if entry.actor_type == "officer"),
        )
        if officer_id is not None
    }
    request = (
        await open_information_request(session, cipher, application_id)
        if status is Status.INFO_REQUESTED
        else None
    )
    actions = await available_triggers(
        session,
        application,
        role=reader.role,
        officer_id=reader.officer_id,
        approver_required_above=reader.approver_required_above,
        active_documents=documents,
    )
    return CaseFile(
        application=application,
        status=status,
        answers=_answers(application, cipher, reveal=reveal),
        documents=documents,
        missing_documents=_missing(application, documents),
        timeline=entries,
        officer_names=await _officer_names(session, named),
        information_request=request,
        actions=actions,
    )


def document_label(doc_type: str) -> str:
    """The English message id naming a stored document type (the raw value if unknown)."""
    try:
        return label(DocumentType(doc_type))
    except ValueError:
        return doc_type


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
