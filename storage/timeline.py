"""An application's history for its page: status changes, the thread both ways, documents.

Built from the audit events about the application (reads left out), its messages (texts
decrypted) and its documents, oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from lending.workflow import Status
from storage.casework import message_text
from storage.fields import FieldCipher
from storage.models import ApplicationMessage, AuditEvent, Document

# Audited reads and refusals: events about an application that change nothing in it.
_NOT_IN_TIMELINE = (
    "application.viewed",
    "application.personal_data_revealed",
    "application.decision_refused",
    "application.message_sent",
    "application.message_received",
    "document.downloaded",
)

# Built once, since every application page runs them; the values are bound per call.
_EVENTS = (
    select(AuditEvent)
    .where(
        AuditEvent.subject_type == "application",
        AuditEvent.subject_id == bindparam("subject_id"),
        # Reads outnumber changes by far as an application is worked on; leave them in the
        # database.
        AuditEvent.action.not_in(_NOT_IN_TIMELINE),
    )
    .order_by(AuditEvent.seq)
)
_MESSAGES = (
    select(ApplicationMessage)
    .where(ApplicationMessage.application_id == bindparam("application_id"))
    .order_by(ApplicationMessage.id)
)
_DOCUMENTS = (
    select(Document)
    .where(Document.application_id == bindparam("application_id"))
    .order_by(Document.id)
)


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened to an application, for its page.

    kind "status": `action`, `from_status`, `to_status` (and `reason` for decisions);
    kind "message": `direction` ("out" from an officer, "in" from the applicant), `body`,
    `requested_documents`; kind "document": `doc_type`, `document_id`, `replaced`.
    `actor_type` is "officer", "applicant" or "system"; `actor_id` the officer's or
    applicant's id where known.
    """

    moment: datetime
    kind: Literal["status", "message", "document"]
    actor_type: str
    actor_id: int | None = None
    action: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    reason: str | None = None
    direction: str | None = None
    body: str | None = None
    requested_documents: tuple[str, ...] = ()
    doc_type: str | None = None
    document_id: int | None = None
    replaced: bool = False


async def timeline(
    session: AsyncSession,
    cipher: FieldCipher,
    application_id: int,
    *,
    documents: Sequence[Document] | None = None,
) -> list[TimelineEntry]:
    """Status changes, messages both ways (decrypted) and document arrivals, oldest first.

    Pass every document of the application (replaced ones too) if already loaded.
    """
    events = await session.scalars(_EVENTS, {"subject_id": str(application_id)})
    entries = [_status_entry(event) for event in events if _is_status_change(event)]
    messages = await session.scalars(_MESSAGES, {"application_id": application_id})
    entries += [
        TimelineEntry(
            moment=message.created_at,
            kind="message",
            actor_type="officer" if message.direction == "out" else "applicant",
            actor_id=message.officer_id,
            direction=message.direction,
            body=message_text(cipher, message),
            requested_documents=tuple(message.requested_documents or ()),
        )
        for message in messages
    ]
    if documents is None:
        documents = (await session.scalars(_DOCUMENTS, {"application_id": application_id})).all()
    entries += [
        TimelineEntry(
            moment=document.created_at,
            kind="document",
            actor_type="applicant",
            doc_type=document.doc_type,
            document_id=document.id,
            replaced=document.replaced_at is not None,
        )
        for document in documents
    ]
    # Within one instant: what arrived, then what was said, then the status it led to.
    rank = {"document": 0, "message": 1, "status": 2}
    return sorted(entries, key=lambda entry: (entry.moment, rank[entry.kind]))


def _is_status_change(event: AuditEvent) -> bool:
    details = event.details or {}
    return event.action == "application.submitted" or ("from" in details and "to" in details)


def _status_entry(event: AuditEvent) -> TimelineEntry:
    details: dict[str, Any] = event.details or {}
    submitted = event.action == "application.submitted"
    reason = details.get("reason")
    return TimelineEntry(
        moment=event.occurred_at,
        kind="status",
        actor_type=event.actor_type,
        actor_id=int(event.actor_id) if event.actor_id and event.actor_id.isdigit() else None,
        action=event.action,
        from_status=Status.DRAFT.value if submitted else str(details["from"]),
        to_status=Status.SUBMITTED.value if submitted else str(details["to"]),
        reason=str(reason) if reason is not None else None,
    )
