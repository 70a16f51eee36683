"""Restarts, language switches, edits and many applicants at once, through the real bot."""

from __future__ import annotations

import asyncio
from pathlib import Path

from sqlalchemy import select

from bot.sandbox import BotApiEmulator, ScriptedUser
from storage import applications
from storage.database import Database
from storage.models import Applicant, Application
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of
from tests.test_bot_application_flow import (
    CREDIT_CODE,
    ID_NUMBER,
    answer_up_to_documents,
    button_starting,
    press,
    send,
    upload_required_documents,
)


async def test_restart_mid_conversation_resumes_at_the_same_question(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    user = emulator.user(3001, language_code="en")
    async with running_loanbot(emulator, database, data_dir) as bot:
        answer = await bot.say(user, lambda: user.command("/start"))
        await press(bot, user, button_starting(answer, "✓ English"))
        await press(bot, user, "I agree")
        await send(bot, user, "Restart Ltd")
        await send(bot, user, CREDIT_CODE)
    async with running_loanbot(emulator, database, data_dir) as bot:
        bot.new_messages(user)
        answer = await bot.say(user, lambda: user.command("/start"))
        assert "Welcome back" in text_of(answer)
        assert "industry" in text_of(answer).lower()
        answer = await press(bot, user, "Technology")
        assert "years" in text_of(answer).lower()
    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
    assert (application.company_name, application.credit_code, application.industry) == (
        "Restart Ltd",
        CREDIT_CODE,
        "technology",
    )


async def test_language_switch_mid_way_keeps_answers(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(3002, language_code="en")
        answer = await bot.say(user, lambda: user.command("/start"))
        await press(bot, user, button_starting(answer, "✓ English"))
        await press(bot, user, "I agree")
        await send(bot, user, "Switch Ltd")
        answer = await bot.say(user, lambda: user.command("/language"))
        answer = await press(bot, user, button_starting(answer, "简体中文"))
        assert "Step 3/7" in text_of(answer) or "3/7" in text_of(answer)
        answer = await send(bot, user, CREDIT_CODE)
        assert answer, "the conversation goes on after the switch"
    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
    assert application.company_name == "Switch Ltd"
    assert application.credit_code == CREDIT_CODE
    assert application.locale == "zh_Hans"


async def test_edit_from_summary_returns_to_summary(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(3003, language_code="en")
        answer = await answer_up_to_documents(bot, user)
        answer = await upload_required_documents(bot, user, answer)
        answer = await press(bot, user, "Continue to summary")
        answer = await press(bot, user, "Edit an answer")
        answer = await press(bot, user, button_starting(answer, "Loan amount"))
        answer = await send(bot, user, "50万")
        assert "check your application" in text_of(answer)
        assert "500,000" in text_of(answer)


async def _apply(bot: LoanBotHarness, user: ScriptedUser) -> str:
    answer = await answer_up_to_documents(bot, user, company=f"Company {user.user_id}")
    answer = await upload_required_documents(bot, user, answer)
    await press(bot, user, "Continue to summary")
    answer = await press(bot, user, "Submit application")
    return text_of(answer)


async def test_many_applicants_at_once_each_keep_their_own_data(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    count = 50 if database.is_sqlite else 20
    async with running_loanbot(emulator, database, data_dir) as bot:
        users = [emulator.user(4000 + n, language_code="en") for n in range(count)]
        results = await asyncio.gather(*(_apply(bot, user) for user in users))
    assert all("SME-" in text for text in results)
    async with database.unit_of_work() as session:
        rows = (
            await session.execute(select(Application, Applicant.telegram_user_id).join(Applicant))
        ).all()
        drafts = applications.Drafts(bot.cipher)
        owners = {drafts.answers(a)["owner_id_number"] for a, _ in rows}
        references = {a.reference for a, _ in rows}
    assert len(rows) == count
    assert all(a.status == "submitted" for a, _ in rows)
    assert all(a.company_name == f"Company {telegram_id}" for a, telegram_id in rows)
    assert owners == {ID_NUMBER}
    assert len(references) == count
