"""The unit of work, the column types and the migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, text

from storage.database import Database
from storage.migrate import SchemaTooNewError, migrate
from storage.models import Applicant, Application


async def test_unit_of_work_rolls_back_everything_on_error(database: Database) -> None:
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            session.add(Applicant(telegram_user_id=1, chat_id=1))
            await session.flush()
            raise RuntimeError("boom")
    async with database.unit_of_work() as session:
        assert (await session.scalars(select(Applicant))).all() == []


async def test_money_and_time_round_trip_exactly(database: Database) -> None:
    moment = datetime(2026, 11, 27, 20, 30, tzinfo=timezone(timedelta(hours=8)))
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=7, chat_id=7)
        session.add(applicant)
        await session.flush()
        session.add(
            Application(
                applicant_id=applicant.id, amount=Decimal("300000.005"), submitted_at=moment
            )
        )
    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
    assert application.amount == Decimal("300000.01")
    assert application.submitted_at == moment
    assert application.submitted_at is not None and application.submitted_at.tzinfo == UTC


async def test_naive_datetimes_are_refused(database: Database) -> None:
    with pytest.raises(Exception, match="naive"):
        async with database.unit_of_work() as session:
            session.add(Applicant(telegram_user_id=8, chat_id=8, created_at=datetime(2026, 1, 1)))


async def test_sqlite_pragmas_are_set(data_dir) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'p.db'}")
    try:
        async with db.unit_of_work() as session:
            assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
            assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1
            assert (await session.execute(text("PRAGMA synchronous"))).scalar() == 2
            assert (await session.execute(text("PRAGMA busy_timeout"))).scalar() == 10_000
    finally:
        await db.dispose()


async def test_foreign_keys_are_enforced(database: Database) -> None:
    with pytest.raises(Exception, match=r"(?i)foreign key"):
        async with database.unit_of_work() as session:
            session.add(Application(applicant_id=999_999))


async def test_database_from_a_newer_release_is_refused(database: Database) -> None:
    async with database.unit_of_work() as session:
        await session.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    with pytest.raises(SchemaTooNewError, match="9999_future"):
        await migrate(database)


async def test_migrate_twice_is_harmless(database: Database) -> None:
    await migrate(database)
    async with database.unit_of_work() as session:
        assert (await session.execute(text("SELECT version_num FROM alembic_version"))).scalar()


async def test_reading_sees_committed_data_and_refuses_writes(database: Database) -> None:
    async with database.unit_of_work() as session:
        session.add(Applicant(telegram_user_id=11, chat_id=11))
    async with database.reading() as session:
        assert (await session.scalars(select(Applicant.chat_id))).all() == [11]
    with pytest.raises(Exception, match=r"(?i)read-only|readonly"):
        async with database.reading() as session:
            session.add(Applicant(telegram_user_id=12, chat_id=12))
    async with database.unit_of_work() as session:
        session.add(Applicant(telegram_user_id=13, chat_id=13))
    async with database.reading() as session:
        assert sorted((await session.scalars(select(Applicant.chat_id))).all()) == [11, 13]


async def test_sqlite_reads_do_not_wait_for_a_writer(data_dir: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'r.db'}")
    await migrate(db)
    try:
        async with db.unit_of_work() as writer:
            writer.add(Applicant(telegram_user_id=21, chat_id=21))
            await writer.flush()
            async with db.reading() as reader:
                assert (await reader.scalars(select(Applicant))).all() == []
    finally:
        await db.dispose()
