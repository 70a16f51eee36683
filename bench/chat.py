"""B1 chat pipeline (design §6): the real loan bot against a bare PTB echo bot, in one run.

    python bench/chat.py [--chats 20,100] [--messages 36] [--window 2] [--repeat 2]
                         [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test]

Both bots poll the Bot API emulator, which runs in its own process with the scripted users
(machinery in ``bench/chat_echo.py``). The loan bot is built as run.py builds it, on a fresh
database: SQLite (WAL, as `Database` sets it up) in a temp data dir, or with
``--database-url`` a fresh schema on that PostgreSQL server; migrated with storage.migrate.

Workload per chat: /start and the language (warm-up), then this slice of a real application,
over and over: agree to the privacy notice, company name, a mistyped credit code (re-asked),
the right one, industry button, years, employees, revenue, owner, a resident ID number with a
wrong check digit (re-asked), the right one, the phone by the contact button, an amount that
is not a number (re-asked), amount, term, /cancel, "Yes, discard", /apply. Every update goes
through the state machine and a committed database transaction (the update id is claimed in
it; updates of different chats that arrive together share one, as the bot runs in
production; the bot's side checks that every update left its row). Chats type ahead up to `--window`
unanswered updates, so a reply in the wrong order would be caught (out_of_order). The bare
echo bot handles updates concurrently with no per-chat order, so its count is not zero; it
is reported, not judged.

The judged baseline is the echo bot as PTB comes (its default httpx transport). The loan
bot talks through bot/transport.py (aiohttp); the same echo bot on that transport is run
too and its ratio reported beside, not judged, so the transport's share is visible.

The bots' runs alternate `--repeat` times for each chat count; the best run of each is
compared (the machine is shared; the best run is the least disturbed). Prints one JSON
object, then a one-line summary; exits 1 when a reply came out of order, an update left no
row, or the ratio misses the goal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import secrets
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

# Run as a script, so the repository root (for `bench.chat_echo`) is not on the path by itself.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import event, func, select, text

from bench.chat_echo import (
    ECHO_SCRIPT,
    BotRunner,
    LoadPlan,
    RunningBot,
    Step,
    polling,
    run_benchmark,
    running_echo_bot,
    running_echo_bot_on_aiohttp,
)
from bot.application import build_application, prepare
from bot.context import BotServices
from bot.sandbox import ScriptedUser
from lending.products import ProductLimits
from settings import Settings
from storage.applications import Drafts
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring, MasterKey
from storage.migrate import migrate
from storage.models import Application, AuditEvent, ProcessedUpdate
from storage.types import utcnow
from storage.vault import Vault

GOAL = 0.8
LOAN_SCRIPT = "bench.chat:loan_script"
WARMUP_STEPS = 2
CREDIT_CODE = "91350100M000100Y43"
ID_NUMBER = "11010519491231002X"


# --- the applicant's side (runs in the emulator process) ------------------------------------


async def _press_containing(user: ScriptedUser, part: str) -> int:
    """Press the visible button whose label contains `part` (labels carry a ✓ or not)."""
    label = next(label for label in user.visible_buttons() if part in label)
    return await user.press(label)


def loan_script(user: ScriptedUser) -> Iterator[Step]:
    """/start and English once, then the application slice over and over (see the docstring)."""
    yield Step(partial(user.command, "/start"), ("Which language",), warmup=True)
    english = partial(_press_containing, user, "English")
    yield Step(english, ("Privacy notice",), after_replies=True, warmup=True)
    name = f"Benchmark Trading {user.user_id} Co., Ltd"
    while True:
        yield Step(partial(user.press, "I agree"), ("registered name",), after_replies=True)
        yield Step(partial(user.send_text, name), ("credit code",))
        yield Step(partial(user.send_text, CREDIT_CODE[:-1]), ("exactly 18 characters",))
        yield Step(partial(user.send_text, CREDIT_CODE), ("Which industry",))
        yield Step(partial(user.press, "Manufacturing"), ("full years",), after_replies=True)
        yield Step(partial(user.send_text, "8"), ("How many employees",))
        yield Step(partial(user.send_text, "25人"), ("revenue last year",))
        yield Step(partial(user.send_text, "500万"), ("full name of the owner",))
        yield Step(partial(user.send_text, "张伟"), ("resident ID number",))
        yield Step(partial(user.send_text, ID_NUMBER[:-1] + "1"), ("not valid",))
        yield Step(partial(user.send_text, ID_NUMBER), ("share the owner's mobile phone",))
        share = partial(user.share_contact, own=True)
        yield Step(share, ("138****8000 saved", "How much"), after_replies=True)
        yield Step(partial(user.send_text, "lots"), ("amount in yuan using digits",))
        yield Step(partial(user.send_text, "¥30万元"), ("how many months",))
        yield Step(partial(user.send_text, "24个月"), ("use the loan for",))
        yield Step(partial(user.command, "/cancel"), ("Discard your draft",))
        yield Step(partial(user.press, "Yes, discard"), ("discarded",), after_replies=True)
        yield Step(partial(user.command, "/apply"), ("Privacy notice",))


# --- the loan bot (this process) -------------------------------------------------------------


@asynccontextmanager
async def _fresh_database(data_dir: Path, database_url: str | None) -> AsyncIterator[Database]:
    """An empty, migrated database: SQLite in `data_dir`, or a new schema on PostgreSQL."""
    if database_url is None:
        database = Database(f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}")
        try:
            await migrate(database)
            yield database
        finally:
            await database.dispose()
        return
    schema = "b1_" + secrets.token_hex(6)
    admin = Database(database_url)
    try:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
        database = Database(database_url, connect_args={"server_settings": {"search_path": schema}})
        try:
            await migrate(database)
            yield database
        finally:
            await database.dispose()
            async with admin.engine.begin() as connection:
                await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        await admin.dispose()


class _LoanBotFigures:
    """Counts SQL statements while the bot runs; afterwards, what the load left in the database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self.statements = 0
        event.listen(database.engine.sync_engine, "before_cursor_execute", self._count)

    def _count(self, *_: object) -> None:
        self.statements += 1

    async def report(self) -> dict[str, Any]:
        statements = self.statements
        async with self._database.unit_of_work() as session:
            processed = await session.scalar(select(func.count()).select_from(ProcessedUpdate))
            drafts = await session.scalar(select(func.count()).select_from(Application))
            events = await session.scalar(select(func.count()).select_from(AuditEvent))
        return {
            "processed_updates": processed,
            "sql_statements_per_update": round(statements / max(processed or 0, 1), 1),
            "drafts_left": drafts,
            "audit_events": events,
        }


