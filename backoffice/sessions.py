"""Server-side officer sessions (design §4.4): the cookie holds a random 256-bit token, the
database only its SHA-256, so a copy of the database cannot be replayed as a cookie.

A session is in stage "password" between the password and the TOTP code (it opens only the
second-factor page, briefly) and in stage "full" afterwards. It ends on logout, when the
officer is disabled, after 30 idle minutes, and 12 hours after sign-in whatever happens.
Time comes from the caller, so tests move a clock instead of sleeping.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lending.workflow import Role
from storage.database import Database
from storage.models import Officer, OfficerSession

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
PASSWORD_STAGE_TIMEOUT = timedelta(minutes=10)
# last_seen_at is written at most this often: a write per page view would serialise readers.
TOUCH_INTERVAL = timedelta(minutes=1)
TOKEN_BYTES = 32
_MAX_TOKEN_LENGTH = 64


class Stage(StrEnum):
    PASSWORD = "password"  # noqa: S105 (a sign-in stage, not a secret)
    FULL = "full"


@dataclass(frozen=True)
class NewSession:
    """A session just started; `token` goes into the cookie and nowhere else."""

    token: str = field(repr=False)
    token_hash: bytes = field(repr=False)
    csrf_token: str = field(repr=False)


@dataclass(frozen=True)
class SignedIn:
    """Who is behind a request, as far as the session says."""

    token_hash: bytes = field(repr=False)
    officer_id: int
    username: str
    display_name: str
    role: Role
    locale: str
    stage: Stage
    csrf_token: str = field(repr=False)
    must_change_password: bool
    totp_confirmed: bool

    @property
    def is_full(self) -> bool:
        return self.stage is Stage.FULL


def hash_token(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii", "replace")).digest()


async def start_session(
    session: AsyncSession, *, officer_id: int, stage: Stage, now: datetime
) -> NewSession:
    token = secrets.token_urlsafe(TOKEN_BYTES)
    csrf_token = secrets.token_urlsafe(TOKEN_BYTES)
    token_hash = hash_token(token)
    session.add(
        OfficerSession(
            token_hash=token_hash,
            officer_id=officer_id,
            csrf_token=csrf_token,
            stage=stage.value,
            created_at=now,
            last_seen_at=now,
        )
    )
    await session.flush()
    return NewSession(token=token, token_hash=token_hash, csrf_token=csrf_token)


def _expired(*, created_at: datetime, last_seen_at: datetime, stage: str, now: datetime) -> bool:
    if now - created_at >= ABSOLUTE_TIMEOUT or now - last_seen_at >= IDLE_TIMEOUT:
        return True
    return stage == Stage.PASSWORD and now - created_at >= PASSWORD_STAGE_TIMEOUT


# Every page starts with this look-up: plain columns, not two ORM objects, and a statement
# built once, keep it cheap.
_LOOK_UP = (
    select(
        OfficerSession.created_at,
        OfficerSession.last_seen_at,
        OfficerSession.ended_at,
        OfficerSession.stage,
        OfficerSession.csrf_token,
        Officer.id.label("officer_id"),
        Officer.username,
        Officer.display_name,
        Officer.role,
        Officer.locale,
        Officer.disabled,
        Officer.must_change_password,
        Officer.totp_confirmed,
    )
    .join(Officer, Officer.id == OfficerSession.officer_id)
    .where(OfficerSession.token_hash == bindparam("token_hash"))
)


async def resume_session(database: Database, token: str, *, now: datetime) -> SignedIn | None:
    """The live session for a cookie token, or None; expired sessions are ended on sight.

    The look-up is a read-only unit of work, so on SQLite a page view does not queue for the
    write lock; only the occasional touch (at most once per TOUCH_INTERVAL) or the end of an
    expired session writes.
    """
    if not token or len(token) > _MAX_TOKEN_LENGTH:
        return None
    token_hash = hash_token(token)
    async with database.reading() as session:
        row = (await session.execute(_LOOK_UP, {"token_hash": token_hash})).one_or_none()
    if row is None or row.ended_at is not None:
        return None
    try:
        role, stage = Role(row.role), Stage(row.stage)
    except ValueError:
        await _write_session(database, token_hash, ended_at=now)
        return None
    expired = _expired(
        created_at=row.created_at, last_seen_at=row.last_seen_at, stage=row.stage, now=now
    )
    if row.disabled or expired:
        await _write_session(database, token_hash, ended_at=now)
        return None
    if now - row.last_seen_at >= TOUCH_INTERVAL:
        await _write_session(database, token_hash, last_seen_at=now)
    return SignedIn(
        token_hash=token_hash,
        officer_id=row.officer_id,
        username=row.username,
        display_name=row.display_name,
        role=role,
        locale=row.locale,
        stage=stage,
        csrf_token=row.csrf_token,
        must_change_password=row.must_change_password,
        totp_confirmed=row.totp_confirmed,
    )


async def _write_session(database: Database, token_hash: bytes, **values: datetime) -> None:
    """End or touch a live session; one ended meanwhile (a logout) stays ended."""
    async with database.unit_of_work() as session:
        await session.execute(
            update(OfficerSession)
            .where(OfficerSession.token_hash == token_hash, OfficerSession.ended_at.is_(None))
            .values(**values)
        )


async def end_session(session: AsyncSession, token_hash: bytes, *, now: datetime) -> bool:
    result = await session.execute(
        update(OfficerSession)
        .where(OfficerSession.token_hash == token_hash, OfficerSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return bool(getattr(result, "rowcount", 0))


async def end_officer_sessions(session: AsyncSession, officer_id: int, *, now: datetime) -> int:
    """End every live session of one officer (disable, role change, password or TOTP reset)."""
    result = await session.execute(
        update(OfficerSession)
        .where(OfficerSession.officer_id == officer_id, OfficerSession.ended_at.is_(None))
        .values(ended_at=now)
    )
    return int(getattr(result, "rowcount", 0))
