"""The decision service on both engines: workflow rules, audit events and outbox notices.

Refusals are checked inside a unit of work that still commits after catching the error, so
"nothing changed" proves the service refuses before touching anything, not that a rollback
saved it.
"""

from __future__ import annotations

import asyncio
import base64
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from lending.products import DocumentType, SecurityType, required_documents
from lending.workflow import Role, Trigger
from storage import audit
from storage.casework import (
    DecisionError,
    apply_decision,
    available_triggers,
    message_applicant,
    message_text,
    open_information_request,
    record_applicant_reply,
    request_information,
)
from storage.database import Database
from storage.fields import FieldCipher, FieldIntegrityError
from storage.keyring import Keyring
from storage.models import (
    Applicant,
    Application,
    ApplicationMessage,
    AuditEvent,
    Base,
    Document,
    Officer,
    OutboxMessage,
)
from storage.timeline import timeline

START = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
LIMIT = Decimal("1000000")
AMOUNT = Decimal("300000.00")
REFERENCE = "SME-2025-000042"
PHONE = "13812345678"
CIPHER = FieldCipher(Keyring.parse("k1:" + base64.b64encode(bytes(range(32))).decode()))


@dataclass(frozen=True)
class World:
    """Ids of one submitted application, its applicant and the back-office staff."""

    application: int
    applicant: int
    officer: int
    colleague: int
    approver: int
    second_approver: int
    admin: int
    auditor: int
    disabled: int


@dataclass(frozen=True)
class Counts:
    status: str
    audit_events: int
    outbox: int
    messages: int


def at(minutes: int) -> datetime:
    return START + timedelta(minutes=minutes)


def _officer(username: str, role: str, *, disabled: bool = False) -> Officer:
    return Officer(
        username=username,
        display_name=username.title(),
        role=role,
        password_hash="not-a-real-hash",
        totp_confirmed=True,
        must_change_password=False,
        disabled=disabled,
    )


@pytest.fixture
async def world(database: Database) -> World:
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=7001, chat_id=7001, locale="zh_Hans")
        session.add(applicant)
        staff = {
            "officer": _officer("li.na", "officer"),
            "colleague": _officer("wang.wei", "officer"),
            "approver": _officer("zhao.min", "approver"),
            "second_approver": _officer("qian.yu", "approver"),
            "admin": _officer("chen.admin", "admin"),
            "auditor": _officer("sun.audit", "auditor"),
            "disabled": _officer("zhou.gone", "officer", disabled=True),
        }
        session.add_all(staff.values())
        await session.flush()
        application = Application(
            applicant_id=applicant.id,
            reference=REFERENCE,
            status="submitted",
            locale="zh_Hans",
            company_name="Hangzhou Green Tea Co.",
            amount=AMOUNT,
            term_months=24,
            security_type="none",
            submitted_at=at(-60),
            created_at=at(-120),
        )
        session.add(application)
        await session.flush()
        application.phone_enc = CIPHER.encrypt(
            PHONE, table="applications", column="phone", row_id=application.id
        )
        application.phone_index = CIPHER.blind_index(PHONE, column="phone")
        for number, doc_type in enumerate(required_documents(SecurityType.NONE)):
            session.add(_document(application.id, doc_type, at(-100 + number)))
        await audit.record(
            session,
            actor_type="applicant",
            actor_id=str(applicant.id),
            action="application.submitted",
            subject_type="application",
            subject_id=str(application.id),
            details={"reference": REFERENCE},
            now=at(-60),
        )
        return World(
            application=application.id,
            applicant=applicant.id,
            **{name: officer.id for name, officer in staff.items()},
        )


def _document(application_id: int, doc_type: DocumentType, created_at: datetime) -> Document:
    return Document(
        application_id=application_id,
        doc_type=doc_type.value,
        storage_name=secrets.token_hex(16),
        content_type="application/pdf",
        size=1024,
        key_id="k1",
        created_at=created_at,
    )


# --- helpers -------------------------------------------------------------------------------


