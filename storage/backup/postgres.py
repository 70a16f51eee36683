"""PostgreSQL's part of backup and restore: `pg_dump` / `pg_restore` and the emptiness check.

The client tools run as subprocesses with the password in PGPASSWORD, never on the command
line where `ps` would show it; a failure is reported by the tool's last line of stderr.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import URL, make_url

from storage.backup.errors import BackupError
from storage.database import Database


async def pg_dump(url: URL, target: Path) -> None:
    """Dump the whole database in pg_dump's custom format (one consistent snapshot)."""
    arguments, environment = _libpq(url)
    await _run_client(
        "pg_dump",
        [
            "--format=custom",
            "--no-owner",
            "--no-privileges",
            "--no-password",
            f"--file={target}",
            *arguments,
        ],
        environment,
    )


async def pg_restore(url: URL, dump: Path) -> None:
    """Load a custom-format dump in one transaction: all of it, or nothing."""
    arguments, environment = _libpq(url)
    await _run_client(
        "pg_restore",
        [
            "--no-owner",
            "--no-privileges",
            "--no-password",
            "--exit-on-error",
            "--single-transaction",
            *arguments,
            str(dump),
        ],
        environment,
    )


async def refuse_non_empty_postgres(database_url: str) -> None:
    """Refuse to restore into a PostgreSQL database that already has any relation."""
    database = Database(database_url)
    try:
        async with database.unit_of_work() as session:
            tables = (
                await session.execute(
                    text(
                        "SELECT count(*) FROM pg_catalog.pg_class c "
                        "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
                        "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f') "
                        "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
                        "AND n.nspname NOT LIKE 'pg\\_toast%' "
                        "AND n.nspname NOT LIKE 'pg\\_temp\\_%'"
                    )
                )
            ).scalar_one()
    except Exception as error:
        cause = getattr(error, "orig", None) or error
        summary = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise BackupError(
            f"cannot check the PostgreSQL database to restore into: {summary}"
        ) from None
    finally:
        await database.dispose()
    if tables:
        raise BackupError(
            f"the PostgreSQL database {make_url(database_url).database!r} already has tables: "
            "restore only into an empty database"
        )


def _libpq(url: URL) -> tuple[list[str], dict[str, str]]:
    """Command-line options and environment for the PostgreSQL client tools."""
    if not url.database:
        raise BackupError("DATABASE_URL names no PostgreSQL database")
    arguments = []
    if url.host:
        arguments.append(f"--host={url.host}")
    if url.port:
        arguments.append(f"--port={url.port}")
    if url.username:
        arguments.append(f"--username={url.username}")
    arguments.append(f"--dbname={url.database}")
    environment = dict(os.environ)
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    ssl_mode = url.query.get("sslmode") or url.query.get("ssl")
    if isinstance(ssl_mode, str):
        environment["PGSSLMODE"] = ssl_mode
    return arguments, environment


async def _run_client(program: str, arguments: list[str], environment: dict[str, str]) -> None:
    executable = shutil.which(program)
    if executable is None:
        raise BackupError(f"{program} was not found: install the PostgreSQL client tools")
    process = await asyncio.create_subprocess_exec(
        executable,
        *arguments,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
        env=environment,
    )
    _, stderr = await process.communicate()
    if process.returncode != 0:
        lines = stderr.decode("utf-8", "replace").strip().splitlines()
        detail = lines[-1] if lines else f"exit status {process.returncode}"
        raise BackupError(f"{program} failed: {detail}")
