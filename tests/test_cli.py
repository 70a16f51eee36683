"""The operator commands `migrate`, `audit verify`, `backup` and `restore`, run as a user would."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from storage.audit import record
from storage.database import Database

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def run_cli(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in {"DATABASE_URL", "LOANBOT_MASTER_KEYS"}
    }
    environment["LOANBOT_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "run.py", *arguments],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def append_events(data_dir: Path, count: int) -> None:
    async def append() -> None:
        database = Database(f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}")
        try:
            async with database.unit_of_work() as session:
                for index in range(count):
                    await record(
                        session,
                        actor_type="officer",
                        actor_id="7",
                        action="application.viewed",
                        subject_type="application",
                        subject_id=str(index),
                    )
        finally:
            await database.dispose()

    asyncio.run(append())


def last_line(output: str) -> str:
    """The final line, after any log lines the command wrote before it."""
    lines = output.strip().splitlines()
    return lines[-1] if lines else ""


def test_migrate_then_verify_an_empty_chain(tmp_path: Path) -> None:
    migrated = run_cli(tmp_path, "migrate")
    assert migrated.returncode == 0, migrated.stderr
    assert (tmp_path / "loanbot.db").is_file()

    verified = run_cli(tmp_path, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert verified.stdout.splitlines()[0] == "ok: 0 events"


def test_audit_verify_names_the_edited_event(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "migrate").returncode == 0
    append_events(tmp_path, 4)
    assert run_cli(tmp_path, "audit", "verify").stdout.splitlines()[0] == "ok: 4 events"

    with sqlite3.connect(tmp_path / "loanbot.db") as raw:
        raw.execute("UPDATE audit_events SET action = 'application.approved' WHERE seq = 3")
    verified = run_cli(tmp_path, "audit", "verify")

    assert verified.returncode == 1
    assert verified.stdout.strip().startswith("FAILED at event #3 (position 3 of 4)")


def test_backup_then_restore_into_another_data_dir(tmp_path: Path) -> None:
    source, target, archive = tmp_path / "source", tmp_path / "target", tmp_path / "b.tar.gz"
    source.mkdir()
    assert run_cli(source, "migrate").returncode == 0
    append_events(source, 2)
    files = source / "files"
    files.mkdir()
    (files / ("ab" * 16)).write_bytes(b"ciphertext stand-in")

    backed_up = run_cli(source, "backup", str(archive))
    assert backed_up.returncode == 0, backed_up.stderr
    assert archive.is_file()

    restored = run_cli(target, "restore", str(archive))
    assert restored.returncode == 0, restored.stderr
    assert (target / "files" / ("ab" * 16)).read_bytes() == b"ciphertext stand-in"
    verified = run_cli(target, "audit", "verify")
    assert verified.stdout.splitlines()[0] == "ok: 3 events"  # two events and backup.restored
    assert verified.returncode == 0

    again = run_cli(target, "restore", str(archive))
    assert again.returncode == 1
    assert last_line(again.stderr).startswith("error: ")
    assert "empty data dir" in last_line(again.stderr)
    assert "Traceback" not in again.stderr


def test_corrupt_archive_is_one_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "b.tar.gz"
    archive.write_bytes(b"\x1f\x8b\x08\x00 definitely not a backup")
    restored = run_cli(tmp_path / "target", "restore", str(archive))
    assert restored.returncode == 1
    assert last_line(restored.stderr) == "error: the backup archive is truncated or corrupt"
    assert not (tmp_path / "target" / "loanbot.db").exists()


def test_database_from_a_newer_release_is_one_clear_error(tmp_path: Path) -> None:
    assert run_cli(tmp_path, "migrate").returncode == 0
    with sqlite3.connect(tmp_path / "loanbot.db") as raw:
        raw.execute("UPDATE alembic_version SET version_num = '9999_future'")
    verified = run_cli(tmp_path, "audit", "verify")
    assert verified.returncode == 1
    assert "Traceback" not in verified.stderr
    assert last_line(verified.stderr).startswith("error: the database is at migration 9999_future")