async def decide(
    database: Database,
    world: World,
    officer_id: int,
    trigger: Trigger,
    *,
    minute: int,
    reason: str | None = None,
    limit: Decimal = LIMIT,
) -> Application:
    async with database.unit_of_work() as session:
        return await apply_decision(
            session,
            application_id=world.application,
            officer_id=officer_id,
            trigger=trigger,
            approver_required_above=limit,
            reason=reason,
            now=at(minute),
        )


async def refused(
    database: Database, attempt: Callable[[AsyncSession], Awaitable[object]]
) -> DecisionError:
    """Run `attempt` in a unit of work that catches the refusal and commits anyway."""
    async with database.unit_of_work() as session:
        with pytest.raises(DecisionError) as caught:
            await attempt(session)
    return caught.value


def deciding(
    world: World,
    officer_id: int,
    trigger: Trigger,
    *,
    reason: str | None = None,
    limit: Decimal = LIMIT,
    application_id: int | None = None,
) -> Callable[[AsyncSession], Awaitable[object]]:
    async def attempt(session: AsyncSession) -> object:
        return await apply_decision(
            session,
            application_id=world.application if application_id is None else application_id,
            officer_id=officer_id,
            trigger=trigger,
            approver_required_above=limit,
            reason=reason,
            now=at(500),
        )

    return attempt


async def counts(database: Database, world: World) -> Counts:
    async with database.unit_of_work() as session:
        application = await session.get(Application, world.application)
        assert application is not None

        async def count(model: Any) -> int:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)

        return Counts(
            status=application.status,
            audit_events=await count(AuditEvent),
            outbox=await count(OutboxMessage),
            messages=await count(ApplicationMessage),
        )


async def events(database: Database, world: World) -> list[AuditEvent]:
    async with database.unit_of_work() as session:
        found = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == str(world.application))
            .order_by(AuditEvent.seq)
        )
        return list(found)


