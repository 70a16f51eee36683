"""The engine, the session factory and the unit of work (one per update or request)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

SQLITE_BUSY_TIMEOUT_MS = 10_000
# Connections a pool keeps open (PostgreSQL's two engines, SQLite's readers). SQLAlchemy's
# default of 5, plus 10 opened and closed again on demand, had bursts of 50 officers open
# fresh connections, each with its own set-up (asyncpg's round trips; on SQLite a new
# aiosqlite thread and the PRAGMAs): B3's application page p99 on PostgreSQL was 431 ms with
# it and 23 ms with connections kept. SQLite's single writer needs no more than the default.
POOL_SIZE = 20
POOL_MAX_OVERFLOW = 10


class Database:
    """Owns the engine and hands out units of work; created by the composition root."""

    def __init__(self, url: str, *, echo: bool = False, **engine_kwargs: Any) -> None:
        self.url = make_url(url)
        if self.is_sqlite:
            engine_kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
        elif self.is_postgres:
            engine_kwargs.setdefault("pool_size", POOL_SIZE)
            engine_kwargs.setdefault("max_overflow", POOL_MAX_OVERFLOW)
        self.engine: AsyncEngine = create_async_engine(url, echo=echo, **engine_kwargs)
        # Readers get their own pool: connections that are read-only for life, running
        # without a transaction, each statement on its own snapshot (on PostgreSQL, READ
        # COMMITTED gives a statement no more than that even inside a transaction). Reads
        # never queue behind SQLite's writer and skip BEGIN and COMMIT round trips; the
        # database refuses any write. On SQLite the pool's own rollback on return would only
        # be one more hop through aiosqlite's thread, so it is off.
        self._read_engine = self.engine
        if self.is_sqlite:
            _configure_sqlite(self.engine, read_only=False)
            read_kwargs = dict(engine_kwargs)
            if self.url.database not in (None, "", ":memory:"):
                read_kwargs.setdefault("pool_size", POOL_SIZE)
                read_kwargs.setdefault("max_overflow", POOL_MAX_OVERFLOW)
            self._read_engine = create_async_engine(
                url, echo=echo, pool_reset_on_return=None, **read_kwargs
            )
            _configure_sqlite(self._read_engine, read_only=True)
        elif self.is_postgres:
            connect_args = dict(engine_kwargs.get("connect_args", {}))
            connect_args["server_settings"] = {
                **connect_args.get("server_settings", {}),
                "default_transaction_read_only": "on",
            }
            read_kwargs = {
                **engine_kwargs,
                "connect_args": connect_args,
                "isolation_level": "AUTOCOMMIT",
            }
            self._read_engine = create_async_engine(url, echo=echo, **read_kwargs)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = async_sessionmaker(self._read_engine, expire_on_commit=False)
        # SQLite has one writer at a time; queueing writers here, in FIFO order, is fairer
        # and cheaper than letting every pooled connection poll the file lock.
        self._sqlite_turn = asyncio.Lock() if self.is_sqlite else None

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.url.get_backend_name() == "postgresql"

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits when the block ends normally, rolls back on any error."""
        if self._sqlite_turn is None:
            async with self.sessions() as session, session.begin():
                yield session
            return
        async with self._sqlite_turn, self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work: on SQLite it neither takes nor waits for the write lock.

        Use it for pages and queries that change nothing; a write inside it is refused.
        """
        async with self._read_sessions() as session, session.begin():
            yield session
            if session.new or session.dirty or session.deleted:
                raise RuntimeError("a read-only unit of work tried to change data")

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self._read_engine is not self.engine:
            await self._read_engine.dispose()


def _configure_sqlite(engine: AsyncEngine, *, read_only: bool) -> None:
    """WAL, durable commits, enforced foreign keys, and writers that queue instead of failing.

    pysqlite's own deferred BEGIN lets two transactions both read and then fail to upgrade
    to a write lock (SQLITE_BUSY without waiting); `BEGIN IMMEDIATE` takes the write lock up
    front so the busy timeout applies and concurrent writers simply take turns. Read-only
    connections refuse writes outright and run without a transaction: each statement reads
    its own WAL snapshot, as reads on PostgreSQL do (READ COMMITTED, autocommit), and a page
    saves the BEGIN's hops through aiosqlite's thread.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        if read_only:
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    if read_only:
        return

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
