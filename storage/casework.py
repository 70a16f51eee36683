"""Officers' decisions on applications, and the thread between officer and applicant.

The service the back-office pages (and, for applicant replies, the bot) call. Every function
works inside the caller's unit of work and never commits: the status change, its one audit
event and the applicant's outbox notice commit together or not at all (design §1). Each
checks everything that can be refused *before* it changes anything, so a caller that catches
`DecisionError` and still commits leaves the database exactly as it was.

Message texts (officers' messages and questions, applicants' replies) are free text and may
hold ID or phone numbers, so they are stored only encrypted (`body_enc`, sealed by the field
cipher with table "application_messages", column "body" and the message's id) and never
copied into audit events or outbox payloads: a notice names its message by id and the bot
reads and decrypts the text when it sends it (design §4.2).

Status changes go through `lending.workflow.fire`, which owns the rules (roles, four eyes,
approver above the limit, required documents, a reason for every rejection). On PostgreSQL the
application row is locked (`FOR UPDATE`) before the machine runs, so two officers deciding at
once are serialised and the second sees the first one's result; SQLite's `BEGIN IMMEDIATE`
already serialises whole transactions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from lending.products import DocumentType, SecurityType, required_documents
from lending.workflow import (
    TERMINAL_STATUSES,
    Actor,
    ApplicationCase,
    Role,
    Status,
    Transition,
    Trigger,
    WorkflowError,
    allowed_triggers,
    fire,
)
from locales import N_
from storage import audit, outbox
from storage.applications import active_documents
from storage.fields import FieldCipher
from storage.models import Applicant, Application, ApplicationMessage, AuditEvent, Document, Officer

STATUS_CHANGED = "status_changed"
OFFICER_MESSAGE = "officer_message"
INFO_REQUEST = "info_request"
# Where a message's text is sealed: the associated data of its ciphertext.
MESSAGE_TABLE = "application_messages"
MESSAGE_COLUMN = "body"

# Officer-written text (messages, questions, reasons) is read in chat: one Telegram message.
MAX_TEXT_LENGTH = 2000

# Triggers an officer fires through `apply_decision`; request_info needs its own function
# because it always carries what is being asked for.
DECISION_TRIGGERS = frozenset(
    {Trigger.OPEN, Trigger.RECOMMEND, Trigger.APPROVE, Trigger.REJECT, Trigger.DISBURSE}
)
OFFICER_TRIGGERS = DECISION_TRIGGERS | {Trigger.REQUEST_INFO}
# What the applicant hears about. pending_approval is internal; info_requested reaches them
# as an "info_request" notice carrying the request itself.
NOTIFIED_STATUSES = frozenset(
    {Status.UNDER_REVIEW, Status.APPROVED, Status.REJECTED, Status.ACTIVE}
)
# Only a rejection's reason is meant for the applicant; other notes stay in the back-office.
_REASON_SHOWN_FOR = frozenset({Status.REJECTED})
_MESSAGING_ROLES = frozenset({Role.OFFICER, Role.APPROVER})


FORBIDDEN_CODES = frozenset(
    {"forbidden_role", "four_eyes", "approver_required", "officer_disabled"}
)


class DecisionError(Exception):
    """A refused request. `message` is an English message id; `code` is stable for callers.

    Codes: those of `lending.workflow.WorkflowError` (illegal_transition, forbidden_role,
    documents_missing, four_eyes, approver_required, reason_required) and not_found,
    officer_disabled, not_officer_trigger, request_empty, unknown_document_type,
    message_empty, message_too_long, reason_too_long, reason_has_personal_data, not_open.
    `FORBIDDEN_CODES` are the refusals about who is asking rather than what is asked.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


@dataclass(frozen=True)
class InformationRequest:
    """The request an info_requested application waits on, and what is still missing."""

    message_id: int
    requested_at: datetime
    documents: tuple[DocumentType, ...]
    question: str | None
    missing_documents: tuple[DocumentType, ...]


# --- officers' decisions -------------------------------------------------------------------


