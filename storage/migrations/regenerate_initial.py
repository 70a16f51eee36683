"""Dev-only, before the first release: rebuild the single initial migration from the models.

Run `.venv/bin/python -m storage.migrations.regenerate_initial` after changing storage/models.py.
Once a release has shipped, add a new revision instead (alembic revision --autogenerate).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

from alembic import command
from sqlalchemy import Connection

from storage.database import Database
from storage.migrate import MIGRATIONS_DIR, alembic_config

INITIAL = "0001"


def _revision(connection: Connection) -> None:
    command.revision(
        alembic_config(connection), message="initial schema", autogenerate=True, rev_id=INITIAL
    )


async def regenerate() -> None:
    for old in (MIGRATIONS_DIR / "versions").glob(f"{INITIAL}_*.py"):
        old.unlink()
    with tempfile.TemporaryDirectory() as tmp:
        database = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'empty.db'}")
        try:
            async with database.engine.begin() as connection:
                await connection.run_sync(_revision)
        finally:
            await database.dispose()


def tidy() -> None:
    """Make the generated file pass our own lint and format gates."""
    versions = MIGRATIONS_DIR / "versions"
    for path in versions.glob(f"{INITIAL}_*.py"):
        path.write_text("\n".join(line.rstrip() for line in path.read_text().splitlines()) + "\n")
    ruff = str(Path(sys.executable).with_name("ruff"))
    subprocess.run([ruff, "format", "-q", str(versions)], check=True)  # noqa: S603
    subprocess.run([ruff, "check", "--fix", "-q", str(versions)], check=True)  # noqa: S603


if __name__ == "__main__":
    asyncio.run(regenerate())
    tidy()
