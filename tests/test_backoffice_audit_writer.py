"""Group commit of audited reads: one event per read, the chain intact, failures kept apart."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from backoffice.audit_writer import AuditWriter
from storage.audit import check_entry, record, record_many, verify_chain
from storage.database import Database
from storage.models import AuditEvent

BASE_TIME = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


async def _stored(database: Database) -> list[AuditEvent]:
    async with database.reading() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())


async def test_record_many_chains_each_event_after_the_one_before(database: Database) -> None:
    async with database.unit_of_work() as session:
        await record(session, actor_type="system", actor_id=None, action="backup.created")
        written = await record_many(
            session,
            [
                check_entry(
                    actor_type="officer",
                    actor_id=str(number),
                    action="application.viewed",
                    subject_type="application",
                    subject_id=str(100 + number),
                    details={"role": "officer"},
                    now=BASE_TIME + timedelta(seconds=number),
                )
                for number in range(3)
            ],
        )
    assert [event.seq for event in written] == [2, 3, 4]
    stored = await _stored(database)
    assert [event.subject_id for event in stored] == [None, "100", "101", "102"]
    assert [event.prev_hash for event in stored[1:]] == [event.hash for event in stored[:-1]]
    report = await verify_chain(database)
    assert report.ok, report.describe()
    assert report.count == 4


async def test_concurrent_reads_each_get_their_own_committed_event(database: Database) -> None:
    writer = AuditWriter(database, max_batch=4)

    async def view(number: int) -> None:
        await writer.submit(
            actor_type="officer",
            actor_id=str(number),
            action="application.viewed",
            subject_type="application",
            subject_id=str(number),
            now=BASE_TIME,
        )

    await asyncio.gather(*(view(number) for number in range(10)))
    stored = await _stored(database)
    assert sorted(int(event.subject_id or 0) for event in stored) == list(range(10))
    assert (await verify_chain(database)).ok
    await writer.close()


async def test_a_refused_event_fails_alone_and_writes_nothing(database: Database) -> None:
    writer = AuditWriter(database)

    async def view(reason: str) -> None:
        await writer.submit(
            actor_type="officer",
            actor_id="7",
            action="application.personal_data_revealed",
            subject_type="application",
            subject_id="1",
            details={"reason": reason},
        )

    outcomes = await asyncio.gather(
        view("customer called"), view("call 13812345678 back"), return_exceptions=True
    )
    assert outcomes[0] is None
    assert isinstance(outcomes[1], ValueError)
    assert "13812345678" not in str(outcomes[1])
    stored = await _stored(database)
    assert [event.details for event in stored] == [{"reason": "customer called"}]


async def test_a_failed_write_reaches_every_waiting_request(tmp_path: Path) -> None:
    # A database with no tables: every write fails. (Not a file that cannot be opened: a
    # failed aiosqlite connect leaves its thread calling into the closed loop later.)
    broken = Database(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")
    writer = AuditWriter(broken)
    try:
        outcomes = await asyncio.gather(
            writer.submit(actor_type="officer", actor_id="1", action="application.viewed"),
            writer.submit(actor_type="officer", actor_id="2", action="application.viewed"),
            return_exceptions=True,
        )
    finally:
        await broken.dispose()
    assert all(isinstance(outcome, OperationalError) for outcome in outcomes)