@asynccontextmanager
async def running_loanbot(
    api_url: str, token: str, *, database_url: str | None = None
) -> AsyncIterator[RunningBot]:
    """The loan bot as run.py composes it, on a fresh database and data dir, polling `api_url`."""
    with tempfile.TemporaryDirectory(prefix="b1-loanbot-") as temporary:
        data_dir = Path(temporary)
        async with _fresh_database(data_dir, database_url) as database:
            keyring = Keyring([MasterKey("bench", secrets.token_bytes(32))])
            cipher = FieldCipher(keyring)
            settings = Settings(data_dir=data_dir, database_url=str(database.url))
            vault = Vault(settings.files_dir, keyring)
            services = BotServices(
                settings, database, vault, Drafts(cipher), ProductLimits(), utcnow
            )
            figures = _LoanBotFigures(database)
            application = build_application(services, token=token, api_url=api_url)
            async with application:
                await prepare(application)
                async with polling(application):
                    yield figures


# --- side by side --------------------------------------------------------------------------


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda run: float(run["updates_per_second"]))


async def compare(
    chats: int, *, messages: int, window: int, repeat: int, loanbot: BotRunner
) -> dict[str, Any]:
    """Echo and loan bot runs, alternating, for one number of chats at once."""
    runs: dict[str, list[dict[str, Any]]] = {"echo": [], "echo_aiohttp": [], "loanbot": []}
    for _ in range(repeat):
        for name, runner, script in (
            ("echo", running_echo_bot, ECHO_SCRIPT),
            ("echo_aiohttp", running_echo_bot_on_aiohttp, ECHO_SCRIPT),
            ("loanbot", loanbot, LOAN_SCRIPT),
        ):
            plan = LoadPlan(users=chats, messages=messages, script=script, window=window)
            runs[name].append(await run_benchmark(runner, plan))
    echo, loan = _best(runs["echo"]), _best(runs["loanbot"])
    echo_aiohttp = _best(runs["echo_aiohttp"])
    expected_rows = chats * (WARMUP_STEPS + messages)
    return {
        "chats": chats,
        "echo": echo,
        "loanbot": loan,
        "ratio_updates_per_second": round(
            loan["updates_per_second"] / echo["updates_per_second"], 3
        ),
        "echo_on_aiohttp": echo_aiohttp,
        "ratio_to_echo_on_aiohttp": round(
            loan["updates_per_second"] / echo_aiohttp["updates_per_second"], 3
        ),
        "ratio_bot_cpu_per_update": round(
            loan["bot_cpu_ms_per_update"] / echo["bot_cpu_ms_per_update"], 2
        ),
        "loanbot_out_of_order": sum(run["out_of_order"] for run in runs["loanbot"]),
        "every_update_in_database": all(
            run["processed_updates"] == expected_rows for run in runs["loanbot"]
        ),
        "all_runs_updates_per_second": {
            name: [run["updates_per_second"] for run in found] for name, found in runs.items()
        },
    }


