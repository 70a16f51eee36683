"""Growing delays between failed sign-ins, per account and per client address.

After `FREE_FAILURES` consecutive failures each further attempt must wait 2^(n-3) seconds
(capped), enforced by refusing attempts before a stored "next allowed" time, never by
sleeping. An account is locked after `LOCKOUT_FAILURES` until an administrator unlocks it;
an address is never locked for good (many officers may share one), it only waits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgres_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import SignInThrottle

FREE_FAILURES = 3
MAX_DELAY = timedelta(minutes=15)
LOCKOUT_FAILURES = 10
# An address that has been quiet this long starts again from zero.
ADDRESS_MEMORY = timedelta(hours=24)
MAX_ADDRESS_LENGTH = 64


def delay_after(failures: int) -> timedelta:
    """How long to wait after `failures` consecutive failures."""
    if failures < FREE_FAILURES:
        return timedelta(0)
    exponent = failures - FREE_FAILURES
    if exponent >= 20:
        return MAX_DELAY
    return min(timedelta(seconds=2**exponent), MAX_DELAY)


def next_allowed(failures: int, now: datetime) -> datetime | None:
    delay = delay_after(failures)
    return now + delay if delay else None


def is_locked_out(failures: int) -> bool:
    return failures >= LOCKOUT_FAILURES


def _address_key(address: str) -> str:
    return address[:MAX_ADDRESS_LENGTH]


async def address_wait(session: AsyncSession, address: str, now: datetime) -> timedelta | None:
    """How long `address` must still wait before its next attempt, or None."""
    row = await session.get(SignInThrottle, _address_key(address))
    if row is None or row.next_allowed_at is None or row.next_allowed_at <= now:
        return None
    return row.next_allowed_at - now


async def record_address_failure(session: AsyncSession, address: str, now: datetime) -> None:
    key = _address_key(address)
    dialect = session.get_bind().dialect.name
    insert = postgres_insert if dialect == "postgresql" else sqlite_insert
    # Insert-if-absent then lock, so two failures at once from one address both count.
    await session.execute(
        insert(SignInThrottle)
        .values(client_address=key, failures=0, last_failure_at=now)
        .on_conflict_do_nothing(index_elements=["client_address"])
    )
    row = (
        await session.scalars(
            select(SignInThrottle)
            .where(SignInThrottle.client_address == key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).one()
    if now - row.last_failure_at > ADDRESS_MEMORY:
        row.failures = 0
    row.failures += 1
    row.last_failure_at = now
    row.next_allowed_at = next_allowed(row.failures, now)


async def clear_address(session: AsyncSession, address: str) -> None:
    await session.execute(
        delete(SignInThrottle).where(SignInThrottle.client_address == _address_key(address))
    )
