"""B1 machinery and baseline (design §6): a bot under test polls the Bot API emulator, which
runs in its own process together with the scripted users who load it.

    python bench/chat_echo.py [--bot echo|loanbot] [--users 20] [--messages 18] [--window 2]

Each user follows a script of steps (an update to send and what the answer must say). A user
may type ahead: up to `window` updates unanswered at once, except that a button press waits
until every earlier update is answered (the keyboard has to be there to be pressed). Replies
are matched to updates in sending order, so a reply that does not fit the oldest unanswered
update counts as out of order. Latency is "update queued → its last reply seen", measured in
the emulator process on one clock; the bot's CPU time is measured in this process.

``bench/chat.py`` runs this with the echo bot and the real loan bot side by side.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import itertools
import json
import multiprocessing
import os
import statistics
import sys
import time
import traceback
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Protocol

# Run as a script, so the repository root (for `bench.chat`) is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from telegram import Update
from telegram.ext import Application, ApplicationBuilder, ContextTypes, MessageHandler, filters

from bot.sandbox import BotApiEmulator, ScriptedUser

AnyApplication = Application[Any, Any, Any, Any, Any, Any]
TOKEN = "4242:BENCHMARK"
POLL_TIMEOUT_SECONDS = 10
REPLY_TIMEOUT_SECONDS = 60


# --- the workload ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One update a scripted user sends, and what the bot must answer to it."""

    send: Callable[[], Awaitable[int]]
    expect: tuple[str, ...]
    """A substring of each reply message, in order: one entry per message the bot sends."""
    after_replies: bool = False
    """Send only once every earlier update is answered (a button press needs its keyboard)."""
    warmup: bool = False
    """Not measured: the chat's first steps, before the repeated slice begins."""


Script = Callable[[ScriptedUser], Iterator[Step]]
"""A user's endless sequence of steps: warm-up steps first, then the measured ones."""


def echo_script(user: ScriptedUser) -> Iterator[Step]:
    """Texts that name their chat and turn; the echo must be exactly the text sent."""
    yield Step(partial(user.send_text, "warm-up"), ("warm-up",), warmup=True)
    for turn in itertools.count():
        text = f"{user.user_id}:{turn}"
        yield Step(partial(user.send_text, text), (text,))


ECHO_SCRIPT = "bench.chat_echo:echo_script"


@dataclass(frozen=True)
class LoadPlan:
    users: int
    messages: int
    """Measured updates per chat."""
    script: str
    """``"module:function"`` naming a :data:`Script`, resolved inside the emulator process."""
    window: int = 2


def _resolve_script(dotted: str) -> Script:
    module_name, _, function_name = dotted.partition(":")
    script: Script = getattr(importlib.import_module(module_name), function_name)
    return script


# --- the user side (runs inside the emulator process) -----------------------------------------


class _Chat:
    """One user's run: sends steps, matches replies to them in order, records latencies."""

    def __init__(self, user: ScriptedUser, steps: Iterator[Step], latencies: list[float]) -> None:
        self.user = user
        self.steps = steps
        self.latencies = latencies
        self.out_of_order = 0
        self._waiting: deque[tuple[float, Step]] = deque()

    async def run(self, plan: LoadPlan) -> None:
        step = next(self.steps)
        while step.warmup:
            await step.send()
            if not await self._replies_fit(step):
                raise RuntimeError(f"chat {self.user.user_id}: unexpected answer while warming up")
            step = next(self.steps)
        for _ in range(plan.messages):
            while self._waiting and (step.after_replies or len(self._waiting) >= plan.window):
                await self._answer_oldest()
            self._waiting.append((time.perf_counter(), step))
            await step.send()
            step = next(self.steps)
        while self._waiting:
            await self._answer_oldest()

    async def _answer_oldest(self) -> None:
        started, step = self._waiting.popleft()
        in_order = await self._replies_fit(step)
        self.latencies.append(time.perf_counter() - started)
        self.out_of_order += not in_order

    async def _replies_fit(self, step: Step) -> bool:
        fits = True
        for expected in step.expect:
            reply = await self.user.next_message(timeout=REPLY_TIMEOUT_SECONDS)
            fits = fits and expected in (reply.text or "")
        return fits


def _percentile(ordered: list[float], fraction: float) -> float:
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


async def _drive(emulator: BotApiEmulator, plan: LoadPlan) -> dict[str, Any]:
    script = _resolve_script(plan.script)
    latencies: list[float] = []
    users = [emulator.user(100_000 + n, first_name=f"User{n}") for n in range(plan.users)]
    chats = [_Chat(user, script(user), latencies) for user in users]
    begun = time.perf_counter()
    await asyncio.gather(*(chat.run(plan) for chat in chats))
    elapsed = time.perf_counter() - begun
    latencies.sort()
    return {
        "chats": plan.users,
        "updates": len(latencies),
        "seconds": round(elapsed, 3),
        "updates_per_second": round(len(latencies) / elapsed, 1),
        "p50_ms": round(statistics.median(latencies) * 1000, 2),
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 2),
        "out_of_order": sum(chat.out_of_order for chat in chats),
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
            try:
                figures = await _drive(emulator, plan)
            except Exception:
                figures = {"error": traceback.format_exc()}
            connection.send(figures)
            await loop.run_in_executor(None, connection.recv)
        finally:
            await emulator.stop()

    asyncio.run(serve())


