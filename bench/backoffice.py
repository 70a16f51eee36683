"""B3 back-office: the review queue and application pages with 100 000 applications and 50
signed-in officers at once.

Run: `.venv/bin/python bench/backoffice.py` (SQLite in a temp dir) or add
`--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/test` (a throw-away schema is
created and dropped). Prints one JSON object, then a one-line summary; exits 1 if a goal is
missed.

Set-up: 100 000 submitted applications (with applicants, five documents each, and the
hash-chained "application.submitted" audit events), bulk-inserted with Core in batches; the
C2 fields of every row are encrypted for real, since the application page decrypts them.
Each client gets its own officer and a server-side session made in the database (signing in
is measured elsewhere; the cookie is the one a browser would hold).

Load: the real app factory served by aiohttp on 127.0.0.1 in a child process (with
`--workers N`, N processes sharing the port, to see what more would give); this process
runs 50 clients (aiohttp ClientSession), each repeating in turn the first queue page, the
queue page 1000 pages deep (keyset cursor) and a random application's page (an audited read:
one audit event written per view). Two phases against the same server, each after a warm-up:

- paced: each officer reads a page for a random think time (exponential, mean 1 s) before
  the next click, about 50 requests/s in all (a busy office: real officers read for longer).
  The latency goal applies here: p99 < 50 ms for every page;
- saturated: no think time, 50 requests always in flight: the most the server does per
  second (latency is then just 50 / throughput, so no goal applies to it).

Depth: the queue's page query is also timed alone, page 1 against page 1000, interleaved in
one read-only unit of work (median of 200 each); page 1000 must cost what page 1 costs (ratio
≤ 1.25).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import multiprocessing
import os
import platform
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing.synchronize import Event as ProcessEvent
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp import web
from sqlalchemy import func, insert, select, text, update

from backoffice.app import create_app
from backoffice.queue import PAGE_SIZE, Cursor, QueueFilters, queue_page
from backoffice.sessions import Stage, start_session
from settings import Settings
from storage.audit import GENESIS_HASH, HEAD_ID, event_hash
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring, MasterKey
from storage.migrate import migrate
from storage.models import (
    Applicant,
    Application,
    AuditEvent,
    AuditHead,
    Base,
    Document,
    Officer,
)

DEFAULT_APPLICATIONS = 100_000
DEFAULT_CLIENTS = 50
DEEP_PAGE = 1000
BATCH = 2000
GOAL_P99_MS = 50.0
GOAL_DEPTH_RATIO = 1.25
# An officer reads a page before the next click; one second on average is already a busy one.
DEFAULT_THINK_S = 1.0
PAGE_KINDS = ("queue_page_1", "queue_page_1000", "application_page")
STATUSES = (
    ("submitted", 30),
    ("under_review", 25),
    ("info_requested", 10),
    ("pending_approval", 10),
    ("approved", 10),
    ("rejected", 10),
    ("withdrawn", 5),
)
DOCUMENT_TYPES = (
    "business_licence",
    "owner_id",
    "financial_statements",
    "bank_statements",
    "tax_certificate",
)
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Target:
    """Where the database is: its URL and, on PostgreSQL, the schema made for this run."""

    url: str
    schema: str | None

    def database(self) -> Database:
        if self.schema is None:
            return Database(self.url)
        return Database(self.url, connect_args={"server_settings": {"search_path": self.schema}})


@dataclass(frozen=True)
class Prepared:
    tokens: list[str]
    deep_cursor: str
    application_ids: range


def _deep_page(applications: int) -> int:
    """Page 1000, or the deepest full page a smaller run has."""
    return max(1, min(DEEP_PAGE, applications // PAGE_SIZE - 1))


def _keyring(key: bytes) -> Keyring:
    return Keyring([MasterKey("bench", key)])


# --- set-up --------------------------------------------------------------------------------


async def prepare(target: Target, key: bytes, applications: int, clients: int) -> Prepared:
    database = target.database()
    try:
        await migrate(database)
        cipher = FieldCipher(_keyring(key))
        await _seed(database, cipher, applications)
        tokens = await _sessions(database, clients)
        await _settle(database)
        async with database.reading() as session:
            row = (
                await session.execute(
                    select(Application.submitted_at, Application.id)
                    .where(Application.submitted_at.is_not(None))
                    .order_by(Application.submitted_at, Application.id)
                    .offset(_deep_page(applications) * PAGE_SIZE - 1)
                    .limit(1)
                )
            ).one()
        return Prepared(
            tokens=tokens,
            deep_cursor=Cursor(row.submitted_at, row.id).encode(),
            application_ids=range(1, applications + 1),
        )
    finally:
        await database.dispose()


def _status_cycle(rng: random.Random) -> Iterator[str]:
    names = [name for name, _ in STATUSES]
    weights = [weight for _, weight in STATUSES]
    while True:
        yield from rng.choices(names, weights, k=1000)


async def _seed(database: Database, cipher: FieldCipher, count: int) -> None:
    rng = random.Random(3)
    statuses = _status_cycle(rng)
    prev_hash = GENESIS_HASH
    start = NOW - timedelta(days=180)
    async with database.engine.begin() as connection:
        for first in range(1, count + 1, BATCH):
            ids = range(first, min(first + BATCH, count + 1))
            applicants, rows, documents, events = [], [], [], []
            for row_id in ids:
                submitted = start + timedelta(seconds=row_id * 150 + rng.randrange(100))
                phone = f"13{row_id:09d}"
                id_number = f"110101{1970 + row_id % 40}0101{row_id % 10000:04d}"[:17] + "X"
                reference = f"SME-{submitted.year}-{row_id:06d}"
                applicants.append(
                    {"id": row_id, "telegram_user_id": 10_000_000 + row_id, "chat_id": row_id}
                )
                rows.append(
                    {
                        "id": row_id,
                        "reference": reference,
                        "applicant_id": row_id,
                        "status": next(statuses),
                        "locale": "zh_Hans",
                        "company_name": f"杭州第{row_id}号贸易有限公司",
                        "credit_code": "91330100MA2H7XKQ1X",
                        "industry": "wholesale_retail",
                        "years_in_operation": 5,
                        "employees": 12,
                        "annual_revenue_enc": cipher.encrypt_decimal(
                            Decimal("4800000.00"),
                            table="applications",
                            column="annual_revenue",
                            row_id=row_id,
                        ),
                        "owner_name": "王伟",
                        "owner_id_number_enc": cipher.encrypt(
                            id_number, table="applications", column="owner_id_number", row_id=row_id
                        ),
                        "owner_id_number_index": cipher.blind_index(
                            id_number, column="owner_id_number"
                        ),
                        "phone_enc": cipher.encrypt(
                            phone, table="applications", column="phone", row_id=row_id
                        ),
                        "phone_index": cipher.blind_index(phone, column="phone"),
                        "amount": Decimal(rng.randrange(50, 3000) * 1000),
                        "term_months": 24,
                        "purpose": "working_capital",
                        "repayment_method": "equal_instalments",
                        "security_type": "none",
                        "created_at": submitted - timedelta(hours=1),
                        "submitted_at": submitted,
                        "updated_at": submitted,
                    }
                )
                documents += [
                    {
                        "application_id": row_id,
                        "doc_type": doc_type,
                        "storage_name": f"{row_id:08d}{number}{secrets.token_hex(8)}",
                        "content_type": "application/pdf",
                        "size": 250_000,
                        "key_id": "bench",
                        "created_at": submitted - timedelta(minutes=30 - number),
                    }
                    for number, doc_type in enumerate(DOCUMENT_TYPES)
                ]
                details = {"reference": reference}
                digest = event_hash(
                    seq=row_id,
                    occurred_at=submitted,
                    actor_type="applicant",
                    actor_id=str(row_id),
                    action="application.submitted",
                    subject_type="application",
                    subject_id=str(row_id),
                    details=details,
                    prev_hash=prev_hash,
                )
                events.append(
                    {
                        "seq": row_id,
                        "occurred_at": submitted,
                        "actor_type": "applicant",
                        "actor_id": str(row_id),
                        "action": "application.submitted",
                        "subject_type": "application",
                        "subject_id": str(row_id),
                        "details": details,
                        "prev_hash": prev_hash,
                        "hash": digest,
                    }
                )
                prev_hash = digest
            await connection.execute(insert(Applicant), applicants)
            await connection.execute(insert(Application), rows)
            await connection.execute(insert(Document), documents)
            await connection.execute(insert(AuditEvent), events)
        await connection.execute(insert(AuditHead).values(id=HEAD_ID, seq=count, hash=prev_hash))
        if database.is_postgres:
            # Explicit ids leave the sequences behind; later inserts must not collide.
            for table in ("applicants", "applications", "documents"):
                await connection.execute(
                    text(
                        f"select setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(select max(id) from {table}))"
                    )
                )


async def _settle(database: Database) -> None:
    """Leave the tables as a long-running database has them: fresh statistics, so the planner
    picks the indexes; on PostgreSQL also vacuumed (autovacuum's work) and checkpointed, so
    index-only scans need no heap visits, and neither an autovacuum nor the flush of the bulk
    load runs while the load is measured (a checkpoint's sync stalls commits)."""
    if not database.is_postgres:
        async with database.engine.begin() as connection:
            await connection.execute(text("ANALYZE"))
        return
    tables = ", ".join(table.name for table in Base.metadata.sorted_tables)
    async with database.engine.connect() as connection:
        # VACUUM runs outside any transaction.
        outside = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await outside.execute(text(f"VACUUM (ANALYZE) {tables}"))
        await outside.execute(text("CHECKPOINT"))


async def _sessions(database: Database, clients: int) -> list[str]:
    tokens = []
    async with database.unit_of_work() as session:
        for number in range(clients):
            officer = Officer(
                username=f"bench.officer{number}",
                display_name=f"Officer {number}",
                role="officer" if number % 2 else "approver",
                password_hash="not-used",
                totp_confirmed=True,
                must_change_password=False,
                locale="zh_Hans" if number % 3 == 0 else "en",
            )
            session.add(officer)
            await session.flush()
            started = await start_session(
                session, officer_id=officer.id, stage=Stage.FULL, now=datetime.now(UTC)
            )
            tokens.append(started.token)
    # A few applications assigned, so "assigned to" names show on queue pages.
    async with database.unit_of_work() as session:
        await session.execute(
            update(Application)
            .where(Application.id % 7 == 0)
            .values(assigned_officer_id=select(func.min(Officer.id)).scalar_subquery())
        )
    return tokens


# --- the server, in a child process ----------------------------------------------------------


def serve(
    target: Target,
    key: bytes,
    data_dir: str,
    port_out: Any,
    stop: ProcessEvent,
    *,
    port: int = 0,
    shared: bool = False,
) -> None:
    """One server process; `shared` lets several listen on one port (SO_REUSEPORT)."""
    asyncio.run(_serve(target, key, Path(data_dir), port_out, stop, port=port, shared=shared))


async def _serve(
    target: Target,
    key: bytes,
    data_dir: Path,
    port_out: Any,
    stop: ProcessEvent,
    *,
    port: int,
    shared: bool,
) -> None:
    database = target.database()
    settings = Settings(data_dir=data_dir, database_url=target.url)
    app = create_app(
        settings=settings,
        database=database,
        field_cipher=FieldCipher(_keyring(key)),
        vault=None,
    )
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, reuse_port=shared or None)
    await site.start()
    # As a long-running server should once it is up: what start-up made (modules, metadata,
    # compiled templates) lives as long as the process, and left in the collector's oldest
    # generation every full collection walks it all again (about 0.1 s, mid-request).
    gc.freeze()
    port_out.put(runner.addresses[0][1])
    await asyncio.to_thread(stop.wait)
    await runner.cleanup()
    await database.dispose()


# --- the load --------------------------------------------------------------------------------


@dataclass
class Phase:
    """What one phase of the load measured: latencies (ms) per page kind, after warm-up."""

    latencies: dict[str, list[float]]
    errors: int
    sent: int


async def load(
    port: int, prepared: Prepared, *, duration: float, warmup: float, think_s: float
) -> Phase:
    """Run the clients; each waits a random think time (exponential, mean `think_s`; 0 for
    none) after every page, as an officer reading it would."""
    latencies: dict[str, list[float]] = defaultdict(list)
    errors = 0
    sent = 0
    measure_from = time.perf_counter() + warmup
    deadline = measure_from + duration
    async with aiohttp.ClientSession(
        f"http://127.0.0.1:{port}",
        connector=aiohttp.TCPConnector(limit=0),
        cookie_jar=aiohttp.DummyCookieJar(),
    ) as http:

        async def client(number: int, token: str) -> None:
            nonlocal errors, sent
            rng = random.Random(number)
            headers = {"Cookie": f"__Host-session={token}"}
            turn = number
            if think_s:
                await asyncio.sleep(rng.uniform(0, think_s))  # officers do not start in step
            while time.perf_counter() < deadline:
                kind = PAGE_KINDS[turn % len(PAGE_KINDS)]
                turn += 1
                if kind == "queue_page_1":
                    url = "/"
                elif kind == "queue_page_1000":
                    url = f"/?after={prepared.deep_cursor}"
                else:
                    url = f"/applications/{rng.choice(prepared.application_ids)}"
                began = time.perf_counter()
                async with http.get(url, headers=headers, allow_redirects=False) as response:
                    body = await response.read()
                    ok = response.status == 200 and len(body) > 1000
                ended = time.perf_counter()
                sent += 1
                if not ok:
                    errors += 1
                elif began >= measure_from:
                    latencies[kind].append((ended - began) * 1000)
                if think_s:
                    await asyncio.sleep(rng.expovariate(1 / think_s))

        await asyncio.gather(*(client(n, token) for n, token in enumerate(prepared.tokens)))
    return Phase(dict(latencies), errors, sent)


async def query_costs(target: Target, deep_cursor: str, repeats: int = 200) -> dict[str, float]:
    """Median time (ms) of the queue's page query alone, page 1 and page 1000, in turn."""
    database = target.database()
    cursors = {"queue_page_1": None, "queue_page_1000": Cursor.decode(deep_cursor)}
    timings: dict[str, list[float]] = defaultdict(list)
    try:
        async with database.reading() as session:
            for _ in range(repeats):
                for kind, after in cursors.items():
                    began = time.perf_counter()
                    await queue_page(
                        session, None, QueueFilters(), officer_id=0, now=NOW, after=after
                    )
                    timings[kind].append((time.perf_counter() - began) * 1000)
    finally:
        await database.dispose()
    return {kind: round(statistics.median(values), 3) for kind, values in timings.items()}


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is missing."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime are fields 14 and 15 of proc(5), counted after the ")" from field 3.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _servers_cpu(servers: list[Any]) -> float | None:
    """CPU time of every server process together; None where /proc is missing."""
    used = [cpu_seconds(server.pid or 0) for server in servers]
    return None if None in used else sum(seconds for seconds in used if seconds is not None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def summarise(phase: Phase, duration: float, server_cpu_s: float | None) -> dict[str, Any]:
    """Latencies per page kind; the server's CPU per request (warm-up included) is the figure
    least moved by other work on the machine."""
    every = [value for values in phase.latencies.values() for value in values]
    pages = {
        kind: {
            "requests": len(values),
            "requests_per_s": round(len(values) / duration, 1),
            "p50_ms": round(percentile(values, 0.50), 2),
            "p99_ms": round(percentile(values, 0.99), 2),
            "max_ms": round(max(values), 2),
        }
        for kind, values in sorted(phase.latencies.items())
    }
    return {
        "requests_per_s": round(len(every) / duration, 1),
        "p50_ms": round(percentile(every, 0.50), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "errors": phase.errors,
        "server_cpu_ms_per_request": (
            None if server_cpu_s is None else round(server_cpu_s * 1000 / phase.sent, 2)
        ),
        "pages": pages,
    }


# --- main ------------------------------------------------------------------------------------


async def _create_schema(url: str) -> str:
    schema = "bench_" + secrets.token_hex(4)
    admin = Database(url)
    try:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA {schema}"))
    finally:
        await admin.dispose()
    return schema


async def _drop_schema(url: str, schema: str) -> None:
    admin = Database(url)
    try:
        async with admin.engine.begin() as connection:
            await connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    finally:
        await admin.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--database-url", help="default: SQLite in a temp dir")
    parser.add_argument("--applications", type=int, default=DEFAULT_APPLICATIONS)
    parser.add_argument("--clients", type=int, default=DEFAULT_CLIENTS)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds measured per phase")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument(
        "--think", type=float, default=DEFAULT_THINK_S, help="mean think time (s), paced phase"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="server processes sharing the port (SO_REUSEPORT); run.py serves with one",
    )
    args = parser.parse_args()

    key = os.urandom(32)
    with tempfile.TemporaryDirectory(prefix="bench-backoffice-") as tmp:
        data_dir = Path(tmp)
        url = args.database_url or f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}"
        is_postgres = url.startswith("postgresql")
        schema = asyncio.run(_create_schema(url)) if is_postgres else None
        target = Target(url, schema)
        try:
            began = time.perf_counter()
            prepared = asyncio.run(prepare(target, key, args.applications, args.clients))
            seeded_s = time.perf_counter() - began
            costs = asyncio.run(query_costs(target, prepared.deep_cursor))

            context = multiprocessing.get_context("spawn")
            port_out = context.Queue()
            stop = context.Event()
            servers: list[Any] = []
            port = 0
            try:
                # The first server picks the port; any others listen on it too.
                for _ in range(args.workers):
                    server = context.Process(
                        target=serve,
                        args=(target, key, str(data_dir), port_out, stop),
                        kwargs={"port": port, "shared": args.workers > 1},
                    )
                    server.start()
                    servers.append(server)
                    port = port_out.get(timeout=60)
                phases, server_cpu = {}, {}
                for name, think in (("paced", args.think), ("saturated", 0.0)):
                    cpu_before = _servers_cpu(servers)
                    phases[name] = asyncio.run(
                        load(
                            port,
                            prepared,
                            duration=args.duration,
                            warmup=args.warmup,
                            think_s=think,
                        )
                    )
                    cpu_after = _servers_cpu(servers)
                    server_cpu[name] = (
                        None if cpu_before is None or cpu_after is None else cpu_after - cpu_before
                    )
            finally:
                stop.set()
                for server in servers:
                    server.join(timeout=30)
        finally:
            if schema is not None:
                asyncio.run(_drop_schema(url, schema))

    paced = summarise(phases["paced"], args.duration, server_cpu["paced"])
    saturated = summarise(phases["saturated"], args.duration, server_cpu["saturated"])
    depth_ratio = costs["queue_page_1000"] / costs["queue_page_1"]
    worst_p99 = max(page["p99_ms"] for page in paced["pages"].values())
    errors = paced["errors"] + saturated["errors"]
    ok = errors == 0 and worst_p99 < GOAL_P99_MS and depth_ratio <= GOAL_DEPTH_RATIO
    result = {
        "benchmark": "B3 back-office",
        "engine": "postgresql" if is_postgres else "sqlite",
        "applications": args.applications,
        "clients": args.clients,
        "server_processes": args.workers,
        "duration_s_per_phase": args.duration,
        "think_s_mean": args.think,
        "seed_s": round(seeded_s, 1),
        "queue_query_ms": {**costs, "deep_page": _deep_page(args.applications)},
        "queue_depth_ratio": round(depth_ratio, 2),
        "paced": paced,
        "saturated": saturated,
        "goals": {
            "paced_p99_ms_below": GOAL_P99_MS,
            "queue_depth_ratio_at_most": GOAL_DEPTH_RATIO,
        },
        "ok": ok,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
    }
    print(json.dumps(result, indent=2))
    pages = paced["pages"]
    print(
        f"B3 {result['engine']}, {args.applications} applications, {args.clients} officers, "
        f"{args.workers} server process{'es' if args.workers > 1 else ''}: "
        f"paced {paced['requests_per_s']} req/s p50 {paced['p50_ms']} ms p99 {paced['p99_ms']} ms "
        f"(queue p1 {pages['queue_page_1']['p99_ms']} / p{_deep_page(args.applications)} "
        f"{pages['queue_page_1000']['p99_ms']} / application "
        f"{pages['application_page']['p99_ms']}); "
        f"saturated {saturated['requests_per_s']} req/s p99 {saturated['p99_ms']} ms; "
        f"server CPU {paced['server_cpu_ms_per_request']} / "
        f"{saturated['server_cpu_ms_per_request']} ms per request; "
        f"queue query p1 {costs['queue_page_1']} ms vs deep {costs['queue_page_1000']} ms; "
        f"{errors} errors: {'ok' if ok else 'GOAL MISSED'}"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
