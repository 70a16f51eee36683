"""The real loan bot (PTB Application + pipeline) polling the emulator, for end-to-end tests.

`LoanBotHarness.say(user, action)` performs one scripted-user action and returns exactly the
messages the bot sent for it: a second handler group signals when the pipeline has finished
with that update, so tests never guess with sleeps.
"""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from telegram import Update
from telegram.ext import TypeHandler

from bot.application import build_application, prepare
from bot.context import BotServices, LoanBotApplication, LoanBotContext
from bot.sandbox import BotApiEmulator, BotMessage, ScriptedUser
from lending.products import ProductLimits
from settings import Settings
from storage.applications import Drafts
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring
from storage.vault import Vault

TEST_KEYRING_SPEC = "k1:" + base64.b64encode(bytes(range(32))).decode()


@dataclass
class LoanBotHarness:
    emulator: BotApiEmulator
    database: Database
    vault: Vault
    cipher: FieldCipher
    application: LoanBotApplication
    _done: dict[int, asyncio.Event] = field(default_factory=dict)
    _seen: dict[int, int] = field(default_factory=dict)

    def _event(self, update_id: int) -> asyncio.Event:
        return self._done.setdefault(update_id, asyncio.Event())

    async def say(
        self, user: ScriptedUser, action: Callable[[], Awaitable[int]], timeout: float = 15
    ) -> list[BotMessage]:
        """Run `action` (e.g. `lambda: user.send_text("hi")`) and return the bot's answer."""
        update_id = await action()
        await asyncio.wait_for(self._event(update_id).wait(), timeout)
        return self.new_messages(user)

    async def wait_processed(self, update_id: int, timeout: float = 15) -> None:
        await asyncio.wait_for(self._event(update_id).wait(), timeout)

    def new_messages(self, user: ScriptedUser) -> list[BotMessage]:
        history = user.history
        start = self._seen.get(user.user_id, 0)
        self._seen[user.user_id] = len(history)
        return history[start:]


def text_of(messages: list[BotMessage]) -> str:
    return "\n".join(m.text or "" for m in messages)


def test_settings(data_dir: Path, database_url: str) -> Settings:
    return Settings(data_dir=data_dir, database_url=database_url)


@asynccontextmanager
async def running_loanbot(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> AsyncIterator[LoanBotHarness]:
    """The loan bot, built exactly as run.py builds it, polling `emulator`."""
    keyring = Keyring.parse(TEST_KEYRING_SPEC)
    cipher = FieldCipher(keyring)
    vault = Vault(data_dir / "files", keyring)
    settings = test_settings(data_dir, str(database.url))
    services = BotServices(settings, database, vault, Drafts(cipher), ProductLimits(), clock)
    application = build_application(services, token=emulator.token, api_url=emulator.url)
    harness = LoanBotHarness(emulator, database, vault, cipher, application)

    async def signal_done(update: Update, _: LoanBotContext) -> None:
        harness._event(update.update_id).set()

    application.add_handler(TypeHandler(Update, signal_done), group=1)
    await application.initialize()
    try:
        await prepare(application)
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield harness
        finally:
            if application.updater.running:
                await application.updater.stop()
            await application.stop()
    finally:
        await application.shutdown()