async def apply_decision(
    session: AsyncSession,
    *,
    application_id: int,
    officer_id: int,
    trigger: Trigger,
    approver_required_above: Decimal,
    reason: str | None = None,
    now: datetime,
) -> Application:
    """Fire an officer's trigger (open, recommend, approve, reject, disburse) and record it."""
    _require_aware(now)
    if trigger is Trigger.REQUEST_INFO:
        raise _request_empty()
    if trigger not in DECISION_TRIGGERS:
        raise DecisionError(
            N_("Only the applicant or the system can take this step."), "not_officer_trigger"
        )
    reason = _clean_reason(reason)
    actor = await _officer_actor(session, officer_id)
    application = await _load(session, application_id, lock=True)
    transition = _fire(
        await _case(session, application),
        trigger,
        actor,
        approver_required_above=approver_required_above,
        reason=reason,
    )
    details: dict[str, object] = {"from": transition.source.value, "to": transition.target.value}
    if reason is not None:
        details["reason"] = reason
    try:
        await _record(session, actor, application, f"application.{trigger.value}", details, now)
    except ValueError:
        # audit.record checks its details before writing anything: only the officer's own
        # text can carry an ID or phone number here.
        if reason is None:
            raise
        raise DecisionError(
            N_("Please do not write ID numbers or phone numbers in the reason."),
            "reason_has_personal_data",
        ) from None

    application.status = transition.target.value
    application.updated_at = now
    if trigger is Trigger.OPEN:
        application.assigned_officer_id = transition.case.assigned_to
    elif trigger is Trigger.RECOMMEND:
        application.recommended_by_id = transition.case.recommended_by
    elif trigger in (Trigger.APPROVE, Trigger.REJECT):
        application.decided_by_id = actor.id
        application.decision_reason = reason
    if transition.target in NOTIFIED_STATUSES:
        shown_reason = reason if transition.target in _REASON_SHOWN_FOR else None
        payload = {
            "reference": application.reference or "",
            "status": transition.target.value,
            "reason": shown_reason,
        }
        outbox.enqueue(session, await _applicant(session, application), STATUS_CHANGED, payload)
    await session.flush()
    return application


async def request_information(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    application_id: int,
    officer_id: int,
    documents: Sequence[str],
    question: str | None,
    now: datetime,
) -> ApplicationMessage:
    """Ask the applicant for documents (DocumentType values) and/or an answer to a question;
    the application waits on them (info_requested)."""
    _require_aware(now)
    wanted = _document_types(documents)
    asked = _clean_text(question, empty_ok=True)
    if not wanted and asked is None:
        raise _request_empty()
    actor = await _officer_actor(session, officer_id)
    application = await _load(session, application_id, lock=True)
    transition = _fire(
        await _case(session, application),
        Trigger.REQUEST_INFO,
        actor,
        approver_required_above=Decimal(0),
    )

    message = await _add_message(
        session,
        cipher,
        application=application,
        direction="out",
        officer_id=actor.id,
        text=asked or "",
        requested_documents=[doc.value for doc in wanted],
        now=now,
    )
    await _record(
        session,
        actor,
        application,
        "application.request_info",
        {
            "from": transition.source.value,
            "to": transition.target.value,
            "message_id": message.id,
            "documents": [doc.value for doc in wanted],
            "question_length": len(asked or ""),
        },
        now,
    )
    application.status = transition.target.value
    application.updated_at = now
    payload = {
        "reference": application.reference or "",
        "documents": [doc.value for doc in wanted],
        "has_question": asked is not None,
        "message_id": message.id,
    }
    outbox.enqueue(session, await _applicant(session, application), INFO_REQUEST, payload)
    await session.flush()
    return message


async def message_applicant(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    application_id: int,
    officer_id: int,
    body: str,
    now: datetime,
) -> ApplicationMessage:
    """Send the applicant a free-text message from an officer or approver."""
    _require_aware(now)
    text = _clean_text(body, empty_ok=False)
    assert text is not None
    actor = await _officer_actor(session, officer_id)
    if actor.role not in _MESSAGING_ROLES:
        raise _forbidden()
    application = await _load(session, application_id, lock=False)
    # The applicant can no longer answer in chat, so a message would promise a reply
    # nobody reads.
    if Status(application.status) in TERMINAL_STATUSES:
        raise _not_open()

    message = await _add_message(
        session,
        cipher,
        application=application,
        direction="out",
        officer_id=actor.id,
        text=text,
        requested_documents=[],
        now=now,
    )
    await _record(
        session,
        actor,
        application,
        "application.message_sent",
        {"message_id": message.id, "length": len(text)},
        now,
    )
    payload = {"reference": application.reference or "", "message_id": message.id}
    outbox.enqueue(session, await _applicant(session, application), OFFICER_MESSAGE, payload)
    await session.flush()
    return message


# --- the applicant's side (called by the bot) ---------------------------------------------


