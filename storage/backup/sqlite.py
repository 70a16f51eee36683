"""SQLite's part of backup and restore: an online snapshot, and putting a restored file in place."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from sqlalchemy.engine import URL

from storage.backup.archive import fsync_directory
from storage.backup.errors import BackupError


def sqlite_path(url: URL) -> Path:
    """The database file behind a SQLite URL; refuses in-memory databases."""
    if not url.database or url.database == ":memory:":
        raise BackupError("the SQLite database has no file to back up or restore into")
    return Path(os.path.abspath(url.database))


def copy_sqlite(source: Path, target: Path) -> None:
    """A transaction-consistent copy through SQLite's online backup API; writers keep going."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source}")
    with (
        contextlib.closing(sqlite3.connect(source, timeout=30)) as live,
        contextlib.closing(sqlite3.connect(target)) as copy,
    ):
        live.backup(copy)
        # One self-contained file: no -wal beside it in the archive or after restore.
        copy.execute("PRAGMA journal_mode=DELETE")


def refuse_existing_sqlite(database_path: Path) -> None:
    """Refuse to restore over a database (or its write-ahead log) that holds anything."""
    for candidate in (database_path, database_path.with_name(database_path.name + "-wal")):
        if candidate.exists() and candidate.stat().st_size > 0:
            raise BackupError(
                f"{candidate} already exists: restore only into an empty data dir "
                "(move the old data aside first)"
            )


def move_database_into_place(staged: Path, database_path: Path) -> None:
    """Give the checked, staged copy its final name without ever replacing another file."""
    if database_path.exists() and database_path.stat().st_size == 0:
        database_path.unlink()
    # A link never replaces: a database that appeared meanwhile makes this fail, not vanish.
    try:
        os.link(staged, database_path)
    except FileExistsError:
        raise BackupError(
            f"{database_path} appeared while restoring; nothing was replaced"
        ) from None
    staged.unlink()
    fsync_directory(database_path.parent)