# --- the bot side (this process) ------------------------------------------------------------


class RunningBot(Protocol):
    async def report(self) -> dict[str, Any]:
        """Figures only the bot's side knows (e.g. rows written), taken after the load."""
        ...


BotRunner = Callable[[str, str], AbstractAsyncContextManager[RunningBot]]
"""``runner(api_url, token)``: a context in which the bot under test polls the emulator."""


class BenchmarkError(RuntimeError):
    """The load could not be completed (a chat timed out or got an answer it could not use)."""


def builder_for(api_url: str, token: str) -> ApplicationBuilder[Any, Any, Any, Any, Any, Any]:
    return (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
    )


@asynccontextmanager
async def polling(application: AnyApplication) -> AsyncIterator[None]:
    """Run an initialised application's update loop the way run.py does, stop it afterwards."""
    await application.start()
    assert application.updater is not None
    await application.updater.start_polling(poll_interval=0.0, timeout=POLL_TIMEOUT_SECONDS)
    try:
        yield
    finally:
        await application.updater.stop()
        await application.stop()


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


class _NothingToReport:
    async def report(self) -> dict[str, Any]:
        return {}


@asynccontextmanager
async def running_echo_bot(api_url: str, token: str) -> AsyncIterator[RunningBot]:
    """The bare echo bot as PTB comes: its default httpx transport."""
    application = build_echo_bot(builder_for(api_url, token))
    async with application, polling(application):
        yield _NothingToReport()


@asynccontextmanager
async def running_echo_bot_on_aiohttp(api_url: str, token: str) -> AsyncIterator[RunningBot]:
    """The echo bot on the loan bot's transport (bot/transport.py): shown beside the judged
    ratio, so the transport's share of the loan bot's speed is visible."""
    from bot.transport import AiohttpRequest

    builder = builder_for(api_url, token).request(AiohttpRequest())
    builder = builder.get_updates_request(AiohttpRequest(connection_pool_size=1))
    application = build_echo_bot(builder)
    async with application, polling(application):
        yield _NothingToReport()


async def run_benchmark(runner: BotRunner, plan: LoadPlan) -> dict[str, Any]:
    """Start the emulator process, run the bot from `runner` against it, return the figures."""
    context = multiprocessing.get_context("spawn")
    parent, child = context.Pipe()
    process = context.Process(target=_emulator_process, args=(child, plan), daemon=True)
    process.start()
    child.close()
    loop = asyncio.get_running_loop()
    load_before = os.getloadavg()[0]
    try:
        url = await loop.run_in_executor(None, parent.recv)
        async with runner(url, TOKEN) as bot:
            cpu_started = time.process_time()
            parent.send("go")
            figures: dict[str, Any] = await loop.run_in_executor(None, parent.recv)
            bot_cpu = time.process_time() - cpu_started
            extra = await bot.report() if "error" not in figures else {}
        parent.send("stop")
    finally:
        await loop.run_in_executor(None, process.join, 10)
        if process.is_alive():
            process.terminate()
    if "error" in figures:
        raise BenchmarkError(figures["error"])
    return {
        **figures,
        "bot_cpu_ms_per_update": round(bot_cpu * 1000 / figures["updates"], 3),
        "load_average_1m": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        **extra,
    }


def _bot_named(name: str) -> tuple[BotRunner, str]:
    """The runner and script for ``--bot``; the loan bot's live in bench/chat.py."""
    if name == "loanbot":
        from bench.chat import LOAN_SCRIPT, running_loanbot

        return running_loanbot, LOAN_SCRIPT
    return running_echo_bot, ECHO_SCRIPT


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--bot", choices=["echo", "loanbot"], default="echo")
    parser.add_argument("--users", type=int, default=20, help="chats at once")
    parser.add_argument("--messages", type=int, default=18, help="measured updates per chat")
    parser.add_argument("--window", type=int, default=2, help="unanswered updates per chat")
    args = parser.parse_args(argv)
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    runner, script = _bot_named(args.bot)
    plan = LoadPlan(users=args.users, messages=args.messages, script=script, window=args.window)
    figures = asyncio.run(run_benchmark(runner, plan))
    result = {"benchmark": "B1 chat pipeline, one bot", "bot": args.bot, **figures}
    result["plan"] = asdict(plan)
    print(json.dumps(result, ensure_ascii=False))
    print(
        f"B1 {args.bot}: {figures['updates_per_second']} updates/s, "
        f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms, "
        f"{figures['chats']} chats x {args.messages} updates, "
        f"{figures['out_of_order']} out of order"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
