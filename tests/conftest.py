"""Shared fixtures: a migrated database on SQLite and on PostgreSQL for every storage test."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from storage.database import Database
from storage.migrate import migrate

# PTB's time periods as timedelta: the int form of RetryAfter.retry_after is deprecated and
# its warning would fail every test under filterwarnings=error.
os.environ.setdefault("PTB_TIMEDELTA", "1")

pytest_plugins = ["tests.sandbox_helpers"]

POSTGRES_URL = os.environ.get(
    "LOANBOT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)


def _postgres_reachable() -> bool:
    async def probe() -> bool:
        db = Database(POSTGRES_URL)
        try:
            async with db.engine.connect() as conn:
                await conn.execute(text("select 1"))
            return True
        except Exception:
            return False
        finally:
            await db.dispose()

    return asyncio.run(probe())


POSTGRES_AVAILABLE = _postgres_reachable()


def pytest_report_header() -> str:
    if POSTGRES_AVAILABLE:
        return f"PostgreSQL: reachable ({POSTGRES_URL.split('@')[-1]}); tests run on both engines"
    return "PostgreSQL: NOT REACHABLE, every PostgreSQL test will be SKIPPED"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not POSTGRES_AVAILABLE:
        terminalreporter.write_sep(
            "!",
            "PostgreSQL was NOT reachable: the PostgreSQL half of the suite was SKIPPED",
            red=True,
        )


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path


async def _postgres_schema_database() -> AsyncIterator[Database]:
    """A fresh schema per test, so tests never see each other's rows."""
    schema = "t_" + secrets.token_hex(6)
    admin = Database(POSTGRES_URL)
    async with admin.engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA {schema}"))
    db = Database(POSTGRES_URL, connect_args={"server_settings": {"search_path": schema}})
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.engine.begin() as conn:
            await conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def database(request: pytest.FixtureRequest, data_dir: Path) -> AsyncIterator[Database]:
    """A migrated, empty database on each engine."""
    if request.param == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}")
        await migrate(db)
        try:
            yield db
        finally:
            await db.dispose()
        return
    if not POSTGRES_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable on " + POSTGRES_URL.split("@")[-1])
    async for db in _postgres_schema_database():
        await migrate(db)
        yield db
