"""B1 baseline (design §6): a bare python-telegram-bot echo bot driven through the Bot API
emulator, which runs in its own process together with the scripted users.

    python bench/chat_echo.py [--bot echo|loanbot] [--users 20] [--messages 25]

The emulator process plays Telegram and the users: each user sends a message, waits for the
bot's answer, and sends the next (closed loop), so latency is "update queued → reply seen"
on one clock. This process runs the bot under test, polling the emulator over HTTP.
Prints one JSON object and a one-line summary.

``bench/chat.py`` reuses :func:`run_benchmark` with the real bot's builder and its own
conversation turn (``turn="module:function"``, resolved inside the emulator process).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import multiprocessing
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.connection import Connection
from typing import Any

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.sandbox import BotApiEmulator, ScriptedUser

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
BotBuilder = Callable[[ApplicationBuilder[Any, Any, Any, Any, Any, Any]], AnyApplication]
Turn = Callable[[ScriptedUser, int], Awaitable[bool]]
"""One measured step: act as `user` for turn n, wait for the bot's answer, return in-order."""

TOKEN = "4242:BENCHMARK"


# --- the bot under test --------------------------------------------------------------------


async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Send the text back."""
    message = update.effective_message
    if message is not None and message.text is not None:
        await message.reply_text(message.text)


def build_echo_bot(builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any]) -> AnyApplication:
    """The bare echo bot: one handler, updates handled concurrently like the real bot."""
    application = builder.concurrent_updates(True).build()
    application.add_handler(MessageHandler(filters.TEXT, echo))
    return application


def build_loanbot(builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any]) -> AnyApplication:
    """TODO(lead): return the real bot's Application built on `builder` (database, vault and
    handlers set up in post_init), and pass a `turn` that walks the loan conversation."""
    raise NotImplementedError(
        "the loan bot builder is not plugged in yet: implement build_loanbot in bench/chat_echo.py "
        "or call run_benchmark(your_builder, turn='module:function') from bench/chat.py"
    )


BOTS: dict[str, BotBuilder] = {"echo": build_echo_bot, "loanbot": build_loanbot}


# --- the user side (runs inside the emulator process) -----------------------------------------


async def echo_turn(user: ScriptedUser, turn: int) -> bool:
    """Send one text and wait for its echo; False when the echo is not the text just sent."""
    text = f"{user.user_id}:{turn}"
    await user.send_text(text)
    answer = await user.next_message(timeout=30)
    return answer.text == text


@dataclass(frozen=True)
class LoadPlan:
    users: int
    messages: int
    turn: str
    warmup: int = 1


def _resolve_turn(dotted: str) -> Turn:
    module_name, _, function_name = dotted.partition(":")
    turn: Turn = getattr(importlib.import_module(module_name), function_name)
    return turn


async def _drive(emulator: BotApiEmulator, plan: LoadPlan) -> dict[str, Any]:
    turn = _resolve_turn(plan.turn)
    users = [emulator.user(100_000 + n, first_name=f"User{n}") for n in range(plan.users)]
    latencies: list[float] = []
    out_of_order = 0

    async def run_user(user: ScriptedUser) -> None:
        nonlocal out_of_order
        for n in range(plan.warmup):
            await turn(user, -1 - n)
        for n in range(plan.messages):
            started = time.perf_counter()
            in_order = await turn(user, n)
            latencies.append(time.perf_counter() - started)
            out_of_order += not in_order

    begun = time.perf_counter()
    await asyncio.gather(*(run_user(user) for user in users))
    elapsed = time.perf_counter() - begun
    latencies.sort()
    return {
        "users": plan.users,
        "messages_per_user": plan.messages,
        "updates": len(latencies),
        "seconds": round(elapsed, 3),
        "updates_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 2),
        "out_of_order": out_of_order,
        "too_many_requests": emulator.stats.too_many_requests,
    }


def _emulator_process(connection: Connection, plan: LoadPlan) -> None:
    """Child process: serve the Bot API, wait for "go", drive the users, report, wait for "stop"."""

    async def serve() -> None:
        emulator = BotApiEmulator(token=TOKEN, bot_username="bench_bot")
        await emulator.start(host="127.0.0.1", port=0)
        loop = asyncio.get_running_loop()
        try:
            connection.send(emulator.url)
            await loop.run_in_executor(None, connection.recv)
            connection.send(await _drive(emulator, plan))
            await loop.run_in_executor(None, connection.recv)
        finally:
            await emulator.stop()

    asyncio.run(serve())


# --- the bot side (this process) ------------------------------------------------------------


async def run_benchmark(
    build: BotBuilder, *, users: int, messages: int, turn: str | None = None
) -> dict[str, Any]:
    """Start the emulator process, run the bot from `build` against it, return the figures.

    `turn` names an async function ``(user, n) -> in_order`` as ``"module:function"``; it
    runs in the emulator process, so its module must be importable there. Default: echo.
    """
    turn = turn or f"{echo_turn.__module__}:{echo_turn.__name__}"
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    plan = LoadPlan(users=users, messages=messages, turn=turn)
    process = context.Process(target=_emulator_process, args=(child, plan), daemon=True)
    process.start()
    loop = asyncio.get_running_loop()
    try:
        url = await loop.run_in_executor(None, parent.recv)
        builder = (
            ApplicationBuilder()
            .token(TOKEN)
            .base_url(f"{url}/bot")
            .base_file_url(f"{url}/file/bot")
        )
        application = build(builder)
        async with application:
            await application.start()
            assert application.updater is not None
            await application.updater.start_polling(poll_interval=0, timeout=10)
            parent.send("go")
            figures: dict[str, Any] = await loop.run_in_executor(None, parent.recv)
            await application.updater.stop()
            await application.stop()
        parent.send("stop")
    finally:
        await loop.run_in_executor(None, process.join, 10)
        if process.is_alive():
            process.terminate()
    return {**figures, "plan": asdict(plan)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bot", choices=sorted(BOTS), default="echo")
    parser.add_argument("--users", type=int, default=20, help="chats at once")
    parser.add_argument("--messages", type=int, default=25, help="messages per chat")
    args = parser.parse_args(argv)
    figures = asyncio.run(run_benchmark(BOTS[args.bot], users=args.users, messages=args.messages))
    result = {"benchmark": "B1 chat pipeline baseline", "bot": args.bot, **figures}
    print(json.dumps(result, ensure_ascii=False))
    print(
        f"B1 {args.bot}: {figures['updates_per_second']} updates/s, "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"{figures['users']} chats x {figures['messages_per_user']} messages, "
        f"{figures['out_of_order']} out of order"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
