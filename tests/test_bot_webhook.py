"""Webhook mode: updates arrive by POST and only with Telegram's secret-token header."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import func, select

from bot.sandbox import BotApiEmulator
from bot.webhook import SECRET_HEADER, WEBHOOK_PATH, create_webhook_app
from storage.database import Database
from storage.models import ProcessedUpdate
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of

SECRET = "s3cret-token-for-tests-only"


@pytest.fixture
async def webhook(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> AsyncIterator[tuple[LoanBotHarness, str]]:
    async with running_loanbot(emulator, database, data_dir) as bot:
        assert bot.application.updater is not None
        await bot.application.updater.stop()
        runner = web.AppRunner(create_webhook_app(bot.application, SECRET))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}{WEBHOOK_PATH}"
        await bot.application.bot.set_webhook(url=url, secret_token=SECRET)
        try:
            yield bot, url
        finally:
            await runner.cleanup()


async def _processed(database: Database) -> int:
    async with database.unit_of_work() as session:
        return int(await session.scalar(select(func.count()).select_from(ProcessedUpdate)) or 0)


async def test_updates_arrive_by_webhook_with_the_secret(
    emulator: BotApiEmulator, webhook: tuple[LoanBotHarness, str]
) -> None:
    bot, _ = webhook
    user = emulator.user(6001, language_code="en")
    answer = await bot.say(user, lambda: user.command("/start"))
    assert "language" in text_of(answer).lower()


@pytest.mark.parametrize("header", [None, "wrong-secret", SECRET + "x"])
async def test_posts_without_the_right_secret_are_refused(
    database: Database, webhook: tuple[LoanBotHarness, str], header: str | None
) -> None:
    _, url = webhook
    update = {
        "update_id": 777,
        "message": {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 6002, "type": "private"},
            "from": {"id": 6002, "is_bot": False, "first_name": "Mallory"},
            "text": "/start",
        },
    }
    headers = {SECRET_HEADER: header} if header is not None else {}
    async with (
        aiohttp.ClientSession() as client,
        client.post(url, json=update, headers=headers) as reply,
    ):
        assert reply.status == 401
    assert await _processed(database) == 0
