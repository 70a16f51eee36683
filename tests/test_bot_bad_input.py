"""Bad input through the real bot: each gets a clear answer and changes nothing else."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import func, select

from bot.sandbox import BotApiEmulator, ScriptedUser
from storage.database import Database
from storage.models import Application, Conversation, Document
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of
from tests.test_bot_application_flow import (
    CREDIT_CODE,
    PDF,
    answer_up_to_documents,
    button_starting,
    press,
    send,
)


async def _state(database: Database, chat_id: int) -> tuple[str, dict[str, object]]:
    async with database.unit_of_work() as session:
        conversation = await session.get(Conversation, chat_id)
        assert conversation is not None
        application = await session.get(Application, conversation.application_id)
        assert application is not None
        return conversation.state, {
            "company_name": application.company_name,
            "credit_code": application.credit_code,
            "industry": application.industry,
        }


async def _to_credit_code(bot: LoanBotHarness, user: ScriptedUser) -> None:
    answer = await bot.say(user, lambda: user.command("/start"))
    await press(bot, user, button_starting(answer, "✓ English"))
    await press(bot, user, "I agree")
    await send(bot, user, "Bad Input Ltd")


async def test_unsupported_messages_are_answered_and_change_nothing(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(2001, language_code="en")
        await _to_credit_code(bot, user)
        before = await _state(database, user.chat_id)
        for action in (
            user.send_sticker,
            user.send_voice,
            lambda: user.send_location(26.07, 119.3),
            lambda: user.share_contact("+8613900139000", own=False),
            lambda: user.send_document(PDF, "early.pdf"),
        ):
            answer = await bot.say(user, action)
            assert answer, "every bad input gets an answer"
            assert "credit code" in text_of(answer).lower(), "and the question is asked again"
        assert await _state(database, user.chat_id) == before


async def test_invalid_answers_are_reasked_with_an_example(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(2002, language_code="en")
        await _to_credit_code(bot, user)
        before = await _state(database, user.chat_id)
        for wrong in ("91350100M000100Y44", "123", "<script>alert(1)</script>"):
            answer = await send(bot, user, wrong)
            text = text_of(answer)
            assert "Example:" in text, text
            assert "credit code" in text.lower(), "the question is asked again"
            assert "<script>" not in "".join(m.raw_text or "" for m in answer)
        answer = await send(bot, user, "x" * 10_000)
        assert "too long" in text_of(answer)
        assert await _state(database, user.chat_id) == before
        answer = await send(bot, user, CREDIT_CODE)
        assert "industry" in text_of(answer).lower()


async def test_stale_and_double_pressed_buttons_change_nothing(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(2003, language_code="en")
        await _to_credit_code(bot, user)
        industry_question = await send(bot, user, CREDIT_CODE)
        message_id = industry_question[-1].message_id
        await press(bot, user, "Manufacturing")
        state_after_first = await _state(database, user.chat_id)
        answer = await bot.say(user, lambda: user.press_on(message_id, "Technology"))
        assert "earlier message" in text_of(answer)
        assert await _state(database, user.chat_id) == state_after_first
        assert state_after_first[1]["industry"] == "manufacturing"
        answer = await bot.say(user, lambda: user.press_callback(message_id, "forged:data"))
        assert "earlier message" in text_of(answer)
        assert await _state(database, user.chat_id) == state_after_first


async def test_files_are_judged_by_their_bytes_and_size(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(2004, language_code="en")
        answer = await answer_up_to_documents(bot, user)
        answer = await press(bot, user, button_starting(answer, "Business licence"))
        exe = b"MZ\x90\x00" + os.urandom(2000)
        answer = await bot.say(user, lambda: user.send_document(exe, "licence.pdf"))
        assert "PDF, JPEG or PNG" in text_of(answer), text_of(answer)
        answer = await press(bot, user, button_starting(answer, "Business licence"))
        answer = await bot.say(user, lambda: user.send_document(os.urandom(5000), "x.pdf"))
        assert "PDF, JPEG or PNG" in text_of(answer)
        answer = await press(bot, user, button_starting(answer, "Business licence"))
        answer = await bot.say(user, lambda: user.send_large_document(25 * 1024 * 1024))
        assert "20 MB" in text_of(answer)
        downloads = [c for c in emulator.calls if c == "getFile"]
        assert len(downloads) == 2, "the 25 MB file was refused before any download"
        answer = await press(bot, user, button_starting(answer, "Business licence"))
        answer = await bot.say(user, lambda: user.send_document(PDF, "licence.pdf"))
        assert "Received" in text_of(answer)
        answer = await press(bot, user, button_starting(answer, "Business licence"))
        answer = await bot.say(user, lambda: user.send_document(PDF, "licence.pdf"))
        assert "already" in text_of(answer).lower()
    async with database.unit_of_work() as session:
        stored = await session.scalar(select(func.count(Document.id)))
    assert stored == 1
    assert len(list((data_dir / "files").rglob("*"))) >= 1