async def record_applicant_reply(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    application_id: int,
    text: str | None,
    document_type: str | None,
    now: datetime,
) -> ApplicationMessage | None:
    """Record what the applicant sent in chat; it may answer the open information request.

    Call it after the uploaded document (if any) is stored as the application's active
    document of `document_type`. A text is stored as an incoming message (returned); a
    document alone stores no message (the document is the record) and returns None. When the
    application is info_requested and the request is now answered (every requested document
    uploaded since the request, or a text for a question-only request), answer_info moves it
    back to under_review (check `application.status` afterwards). The text is stored sealed
    by `cipher`; read it back with `message_text`. Raises DecisionError: not_found (unknown
    or draft application), not_open (rejected, closed, withdrawn or repaid),
    unknown_document_type.
    """
    _require_aware(now)
    body = text.strip() if text is not None and text.strip() else None
    uploaded = _document_types([document_type]) if document_type is not None else ()
    application = await _load(session, application_id, lock=True)
    if Status(application.status) in TERMINAL_STATUSES:
        raise _not_open()
    if body is None and not uploaded:
        return None

    message = None
    if body is not None:
        message = await _add_message(
            session,
            cipher,
            application=application,
            direction="in",
            officer_id=None,
            text=body,
            requested_documents=[],
            now=now,
        )

    applicant = Actor(kind="applicant", id=application.applicant_id, role=None)
    details: dict[str, object] = {
        "message_id": message.id if message is not None else None,
        "length": len(body or ""),
        "document_type": uploaded[0].value if uploaded else None,
    }
    request = await open_information_request(session, cipher, application.id)
    if request is not None and _answers(request, answered_by_text=body is not None):
        transition = _fire(
            await _case(session, application),
            Trigger.ANSWER_INFO,
            applicant,
            approver_required_above=Decimal(0),
        )
        details |= {
            "from": transition.source.value,
            "to": transition.target.value,
            "request_message_id": request.message_id,
        }
        await _record(session, applicant, application, "application.info_answered", details, now)
        application.status = transition.target.value
        application.updated_at = now
    elif message is not None:
        await _record(session, applicant, application, "application.message_received", details, now)
    await session.flush()
    return message


# Built once: the application page runs it for every application waiting on its applicant.
_LATEST_REQUEST = (
    select(AuditEvent)
    .where(
        AuditEvent.subject_type == "application",
        AuditEvent.subject_id == bindparam("subject_id"),
        AuditEvent.action == "application.request_info",
    )
    .order_by(AuditEvent.seq.desc())
    .limit(1)
)


async def open_information_request(
    session: AsyncSession, cipher: FieldCipher, application_id: int
) -> InformationRequest | None:
    """The request an info_requested application is waiting on, or None when not waiting."""
    application = await session.get(Application, application_id)
    if application is None or application.status != Status.INFO_REQUESTED.value:
        return None
    # The request's audit event names its message, which tells a question-only request
    # apart from an ordinary officer message.
    event = await session.scalar(_LATEST_REQUEST, {"subject_id": str(application_id)})
    message_id = event.details.get("message_id") if event is not None else None
    message = await session.get(ApplicationMessage, message_id) if message_id else None
    if message is None:
        return None
    wanted = tuple(DocumentType(value) for value in message.requested_documents)
    # A requested type counts only when uploaded after the request: the officer may have
    # asked again because the copy already on file was not good enough.
    fresh = {
        document.doc_type
        for document in await active_documents(session, application_id)
        if document.created_at >= message.created_at
    }
    return InformationRequest(
        message_id=message.id,
        requested_at=message.created_at,
        documents=wanted,
        question=message_text(cipher, message) or None,
        missing_documents=tuple(doc for doc in wanted if doc.value not in fresh),
    )


def _answers(request: InformationRequest, *, answered_by_text: bool) -> bool:
    if request.documents:
        return not request.missing_documents
    return answered_by_text


# --- what the application page shows -------------------------------------------------------


def message_text(cipher: FieldCipher, message: ApplicationMessage) -> str:
    """The message's text, decrypted (rows from before encryption keep it in `body`)."""
    if message.body_enc is None:
        return message.body or ""
    return cipher.decrypt(
        message.body_enc, table=MESSAGE_TABLE, column=MESSAGE_COLUMN, row_id=message.id
    )


async def available_triggers(
    session: AsyncSession,
    application: Application,
    *,
    role: Role,
    officer_id: int,
    approver_required_above: Decimal,
    active_documents: Sequence[Document] | None = None,
) -> list[Trigger]:
    """The officer triggers the workflow would accept from this officer now: the page offers
    a button for each and no other (the recommender gets no approve button, and above the
    limit only approvers do). Pass the application's active documents if already loaded."""
    actor = Actor(kind="officer", id=officer_id, role=role)
    case = await _case(session, application, active_documents)
    return [
        trigger
        for trigger in allowed_triggers(
            case, actor, approver_required_above=approver_required_above
        )
        if trigger in OFFICER_TRIGGERS
    ]


# --- shared steps --------------------------------------------------------------------------


def _not_open() -> DecisionError:
    return DecisionError(N_("This application is no longer open for messages."), "not_open")


def _forbidden() -> DecisionError:
    return DecisionError(N_("Your role does not allow this action."), "forbidden_role")


