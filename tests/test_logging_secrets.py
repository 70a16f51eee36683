"""The bot token and applicants' personal data never reach the logs."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.sandbox import BotApiEmulator
from run import configure_logging
from storage.database import Database
from tests.bot_harness import running_loanbot
from tests.test_bot_application_flow import ID_NUMBER, PHONE, answer_up_to_documents


async def test_token_and_personal_data_stay_out_of_logs(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    configure_logging()
    caplog.set_level(logging.INFO)
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(7001, language_code="en")
        await answer_up_to_documents(bot, user)
        await bot.say(user, user.send_sticker)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    secret = emulator.token.split(":", 1)[1]
    assert secret not in logged
    assert ID_NUMBER not in logged
    assert PHONE[3:] not in logged