async def notices(database: Database) -> list[OutboxMessage]:
    async with database.unit_of_work() as session:
        return list(await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


async def stored(database: Database, world: World) -> Application:
    async with database.unit_of_work() as session:
        application = await session.get(Application, world.application)
        assert application is not None
        return application


async def assert_chain_ok(database: Database) -> None:
    report = await audit.verify_chain(database)
    assert report.ok, report.describe()


async def open_and_recommend(database: Database, world: World) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    await decide(database, world, world.officer, Trigger.RECOMMEND, minute=2)


async def add_document(
    database: Database, world: World, doc_type: DocumentType, minute: int
) -> None:
    """What the bot does with an upload: the new file replaces the active one of its type."""
    async with database.unit_of_work() as session:
        for earlier in await session.scalars(
            select(Document).where(
                Document.application_id == world.application,
                Document.doc_type == doc_type.value,
                Document.replaced_at.is_(None),
            )
        ):
            earlier.replaced_at = at(minute)
        session.add(_document(world.application, doc_type, at(minute)))


async def reply(
    database: Database,
    world: World,
    *,
    text_: str | None = None,
    document_type: str | None = None,
    minute: int,
) -> ApplicationMessage | None:
    async with database.unit_of_work() as session:
        return await record_applicant_reply(
            session,
            CIPHER,
            application_id=world.application,
            text=text_,
            document_type=document_type,
            now=at(minute),
        )


async def ask(
    database: Database,
    world: World,
    *,
    documents: list[DocumentType],
    question: str | None,
    minute: int,
) -> ApplicationMessage:
    async with database.unit_of_work() as session:
        return await request_information(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.officer,
            documents=documents,
            question=question,
            now=at(minute),
        )


# --- decisions -----------------------------------------------------------------------------


async def test_full_path_to_approval_writes_statuses_audit_and_notices(
    database: Database, world: World
) -> None:
    opened = await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    assert (opened.status, opened.assigned_officer_id) == ("under_review", world.officer)
    recommended = await decide(database, world, world.officer, Trigger.RECOMMEND, minute=2)
    assert (recommended.status, recommended.recommended_by_id) == (
        "pending_approval",
        world.officer,
    )
    # Above the limit, so only an approver may approve; the approver is not the recommender.
    approved = await decide(
        database, world, world.approver, Trigger.APPROVE, minute=3, limit=Decimal("100000")
    )
    assert approved.status == "approved"

    application = await stored(database, world)
    assert application.status == "approved"
    assert application.assigned_officer_id == world.officer
    assert application.recommended_by_id == world.officer
    assert application.decided_by_id == world.approver
    assert application.decision_reason is None

    decisions = [e for e in await events(database, world) if e.actor_type == "officer"]
    assert [(e.action, e.actor_id, e.details) for e in decisions] == [
        ("application.open", str(world.officer), {"from": "submitted", "to": "under_review"}),
        (
            "application.recommend",
            str(world.officer),
            {"from": "under_review", "to": "pending_approval"},
        ),
        (
            "application.approve",
            str(world.approver),
            {"from": "pending_approval", "to": "approved"},
        ),
    ]
    assert all(e.subject_type == "application" for e in decisions)

    sent = await notices(database)
    assert [(n.kind, n.payload) for n in sent] == [
        ("status_changed", {"reference": REFERENCE, "status": "under_review", "reason": None}),
        ("status_changed", {"reference": REFERENCE, "status": "approved", "reason": None}),
    ]
    assert all(
        (n.applicant_id, n.chat_id, n.status) == (world.applicant, 7001, "pending") for n in sent
    )
    # No C2 leaks into what is audited or queued for sending.
    dumped = json.dumps([e.details for e in decisions] + [n.payload for n in sent])
    assert PHONE not in dumped
    await assert_chain_ok(database)


async def test_four_eyes_refusal_changes_nothing(database: Database, world: World) -> None:
    await open_and_recommend(database, world)
    before = await counts(database, world)

    error = await refused(database, deciding(world, world.officer, Trigger.APPROVE))

    assert error.code == "four_eyes"
    assert await counts(database, world) == before
    assert before.status == "pending_approval"
    assert (await stored(database, world)).decided_by_id is None
    await assert_chain_ok(database)


async def test_above_the_limit_an_officer_cannot_approve(database: Database, world: World) -> None:
    await open_and_recommend(database, world)
    before = await counts(database, world)

    error = await refused(
        database, deciding(world, world.colleague, Trigger.APPROVE, limit=Decimal("100000"))
    )

    assert error.code == "approver_required"
    assert await counts(database, world) == before
    # Under the limit the same colleague may approve: the refusal was about the amount.
    approved = await decide(database, world, world.colleague, Trigger.APPROVE, minute=9)
    assert approved.decided_by_id == world.colleague
    await assert_chain_ok(database)


async def test_a_second_approval_is_refused(database: Database, world: World) -> None:
    await open_and_recommend(database, world)
    await decide(database, world, world.approver, Trigger.APPROVE, minute=3)
    before = await counts(database, world)

    error = await refused(database, deciding(world, world.second_approver, Trigger.APPROVE))

    assert error.code == "illegal_transition"
    assert await counts(database, world) == before
    assert (await stored(database, world)).decided_by_id == world.approver
    await assert_chain_ok(database)


async def test_rejection_needs_a_reason_and_the_applicant_hears_it(
    database: Database, world: World
) -> None:
    await open_and_recommend(database, world)
    before = await counts(database, world)
    for blank in (None, "   \n"):
        error = await refused(
            database, deciding(world, world.approver, Trigger.REJECT, reason=blank)
        )
        assert error.code == "reason_required"
    assert await counts(database, world) == before

    reason = "Cash flow does not cover the instalments <b>yet</b>."
    rejected = await decide(
        database, world, world.approver, Trigger.REJECT, minute=4, reason=f"  {reason} "
    )

    assert (rejected.status, rejected.decided_by_id) == ("rejected", world.approver)
    assert rejected.decision_reason == reason
    last = (await notices(database))[-1]
    assert (last.kind, last.payload) == (
        "status_changed",
        {"reference": REFERENCE, "status": "rejected", "reason": reason},
    )
    event = (await events(database, world))[-1]
    assert (event.action, event.details) == (
        "application.reject",
        {"from": "pending_approval", "to": "rejected", "reason": reason},
    )
    await assert_chain_ok(database)


async def test_a_reason_holding_a_phone_number_is_refused_before_any_change(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    before = await counts(database, world)

    error = await refused(
        database,
        deciding(world, world.officer, Trigger.REJECT, reason=f"Owner {PHONE} is unreachable"),
    )

    assert error.code == "reason_has_personal_data"
    assert await counts(database, world) == before
    await assert_chain_ok(database)


async def test_pending_approval_is_not_announced_but_disbursement_is(
    database: Database, world: World
) -> None:
    await open_and_recommend(database, world)
    await decide(database, world, world.approver, Trigger.APPROVE, minute=3)
    async with database.unit_of_work() as session:
        application = await session.get(Application, world.application)
        assert application is not None
        application.status = "accepted"  # the applicant's step, done by the bot
    await decide(database, world, world.approver, Trigger.DISBURSE, minute=5)

    statuses = [n.payload["status"] for n in await notices(database)]
    assert statuses == ["under_review", "approved", "active"]
    assert (await stored(database, world)).status == "active"


async def test_disabled_officer_is_refused_everywhere(database: Database, world: World) -> None:
    before = await counts(database, world)

    open_error = await refused(database, deciding(world, world.disabled, Trigger.OPEN))

    async def send(session: AsyncSession) -> object:
        return await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.disabled,
            body="Hi",
            now=at(5),
        )

    message_error = await refused(database, send)
    assert open_error.code == message_error.code == "officer_disabled"
    assert await counts(database, world) == before


async def test_officer_disabled_during_the_request_is_refused(
    database: Database, world: World
) -> None:
    """The session that signed the officer in may be older than the disable; the row decides."""
    async with database.unit_of_work() as session:
        officer = await session.get(Officer, world.officer)
        assert officer is not None
        officer.disabled = True
    error = await refused(database, deciding(world, world.officer, Trigger.OPEN))

    assert error.code == "officer_disabled"
    assert (await stored(database, world)).status == "submitted"


async def test_a_role_changed_since_sign_in_is_honoured(database: Database, world: World) -> None:
    async with database.unit_of_work() as session:
        officer = await session.get(Officer, world.officer)
        assert officer is not None
        officer.role = "auditor"

    error = await refused(database, deciding(world, world.officer, Trigger.OPEN))

    assert error.code == "forbidden_role"
    assert (await stored(database, world)).status == "submitted"


@pytest.mark.parametrize(
    ("trigger", "code"),
    [
        (Trigger.SUBMIT, "not_officer_trigger"),
        (Trigger.ANSWER_INFO, "not_officer_trigger"),
        (Trigger.WITHDRAW, "not_officer_trigger"),
        (Trigger.EXPIRE, "not_officer_trigger"),
        (Trigger.REQUEST_INFO, "request_empty"),
    ],
)
async def test_triggers_that_are_not_decisions_are_refused(
    database: Database, world: World, trigger: Trigger, code: str
) -> None:
    before = await counts(database, world)
    assert (await refused(database, deciding(world, world.officer, trigger))).code == code
    assert await counts(database, world) == before


async def test_admins_and_auditors_decide_nothing(database: Database, world: World) -> None:
    for staff in (world.admin, world.auditor):
        error = await refused(database, deciding(world, staff, Trigger.OPEN))
        assert error.code == "forbidden_role"
    assert (await stored(database, world)).status == "submitted"


async def test_recommend_needs_every_required_document(database: Database, world: World) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    async with database.unit_of_work() as session:
        for document in await session.scalars(
            select(Document).where(Document.doc_type == DocumentType.TAX_CERTIFICATE.value)
        ):
            document.replaced_at = at(2)
    error = await refused(database, deciding(world, world.officer, Trigger.RECOMMEND))
    assert error.code == "documents_missing"
    assert (await stored(database, world)).status == "under_review"


async def test_unknown_and_draft_applications_are_not_found(
    database: Database, world: World
) -> None:
    async with database.unit_of_work() as session:
        draft = Application(applicant_id=world.applicant, status="draft")
        session.add(draft)
        await session.flush()
        draft_id = draft.id

    for missing in (999_999, draft_id):
        error = await refused(
            database, deciding(world, world.officer, Trigger.OPEN, application_id=missing)
        )
        assert error.code == "not_found"

        async def send(session: AsyncSession, missing: int = missing) -> object:
            return await message_applicant(
                session,
                CIPHER,
                application_id=missing,
                officer_id=world.officer,
                body="Hi",
                now=at(1),
            )

        async def request(session: AsyncSession, missing: int = missing) -> object:
            return await request_information(
                session,
                CIPHER,
                application_id=missing,
                officer_id=world.officer,
                documents=[DocumentType.OWNER_ID],
                question=None,
                now=at(1),
            )

        assert (await refused(database, send)).code == "not_found"
        assert (await refused(database, request)).code == "not_found"
    assert (await notices(database)) == []


async def test_two_approvers_at_once_only_one_decides(database: Database, world: World) -> None:
    await open_and_recommend(database, world)
    first_holds_lock = asyncio.Event()
    release_first = asyncio.Event()
    first_pid: list[int] = []

    async def first() -> str:
        async with database.unit_of_work() as session:
            if database.is_postgres:
                first_pid.append(int(await session.scalar(text("select pg_backend_pid()"))))
            await apply_decision(
                session,
                application_id=world.application,
                officer_id=world.approver,
                trigger=Trigger.APPROVE,
                approver_required_above=LIMIT,
                now=at(3),
            )
            first_holds_lock.set()
            await release_first.wait()
        return "approved"

    async def second() -> str:
        await first_holds_lock.wait()
        try:
            await decide(database, world, world.second_approver, Trigger.APPROVE, minute=4)
        except DecisionError as error:
            return error.code
        return "approved"

    async def release_once_second_waits() -> None:
        await first_holds_lock.wait()
        if database.is_postgres:
            await _wait_until_blocked_by(database, first_pid[0])
        release_first.set()

    first_outcome, second_outcome, _ = await asyncio.gather(
        first(), second(), release_once_second_waits()
    )

    assert (first_outcome, second_outcome) == ("approved", "illegal_transition")
    approvals = [e for e in await events(database, world) if e.action == "application.approve"]
    assert [e.actor_id for e in approvals] == [str(world.approver)]
    assert [n.payload["status"] for n in await notices(database)] == ["under_review", "approved"]
    await assert_chain_ok(database)


async def _wait_until_blocked_by(database: Database, pid: int) -> None:
    """Poll PostgreSQL until some backend waits on a lock held by `pid` (the second approver)."""
    query = text("select count(*) from pg_stat_activity where :pid = any(pg_blocking_pids(pid))")
    async with database.engine.connect() as connection:
        for _ in range(2000):
            if int((await connection.execute(query, {"pid": pid})).scalar_one()) > 0:
                return
            await asyncio.sleep(0.005)
    raise AssertionError("the second approver never waited for the first one's row lock")


# --- requests for information and replies --------------------------------------------------


async def test_request_information_then_the_document_returns_it_to_review(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    question = "Please send the statements for all six months."
    request = await ask(
        database,
        world,
        documents=[DocumentType.BANK_STATEMENTS, DocumentType.BANK_STATEMENTS],
        question=f" {question} ",
        minute=2,
    )

    assert (request.direction, request.officer_id) == ("out", world.officer)
    assert message_text(CIPHER, request) == question
    assert request.requested_documents == ["bank_statements"]
    assert (await stored(database, world)).status == "info_requested"
    notice = (await notices(database))[-1]
    assert (notice.kind, notice.payload) == (
        "info_request",
        {
            "reference": REFERENCE,
            "documents": ["bank_statements"],
            "has_question": True,
            "message_id": request.id,
        },
    )
    asked = (await events(database, world))[-1]
    assert (asked.action, asked.actor_id, asked.details) == (
        "application.request_info",
        str(world.officer),
        {
            "from": "under_review",
            "to": "info_requested",
            "message_id": request.id,
            "documents": ["bank_statements"],
            "question_length": len(question),
        },
    )

    # A text alone does not answer a request for a document, and the statements already on
    # file from before the request do not count either.
    said = await reply(database, world, text_="I will upload it tonight", minute=3)
    assert said is not None and said.direction == "in"
    assert message_text(CIPHER, said) == "I will upload it tonight"
    assert (await stored(database, world)).status == "info_requested"
    async with database.unit_of_work() as session:
        waiting = await open_information_request(session, CIPHER, world.application)
    assert waiting is not None and waiting.missing_documents == (DocumentType.BANK_STATEMENTS,)

    await add_document(database, world, DocumentType.BANK_STATEMENTS, minute=4)
    stored_reply = await reply(database, world, document_type="bank_statements", minute=4)

    assert stored_reply is None
    assert (await stored(database, world)).status == "under_review"
    answered = (await events(database, world))[-1]
    assert (answered.action, answered.actor_type, answered.actor_id) == (
        "application.info_answered",
        "applicant",
        str(world.applicant),
    )
    assert answered.details["from"] == "info_requested"
    assert answered.details["to"] == "under_review"
    assert answered.details["request_message_id"] == request.id
    async with database.unit_of_work() as session:
        assert await open_information_request(session, CIPHER, world.application) is None
    await assert_chain_ok(database)


async def test_question_only_request_is_answered_by_a_text(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    request = await ask(database, world, documents=[], question="Who are your customers?", minute=2)
    assert (await notices(database))[-1].payload == {
        "reference": REFERENCE,
        "documents": [],
        "has_question": True,
        "message_id": request.id,
    }

    answer = await reply(database, world, text_="Tea shops in Hangzhou.", minute=3)

    assert answer is not None and answer.direction == "in"
    assert (await stored(database, world)).status == "under_review"
    last = (await events(database, world))[-1]
    assert (last.action, last.details["message_id"]) == ("application.info_answered", answer.id)
    await assert_chain_ok(database)


async def test_a_request_must_ask_for_something(database: Database, world: World) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    before = await counts(database, world)

    async def empty(session: AsyncSession) -> object:
        return await request_information(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.officer,
            documents=[],
            question="   ",
            now=at(2),
        )

    assert (await refused(database, empty)).code == "request_empty"
    assert await counts(database, world) == before


async def test_a_message_to_an_open_application_is_kept_without_a_status_change(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    before = await counts(database, world)

    kept = await reply(database, world, text_="  Any news?  ", minute=2)

    assert kept is not None and message_text(CIPHER, kept) == "Any news?"
    after = await counts(database, world)
    assert (after.status, after.messages, after.audit_events) == (
        "under_review",
        before.messages + 1,
        before.audit_events + 1,
    )
    last = (await events(database, world))[-1]
    assert (last.action, last.details) == (
        "application.message_received",
        {"message_id": kept.id, "length": len("Any news?"), "document_type": None},
    )
    assert await reply(database, world, text_="   ", minute=3) is None
    assert (await counts(database, world)).messages == after.messages


async def test_replies_to_a_closed_application_are_refused(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    await decide(database, world, world.officer, Trigger.REJECT, minute=2, reason="Too new.")
    before = await counts(database, world)

    async def late(session: AsyncSession) -> object:
        return await record_applicant_reply(
            session,
            CIPHER,
            application_id=world.application,
            text="Why?",
            document_type=None,
            now=at(3),
        )

    assert (await refused(database, late)).code == "not_open"
    assert await counts(database, world) == before


# --- messages ------------------------------------------------------------------------------


async def test_message_applicant_enqueues_exactly_one_notice(
    database: Database, world: World
) -> None:
    before = await counts(database, world)
    async with database.unit_of_work() as session:
        message = await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.approver,
            body="  We received your file; a decision follows this week.  ",
            now=at(1),
        )
    body = "We received your file; a decision follows this week."

    after = await counts(database, world)
    assert after.outbox == before.outbox + 1
    assert after.audit_events == before.audit_events + 1
    assert after.status == "submitted"
    assert (message.direction, message.officer_id) == ("out", world.approver)
    assert message_text(CIPHER, message) == body
    assert message.body is None and message.body_enc is not None
    notice = (await notices(database))[-1]
    assert (notice.kind, notice.payload) == (
        "officer_message",
        {"reference": REFERENCE, "message_id": message.id},
    )
    event = (await events(database, world))[-1]
    assert (event.action, event.details) == (
        "application.message_sent",
        {"message_id": message.id, "length": len(body)},
    )
    await assert_chain_ok(database)


@pytest.mark.parametrize(
    ("body", "staff", "code"),
    [
        ("   ", "officer", "message_empty"),
        ("x" * 2001, "officer", "message_too_long"),
        ("Hello", "auditor", "forbidden_role"),
        ("Hello", "admin", "forbidden_role"),
    ],
)
async def test_bad_messages_are_refused(
    database: Database, world: World, body: str, staff: str, code: str
) -> None:
    before = await counts(database, world)

    async def send(session: AsyncSession) -> object:
        return await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=getattr(world, staff),
            body=body,
            now=at(1),
        )

    assert (await refused(database, send)).code == code
    assert await counts(database, world) == before


# --- the timeline --------------------------------------------------------------------------


async def test_timeline_merges_status_changes_messages_and_documents_in_order(
    database: Database, world: World
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    await ask(database, world, documents=[DocumentType.TAX_CERTIFICATE], question=None, minute=2)
    await add_document(database, world, DocumentType.TAX_CERTIFICATE, minute=3)
    await reply(database, world, text_="Here it is.", document_type="tax_certificate", minute=3)
    async with database.unit_of_work() as session:
        await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.officer,
            body="Thanks!",
            now=at(4),
        )
    await decide(database, world, world.officer, Trigger.RECOMMEND, minute=5)

    async with database.unit_of_work() as session:
        entries = await timeline(session, CIPHER, world.application)

    moments = [entry.moment for entry in entries]
    assert moments == sorted(moments)
    story = [
        (entry.kind, entry.to_status or entry.direction or entry.doc_type)
        for entry in entries
        if entry.moment >= at(-60)
    ]
    assert story == [
        ("status", "submitted"),
        ("status", "under_review"),
        ("message", "out"),
        ("status", "info_requested"),
        ("document", "tax_certificate"),
        ("message", "in"),
        ("status", "under_review"),
        ("message", "out"),
        ("status", "pending_approval"),
    ]
    documents = [entry for entry in entries if entry.kind == "document"]
    assert len(documents) == 6
    tax = [entry for entry in documents if entry.doc_type == "tax_certificate"]
    assert [entry.replaced for entry in tax] == [True, False]
    request = next(entry for entry in entries if entry.kind == "message")
    assert request.requested_documents == ("tax_certificate",)
    assert request.actor_id == world.officer
    await assert_chain_ok(database)


# --- message texts are stored sealed ----------------------------------------------------------

ID_NUMBER = "110101199003071234"
OTHER_PHONE = "13987654321"


async def _dump(database: Database) -> str:
    """Every row of every table as text: what a dump of the database would show."""
    rows = []
    async with database.unit_of_work() as session:
        for table in Base.metadata.sorted_tables:
            rows += [repr(tuple(row)) for row in await session.execute(select(table))]
    return "\n".join(rows)


async def test_message_texts_are_sealed_everywhere_but_read_back_in_the_timeline(
    database: Database, world: World, data_dir: Any
) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    await ask(
        database,
        world,
        documents=[],
        question=f"Is {ID_NUMBER} the owner's ID number?",
        minute=2,
    )
    await reply(database, world, text_=f"Yes. Call me on {OTHER_PHONE}.", minute=3)
    async with database.unit_of_work() as session:
        await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.officer,
            body=f"We will call {OTHER_PHONE} tomorrow.",
            now=at(4),
        )

    async with database.unit_of_work() as session:
        bodies = [e.body for e in await timeline(session, CIPHER, world.application) if e.body]
    assert bodies == [
        f"Is {ID_NUMBER} the owner's ID number?",
        f"Yes. Call me on {OTHER_PHONE}.",
        f"We will call {OTHER_PHONE} tomorrow.",
    ]
    dumped = await _dump(database)
    assert "ID number" not in dumped and "tomorrow" not in dumped
    assert ID_NUMBER not in dumped and OTHER_PHONE not in dumped
    if database.is_sqlite:
        # The raw files themselves, write-ahead log included.
        raw = b"".join(path.read_bytes() for path in data_dir.glob("loanbot.db*"))
        assert raw, "the SQLite files were not found"
        assert ID_NUMBER.encode() not in raw and OTHER_PHONE.encode() not in raw
        assert b"tomorrow" not in raw


async def test_a_sealed_text_moved_to_another_message_does_not_open(
    database: Database, world: World
) -> None:
    first = await reply(database, world, text_="first", minute=1)
    second = await reply(database, world, text_="second", minute=2)
    assert first is not None and second is not None
    async with database.unit_of_work() as session:
        moved = await session.get(ApplicationMessage, second.id)
        assert moved is not None
        moved.body_enc = first.body_enc

    async with database.unit_of_work() as session:
        with pytest.raises(FieldIntegrityError):
            await timeline(session, CIPHER, world.application)


async def test_no_message_to_a_closed_application(database: Database, world: World) -> None:
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    await decide(database, world, world.officer, Trigger.REJECT, minute=2, reason="Too new.")
    before = await counts(database, world)

    async def send(session: AsyncSession) -> object:
        return await message_applicant(
            session,
            CIPHER,
            application_id=world.application,
            officer_id=world.officer,
            body="Sorry.",
            now=at(3),
        )

    assert (await refused(database, send)).code == "not_open"
    assert await counts(database, world) == before


# --- which buttons the page offers -------------------------------------------------------------


async def offered(database: Database, world: World, officer_id: int, limit: Decimal) -> set[str]:
    async with database.unit_of_work() as session:
        application = await session.get(Application, world.application)
        officer = await session.get(Officer, officer_id)
        assert application is not None and officer is not None
        triggers = await available_triggers(
            session,
            application,
            role=Role(officer.role),
            officer_id=officer_id,
            approver_required_above=limit,
        )
    return {trigger.value for trigger in triggers}


async def test_offered_actions_follow_the_workflow_and_four_eyes(
    database: Database, world: World
) -> None:
    assert await offered(database, world, world.officer, LIMIT) == {"open"}
    assert await offered(database, world, world.approver, LIMIT) == set()
    assert await offered(database, world, world.auditor, LIMIT) == set()
    await decide(database, world, world.officer, Trigger.OPEN, minute=1)
    assert await offered(database, world, world.officer, LIMIT) == {
        "request_info",
        "recommend",
        "reject",
    }
    await decide(database, world, world.officer, Trigger.RECOMMEND, minute=2)

    # The recommender may not decide; under the limit a colleague may, above it only approvers.
    assert await offered(database, world, world.officer, LIMIT) == set()
    assert await offered(database, world, world.colleague, LIMIT) == {"approve", "reject"}
    low = Decimal("100000")
    assert await offered(database, world, world.colleague, low) == set()
    assert await offered(database, world, world.approver, low) == {"approve", "reject"}
