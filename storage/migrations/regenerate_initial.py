"""Dev-only: regenerate the single initial migration from the models (pre-release only)."""
import asyncio, sys
from alembic import command
from storage.database import Database
from storage.migrate import alembic_config

async def main(msg, rev):
    db = Database("sqlite+aiosqlite:////tmp/autogen.db")
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: command.upgrade(alembic_config(c), "head"))
        await conn.run_sync(lambda c: command.revision(alembic_config(c), message=msg, autogenerate=True, rev_id=rev))
    await db.dispose()

asyncio.run(main(sys.argv[1], sys.argv[2]))
