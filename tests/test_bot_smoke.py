"""First contact through the real bot: /start greets and asks for the language."""

from __future__ import annotations

from pathlib import Path

from bot.sandbox import BotApiEmulator
from storage.database import Database
from tests.bot_harness import running_loanbot, text_of


async def test_start_asks_for_language(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(501, language_code="en")
        answer = await bot.say(user, lambda: user.command("/start"))
        print(text_of(answer), [m.button_labels for m in answer])
        assert "language" in text_of(answer).lower()
