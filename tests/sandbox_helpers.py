"""Reusable sandbox fixtures: the Bot API emulator on a free port, the real
python-telegram-bot Application polling it over HTTP, and Debian's chromium for page tests.

tests/conftest.py loads this module as a pytest plugin, so every test can ask for
``emulator``, ``ptb_application`` and ``chromium`` (a Playwright Browser). PTB must run with
``PTB_TIMEDELTA=1`` under ``filterwarnings=error`` (otherwise building a ``RetryAfter`` emits
a deprecation warning); the ``ptb_timedelta`` fixture sets it.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import pytest
from playwright.async_api import Browser, async_playwright, expect
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, RetryAfter
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.sandbox import BotApiEmulator

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
BuildApplication = Callable[[ApplicationBuilder[Any, Any, Any, Any, Any, Any]], AnyApplication]
StartApplication = Callable[[BuildApplication], Awaitable[AnyApplication]]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# A shared 2-core machine can be slow to start a browser; be patient rather than flaky.
BROWSER_EXPECT_TIMEOUT_MS = 15_000


def sandbox_builder(emulator: BotApiEmulator) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    """An ApplicationBuilder already pointed at the emulator (token, API and file URLs)."""
    return (
        ApplicationBuilder()
        .token(emulator.token)
        .base_url(f"{emulator.url}/bot")
        .base_file_url(f"{emulator.url}/file/bot")
    )


def sandbox_bot(emulator: BotApiEmulator, token: str | None = None) -> Bot:
    """A bare PTB Bot talking to the emulator; use ``async with`` to initialise it."""
    return Bot(
        token or emulator.token,
        base_url=f"{emulator.url}/bot",
        base_file_url=f"{emulator.url}/file/bot",
    )


async def wait_until(condition: Callable[[], bool], within: float = 10.0) -> None:
    """Let the event loop run until `condition` holds; fail after `within` seconds."""
    step = 0.01
    for _ in range(int(within / step)):
        if condition():
            return
        await asyncio.sleep(step)
    raise AssertionError(f"condition still false after {within} s")


@asynccontextmanager
async def running_emulator(**options: Any) -> AsyncIterator[BotApiEmulator]:
    """A started emulator on 127.0.0.1 and a free port; stopped on exit."""
    emulator = BotApiEmulator(**options)
    await emulator.start(host="127.0.0.1", port=0)
    try:
        yield emulator
    finally:
        await emulator.stop()


@asynccontextmanager
async def running_application(
    emulator: BotApiEmulator, build: BuildApplication
) -> AsyncIterator[AnyApplication]:
    """Build an Application from a builder aimed at the emulator, run it polling, stop it."""
    application = build(sandbox_builder(emulator))
    await application.initialize()
    try:
        await application.start()
        assert application.updater is not None
        await application.updater.start_polling(poll_interval=0, timeout=1)
        try:
            yield application
        finally:
            if application.updater.running:
                await application.updater.stop()
            await application.stop()
    finally:
        await application.shutdown()


@pytest.fixture
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """PTB's time periods as timedelta, so RetryAfter raises no deprecation warning."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    yield


@pytest.fixture
async def emulator(ptb_timedelta: None) -> AsyncIterator[BotApiEmulator]:
    """A running emulator (token ``123:ABC``, bot ``@sme_loan_bot``)."""
    async with running_emulator() as started:
        yield started


@pytest.fixture
async def ptb_application(emulator: BotApiEmulator) -> AsyncIterator[StartApplication]:
    """``await ptb_application(build)`` starts an Application; all are stopped at teardown."""
    async with AsyncExitStack() as stack:

        async def start(build: BuildApplication) -> AnyApplication:
            return await stack.enter_async_context(running_application(emulator, build))

        yield start


@pytest.fixture
async def chromium() -> AsyncIterator[Browser]:
    """Debian's chromium, headless, driven by Playwright."""
    expect.set_options(timeout=BROWSER_EXPECT_TIMEOUT_MS)
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            await launched.close()


# --- a small bot that exercises every emulator feature -------------------------------------