def _request_empty() -> DecisionError:
    return DecisionError(
        N_("Choose at least one missing document or write a question for the applicant."),
        "request_empty",
    )


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None:
        raise ValueError("decisions need an aware time stamp, not a naive one")


def _clean_text(text: str | None, *, empty_ok: bool) -> str | None:
    stripped = (text or "").strip()
    if not stripped:
        if empty_ok:
            return None
        raise DecisionError(N_("Please write a message."), "message_empty")
    if len(stripped) > MAX_TEXT_LENGTH:
        raise DecisionError(
            N_("The message is too long: at most 2000 characters."), "message_too_long"
        )
    return stripped


def _clean_reason(reason: str | None) -> str | None:
    stripped = (reason or "").strip()
    if len(stripped) > MAX_TEXT_LENGTH:
        raise DecisionError(
            N_("The reason is too long: at most 2000 characters."), "reason_too_long"
        )
    return stripped or None


def _document_types(values: Sequence[str]) -> tuple[DocumentType, ...]:
    """Known document types, duplicates dropped, order kept."""
    found: list[DocumentType] = []
    for value in values:
        try:
            doc = DocumentType(value)
        except ValueError:
            raise DecisionError(N_("Unknown document type."), "unknown_document_type") from None
        if doc not in found:
            found.append(doc)
    return tuple(found)


async def _officer_actor(session: AsyncSession, officer_id: int) -> Actor:
    """The officer as the workflow sees them, from the row as it is now: a role change or a
    disable since their request began is honoured."""
    current = (
        await session.execute(
            select(Officer.role, Officer.disabled).where(Officer.id == officer_id)
        )
    ).one_or_none()
    if current is None or current.disabled:
        raise DecisionError(N_("Your account is disabled."), "officer_disabled")
    try:
        role = Role(current.role)
    except ValueError:
        raise _forbidden() from None
    return Actor(kind="officer", id=officer_id, role=role)


async def _load(session: AsyncSession, application_id: int, *, lock: bool) -> Application:
    """The submitted application (drafts are the applicant's own and not found here)."""
    query = (
        select(Application)
        .where(Application.id == application_id)
        .execution_options(populate_existing=True)
    )
    if lock and session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    application = await session.scalar(query)
    if application is None or application.status == Status.DRAFT.value:
        raise DecisionError(N_("This application does not exist."), "not_found")
    return application


async def _case(
    session: AsyncSession,
    application: Application,
    active: Sequence[Document] | None = None,
) -> ApplicationCase:
    if active is None:
        active = await active_documents(session, application.id)
    present = {document.doc_type for document in active}
    security = SecurityType(application.security_type or SecurityType.NONE.value)
    needed = {doc.value for doc in required_documents(security)}
    return ApplicationCase(
        status=Status(application.status),
        # A missing amount cannot be shown to be under the officers' limit.
        amount=application.amount if application.amount is not None else Decimal("Infinity"),
        recommended_by=application.recommended_by_id,
        assigned_to=application.assigned_officer_id,
        documents_complete=needed <= present,
    )


def _fire(
    case: ApplicationCase,
    trigger: Trigger,
    actor: Actor,
    *,
    approver_required_above: Decimal,
    reason: str | None = None,
) -> Transition:
    try:
        return fire(
            case,
            trigger,
            actor,
            approver_required_above=approver_required_above,
            reason=reason,
        )
    except WorkflowError as refused:
        raise DecisionError(refused.message, refused.code) from None


async def _record(
    session: AsyncSession,
    actor: Actor,
    application: Application,
    action: str,
    details: dict[str, object],
    now: datetime,
) -> None:
    await audit.record(
        session,
        actor_type=actor.kind,
        actor_id=str(actor.id) if actor.id is not None else None,
        action=action,
        subject_type="application",
        subject_id=str(application.id),
        details=details,
        now=now,
    )


async def _add_message(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    application: Application,
    direction: Literal["in", "out"],
    officer_id: int | None,
    text: str,
    requested_documents: list[str],
    now: datetime,
) -> ApplicationMessage:
    """Store a message with its text sealed; the row needs its id before the text can be."""
    message = ApplicationMessage(
        application_id=application.id,
        direction=direction,
        officer_id=officer_id,
        requested_documents=requested_documents,
        created_at=now,
    )
    session.add(message)
    await session.flush()
    message.body_enc = cipher.encrypt(
        text, table=MESSAGE_TABLE, column=MESSAGE_COLUMN, row_id=message.id
    )
    return message


async def _applicant(session: AsyncSession, application: Application) -> Applicant:
    applicant = await session.get(Applicant, application.applicant_id)
    if applicant is None:
        raise LookupError("an application without its applicant")
    return applicant
