"""`python run.py backup FILE`: a consistent online archive of the database and the files.

The database is copied first and the files after, so every document the copied database
names is in the archive (documents are written before the row that names them commits);
files newer than the copy come along as harmless orphans. Master keys are never archived.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from pathlib import Path

from sqlalchemy import text

from settings import Settings
from storage import audit
from storage.backup.archive import write_archive
from storage.backup.errors import BackupError
from storage.backup.manifest import DATABASE_MEMBERS, database_kind
from storage.backup.postgres import pg_dump
from storage.backup.sqlite import copy_sqlite, sqlite_path
from storage.database import Database


async def create_backup(settings: Settings, database: Database, path: Path) -> None:
    """Write a consistent archive of the live database and the encrypted files to `path`."""
    path, files_dir = await asyncio.to_thread(_backup_paths, path, settings.files_dir)
    kind = database_kind(database.url)
    revision = await _alembic_revision(database)

    with tempfile.TemporaryDirectory(prefix=".loanbot-backup-", dir=path.parent) as staging:
        copy = Path(staging) / Path(DATABASE_MEMBERS[kind]).name
        if kind == "sqlite":
            await asyncio.to_thread(copy_sqlite, sqlite_path(database.url), copy)
        else:
            await pg_dump(database.url, copy)
        file_count = await asyncio.to_thread(
            write_archive,
            path,
            kind=kind,
            revision=revision,
            database_copy=copy,
            files_dir=files_dir,
        )

    async with database.unit_of_work() as session:
        await audit.record(
            session,
            actor_type="system",
            actor_id=None,
            action="backup.created",
            subject_type="backup",
            details={"files": file_count, "database": kind},
        )


def _backup_paths(path: Path, files_dir: Path) -> tuple[Path, Path]:
    path, files_dir = Path(os.path.abspath(path)), Path(os.path.abspath(files_dir))
    if path.is_relative_to(files_dir):
        raise BackupError("write the backup outside the encrypted files directory")
    if not path.parent.is_dir():
        raise BackupError(f"the directory {path.parent} does not exist")
    return path, files_dir


async def _alembic_revision(database: Database) -> str | None:
    async with database.unit_of_work() as session:
        return (
            await session.execute(text("SELECT version_num FROM alembic_version"))
        ).scalar_one_or_none()