async def _demo_start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Greet the user by name."""
    assert update.effective_message is not None and update.effective_user is not None
    await update.effective_message.reply_text(f"Hello {update.effective_user.first_name}")


async def _demo_buttons(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Offer two inline buttons with Chinese labels."""
    assert update.effective_message is not None
    keyboard = InlineKeyboardMarkup(
        [
            [InlineKeyboardButton("同意", callback_data="agree")],
            [InlineKeyboardButton("不同意", callback_data="disagree")],
        ]
    )
    await update.effective_message.reply_text("请选择：", reply_markup=keyboard)


async def _demo_pressed(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Answer the press and replace the question with the choice (the keyboard goes)."""
    query = update.callback_query
    assert query is not None
    await query.answer(f"pressed {query.data}")
    await query.edit_message_text(f"<b>Chosen:</b> {query.data}", parse_mode=ParseMode.HTML)


async def _demo_ask_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Show a reply keyboard with a contact button."""
    assert update.effective_message is not None
    keyboard = ReplyKeyboardMarkup(
        [[KeyboardButton("Share my phone", request_contact=True)], ["Skip"]],
        one_time_keyboard=True,
        resize_keyboard=True,
    )
    await update.effective_message.reply_text("Your phone, please", reply_markup=keyboard)


async def _demo_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Report whose contact arrived and remove the keyboard."""
    message = update.effective_message
    assert message is not None and message.contact is not None
    await message.reply_text(
        f"contact user_id={message.contact.user_id} phone={message.contact.phone_number}",
        reply_markup=ReplyKeyboardRemove(),
    )


async def _demo_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the document and send the same bytes back."""
    message = update.effective_message
    assert message is not None and message.document is not None
    try:
        file = await message.document.get_file()
    except BadRequest as error:
        await message.reply_text(f"BadRequest: {error.message}")
        return
    data = bytes(await file.download_as_bytearray())
    await message.reply_document(
        data, filename=f"echo-{message.document.file_name}", caption=f"{len(data)} bytes"
    )


async def _demo_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Download the largest photo size and send it back."""
    message = update.effective_message
    assert message is not None and message.photo
    file = await message.photo[-1].get_file()
    buffer = io.BytesIO()
    await file.download_to_memory(buffer)
    await message.reply_photo(buffer.getvalue(), caption=f"{message.photo[-1].width}px")


async def _demo_try(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/long, /baddata, /badhtml: send something Telegram refuses and report the error."""
    message = update.effective_message
    assert message is not None and message.text is not None
    attempt = message.text.split()[0].lstrip("/")
    try:
        if attempt == "long":
            await message.reply_text("x" * 4097)
        elif attempt == "baddata":
            button = InlineKeyboardButton("too much", callback_data="d" * 65)
            await message.reply_text("?", reply_markup=InlineKeyboardMarkup([[button]]))
        else:
            await message.reply_text("line<br>break", parse_mode=ParseMode.HTML)
    except BadRequest as error:
        await message.reply_text(f"BadRequest: {error.message}")


async def _demo_echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Echo text; on 429 say how long Telegram asked to wait."""
    message = update.effective_message
    assert message is not None and message.text is not None
    context.bot_data.setdefault("update_ids", []).append(update.update_id)
    try:
        await message.reply_text(message.text)
    except RetryAfter as error:
        seconds = error.retry_after
        seconds = int(seconds.total_seconds()) if isinstance(seconds, dt.timedelta) else seconds
        await message.reply_text(f"RetryAfter {seconds}")


def build_demo_bot(
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any],
) -> AnyApplication:
    """The emulator's test partner: echo, buttons, contact, files and refused requests."""
    application = builder.build()
    application.add_handler(CommandHandler("start", _demo_start))
    application.add_handler(CommandHandler("buttons", _demo_buttons))
    application.add_handler(CommandHandler("contact", _demo_ask_contact))
    application.add_handler(CommandHandler(["long", "baddata", "badhtml"], _demo_try))
    application.add_handler(CallbackQueryHandler(_demo_pressed))
    application.add_handler(MessageHandler(filters.CONTACT, _demo_contact))
    application.add_handler(MessageHandler(filters.Document.ALL, _demo_document))
    application.add_handler(MessageHandler(filters.PHOTO, _demo_photo))
    application.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, _demo_echo))
    return application
