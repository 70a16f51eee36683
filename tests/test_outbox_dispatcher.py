"""Outbox delivery through PTB and the emulator: translated, retried, at most once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bot.outbox_dispatcher import OutboxDispatcher
from bot.pacing import Pacer
from bot.sandbox import BotApiEmulator, ScriptedUser
from storage import outbox
from storage.database import Database
from storage.models import Applicant, OutboxMessage
from storage.types import utcnow
from tests.sandbox_helpers import sandbox_bot


@pytest.fixture
async def dispatcher(
    emulator: BotApiEmulator, database: Database
) -> AsyncIterator[OutboxDispatcher]:
    async with sandbox_bot(emulator) as bot:
        yield OutboxDispatcher(database, bot, pacer=Pacer(per_second=1000, per_chat_interval=0))


async def _applicant(database: Database, user: ScriptedUser, locale: str) -> Applicant:
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=user.user_id, chat_id=user.chat_id, locale=locale)
        session.add(applicant)
    return applicant


async def _notify(database: Database, applicant: Applicant, status: str, **extra: str) -> int:
    async with database.unit_of_work() as session:
        row = outbox.enqueue(
            session,
            applicant,
            "status_changed",
            {"reference": "SME-2026-000007", "status": status, **extra},
        )
        await session.flush()
        return row.id


async def _row(database: Database, row_id: int) -> OutboxMessage:
    async with database.unit_of_work() as session:
        row = await session.get(OutboxMessage, row_id)
        assert row is not None
        return row


async def _make_due(database: Database, row_id: int) -> None:
    async with database.unit_of_work() as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == row_id)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


async def test_status_change_reaches_the_applicant_in_their_language(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    english = emulator.user(9001, language_code="en")
    chinese = emulator.user(9002, language_code="zh-hans")
    row_en = await _notify(database, await _applicant(database, english, "en"), "approved")
    row_zh = await _notify(database, await _applicant(database, chinese, "zh_Hans"), "approved")
    assert await dispatcher.deliver_due() == 2
    english_text = (await english.next_message()).text or ""
    chinese_text = (await chinese.next_message()).text or ""
    assert "SME-2026-000007" in english_text and "approved" in english_text
    assert "SME-2026-000007" in chinese_text and english_text != chinese_text
    assert (await _row(database, row_en)).status == outbox.SENT
    assert (await _row(database, row_zh)).telegram_message_id is not None


async def test_rejection_reason_is_escaped_and_delivered(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    user = emulator.user(9003, language_code="en")
    applicant = await _applicant(database, user, "en")
    await _notify(database, applicant, "rejected", reason="<b>cash flow</b> too thin")
    await dispatcher.deliver_due()
    message = await user.next_message()
    assert "<b>cash flow</b> too thin" in (message.text or "")
    assert "&lt;b&gt;" in (message.raw_text or "")


async def test_429_waits_for_retry_after_then_sends_once(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    user = emulator.user(9004, language_code="en")
    row_id = await _notify(database, await _applicant(database, user, "en"), "under_review")
    emulator.faults.rate_limit_next(1, retry_after=2, methods=["sendMessage"])
    before = utcnow()
    await dispatcher.deliver_due()
    row = await _row(database, row_id)
    assert row.status == outbox.PENDING
    assert row.next_attempt_at >= before + timedelta(seconds=2)
    assert await dispatcher.deliver_due() == 0, "not before retry_after has passed"
    await _make_due(database, row_id)
    assert await dispatcher.deliver_due() == 1
    assert (await _row(database, row_id)).status == outbox.SENT
    assert len(user.history) == 1


async def test_server_errors_back_off_and_retry(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    user = emulator.user(9005, language_code="en")
    row_id = await _notify(database, await _applicant(database, user, "en"), "under_review")
    emulator.faults.server_error_next(1, status=502, methods=["sendMessage"])
    await dispatcher.deliver_due()
    row = await _row(database, row_id)
    assert row.status == outbox.PENDING and row.attempts == 1
    assert row.last_error is not None and "network" in row.last_error
    await _make_due(database, row_id)
    await dispatcher.deliver_due()
    assert (await _row(database, row_id)).status == outbox.SENT
    assert len(user.history) == 1


async def test_blocked_applicant_is_marked_and_not_retried(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    user = emulator.user(9006, language_code="en")
    applicant = await _applicant(database, user, "en")
    await user.block_bot()
    row_id = await _notify(database, applicant, "approved")
    await dispatcher.deliver_due()
    assert (await _row(database, row_id)).status == outbox.BLOCKED
    async with database.unit_of_work() as session:
        stored = await session.scalar(select(Applicant).where(Applicant.id == applicant.id))
    assert stored is not None and stored.blocked_bot


async def test_a_claimed_row_is_never_sent_twice_after_a_crash(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    user = emulator.user(9007, language_code="en")
    row_id = await _notify(database, await _applicant(database, user, "en"), "approved")
    async with database.unit_of_work() as session:
        claimed = await outbox.claim_due(session, limit=10)
    assert [row.id for row in claimed] == [row_id]
    # The process dies here, between the claim and the send; a new dispatcher starts.
    assert await dispatcher.deliver_due() == 0
    assert user.history == []
    assert (await _row(database, row_id)).status == outbox.SENDING


async def test_a_refused_message_is_marked_failed_and_not_retried(
    emulator: BotApiEmulator, database: Database, dispatcher: OutboxDispatcher
) -> None:
    async with database.unit_of_work() as session:
        stranger = Applicant(telegram_user_id=9999, chat_id=9999, locale="en")
        session.add(stranger)
    row_id = await _notify(database, stranger, "approved")
    await dispatcher.deliver_due()
    row = await _row(database, row_id)
    assert row.status == outbox.FAILED and row.last_error == "BadRequest"
    await _make_due(database, row_id)
    assert await dispatcher.deliver_due() == 0
