"""`python run.py restore FILE`: an archive back into an empty data dir, all or nothing.

Every member is checked against the manifest in a staging area beside the target before
anything is put in its final place; on any error the target is left as it was. The restored
database is then migrated as `serve` would, and the restore is recorded in the audit chain.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, make_url

from settings import Settings
from storage import audit
from storage.backup.archive import extract_verified, fsync_directory
from storage.backup.errors import BackupError
from storage.backup.manifest import DATABASE_MEMBERS, Manifest, database_kind
from storage.backup.postgres import pg_restore, refuse_non_empty_postgres
from storage.backup.sqlite import move_database_into_place, refuse_existing_sqlite, sqlite_path
from storage.database import Database
from storage.migrate import alembic_config, migrate


async def restore_backup(settings: Settings, path: Path) -> None:
    """Restore an archive into an empty data dir (a generated master.key may already be there).

    Every member is checked against the manifest in a staging area before anything is put in
    its final place; on any error the target is left as it was.
    """
    url = make_url(settings.database_url)
    kind = database_kind(url)
    if kind == "postgresql":
        await refuse_non_empty_postgres(settings.database_url)
    plan = await asyncio.to_thread(_RestorePlan.prepare, settings, url, kind, path)
    try:
        known_revisions = await asyncio.to_thread(_known_revisions)
        manifest = await asyncio.to_thread(
            extract_verified,
            path,
            kind=kind,
            known_revisions=known_revisions,
            database_target=plan.staged_database,
            files_target=plan.staged_files,
        )
        if kind == "postgresql":
            await pg_restore(url, plan.staged_database)
        await asyncio.to_thread(plan.move_into_place)
    finally:
        await asyncio.to_thread(plan.clean_up)
    await _record_restore(settings, manifest)


@dataclass(frozen=True)
class _RestorePlan:
    """Where a restore stages its members and where they finally go."""

    files_dir: Path
    database_path: Path | None
    staging: Path
    staged_database: Path

    @property
    def staged_files(self) -> Path:
        return self.staging / "files"

    @classmethod
    def prepare(cls, settings: Settings, url: URL, kind: str, archive: Path) -> _RestorePlan:
        """Refuse a target that is not empty, then create the staging area beside it."""
        files_dir = Path(os.path.abspath(settings.files_dir))
        database_path = sqlite_path(url) if kind == "sqlite" else None
        if database_path is not None:
            refuse_existing_sqlite(database_path)
        _refuse_non_empty_directory(files_dir)
        if not archive.is_file():
            raise BackupError(f"there is no backup archive at {archive}")
        files_dir.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        staging = Path(tempfile.mkdtemp(prefix=".loanbot-restore-", dir=files_dir.parent))
        staged_database = staging / Path(DATABASE_MEMBERS[kind]).name
        if database_path is not None:
            # Staged beside its final name, so putting it in place is a single link.
            database_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            staged_database = database_path.with_name(f".{database_path.name}.restore.tmp")
            staged_database.unlink(missing_ok=True)  # left by a restore that was killed
        return cls(files_dir, database_path, staging, staged_database)

    def move_into_place(self) -> None:
        if self.files_dir.is_dir():
            self.files_dir.rmdir()  # checked empty; rmdir refuses if anything appeared since
        os.rename(self.staged_files, self.files_dir)
        fsync_directory(self.files_dir.parent)
        if self.database_path is not None:
            move_database_into_place(self.staged_database, self.database_path)

    def clean_up(self) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.staged_database.unlink(missing_ok=True)


def _refuse_non_empty_directory(directory: Path) -> None:
    if directory.is_dir() and any(directory.iterdir()):
        raise BackupError(
            f"{directory} is not empty: restore only into an empty data dir "
            "(move the old data aside first)"
        )
    if directory.exists() and not directory.is_dir():
        raise BackupError(f"{directory} exists and is not a directory")


def _known_revisions() -> set[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


async def _record_restore(settings: Settings, manifest: Manifest) -> None:
    """Migrate the restored database as `serve` would, and leave the restore in its trail."""
    database = Database(settings.database_url)
    try:
        await migrate(database)
        async with database.unit_of_work() as session:
            await audit.record(
                session,
                actor_type="system",
                actor_id=None,
                action="backup.restored",
                subject_type="backup",
                details={
                    "files": len(manifest.files),
                    "database": manifest.database_kind,
                    "backup_created_at": manifest.created_at,
                },
            )
    finally:
        await database.dispose()