def _machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "load_average_1m_5m_15m": [round(load, 2) for load in os.getloadavg()],
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
    }


def _summary(database: str, results: list[dict[str, Any]], ok: bool) -> str:
    parts = [
        f"{r['chats']} chats: loanbot {r['loanbot']['updates_per_second']}/s vs echo "
        f"{r['echo']['updates_per_second']}/s = {r['ratio_updates_per_second']}x, "
        f"p50 {r['loanbot']['p50_ms']}/{r['echo']['p50_ms']} ms, "
        f"p99 {r['loanbot']['p99_ms']}/{r['echo']['p99_ms']} ms, "
        f"(echo on aiohttp {r['echo_on_aiohttp']['updates_per_second']}/s: "
        f"{r['ratio_to_echo_on_aiohttp']}x), "
        f"{r['loanbot_out_of_order']} out of order (echo: {r['echo']['out_of_order']})"
        for r in results
    ]
    verdict = "goal met" if ok else f"GOAL MISSED (ratio >= {GOAL}, in order, every update stored)"
    return f"B1 chat pipeline ({database}): " + "; ".join(parts) + f"; {verdict}"


async def run(args: argparse.Namespace) -> dict[str, Any]:
    loanbot = partial(running_loanbot, database_url=args.database_url)
    machine_before = _machine()
    results = [
        await compare(
            chats, messages=args.messages, window=args.window, repeat=args.repeat, loanbot=loanbot
        )
        for chats in args.chats
    ]
    ok = all(
        r["ratio_updates_per_second"] >= GOAL
        and r["loanbot_out_of_order"] == 0
        and r["every_update_in_database"]
        for r in results
    )
    plan = LoadPlan(users=0, messages=args.messages, script=LOAN_SCRIPT, window=args.window)
    return {
        "benchmark": "B1 chat pipeline",
        "database": "postgresql" if args.database_url else "sqlite",
        "goal_ratio": GOAL,
        "ok": ok,
        "plan": {**asdict(plan), "chats": args.chats, "repeat": args.repeat},
        "machine_before": machine_before,
        "machine_after": _machine(),
        "results": results,
    }


def _chat_counts(value: str) -> list[int]:
    return [int(part) for part in value.split(",") if part.strip()]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--chats", type=_chat_counts, default=[20, 100], help="e.g. 20,100")
    parser.add_argument("--messages", type=int, default=36, help="measured updates per chat")
    parser.add_argument("--window", type=int, default=2, help="unanswered updates per chat")
    parser.add_argument("--repeat", type=int, default=2, help="alternating runs per bot")
    parser.add_argument("--database-url", help="run the loan bot on PostgreSQL (fresh schema)")
    args = parser.parse_args(argv)
    # PTB's time periods as timedelta (its int form is deprecated), as in the tests.
    os.environ.setdefault("PTB_TIMEDELTA", "1")
    result = asyncio.run(run(args))
    print(json.dumps(result, ensure_ascii=False))
    print(_summary(result["database"], result["results"], result["ok"]))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
