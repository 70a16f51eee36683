"""The outbox: messages for applicants written in the sender's transaction, claimed by the bot.

Delivery is at most once per row: a row is claimed (status `sending`) and committed before the
send; a crash between claim and send leaves it in `sending`, never sent twice (design §1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Applicant, OutboxMessage
from storage.types import utcnow

PENDING = "pending"
SENDING = "sending"
SENT = "sent"
FAILED = "failed"
BLOCKED = "blocked"

MAX_ATTEMPTS = 8


def enqueue(
    session: AsyncSession, applicant: Applicant, kind: str, payload: Mapping[str, Any]
) -> OutboxMessage:
    """Add a message for `applicant`; it is sent only if the caller's transaction commits."""
    message = OutboxMessage(
        applicant_id=applicant.id,
        chat_id=applicant.chat_id,
        kind=kind,
        payload=dict(payload),
        status=PENDING,
        next_attempt_at=utcnow(),
    )
    session.add(message)
    return message


async def claim_due(
    session: AsyncSession, *, limit: int, now: datetime | None = None
) -> Sequence[OutboxMessage]:
    """Mark up to `limit` due rows as `sending` and return them (commit before sending).

    On PostgreSQL `FOR UPDATE SKIP LOCKED` lets several dispatchers share the table; SQLite's
    write lock (BEGIN IMMEDIATE) already makes the claim exclusive.
    """
    now = now or utcnow()
    query = (
        select(OutboxMessage)
        .where(OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
    )
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    rows = (await session.scalars(query)).all()
    for row in rows:
        row.status = SENDING
        row.attempts += 1
    return rows


async def mark_sent(
    session: AsyncSession, message_id: int, telegram_message_id: int | None
) -> None:
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(status=SENT, sent_at=utcnow(), telegram_message_id=telegram_message_id)
    )


async def mark_retry(
    session: AsyncSession, message: OutboxMessage, *, delay: timedelta, error: str
) -> None:
    """Put a row back in the queue after `delay`, or give up after MAX_ATTEMPTS."""
    status = FAILED if message.attempts >= MAX_ATTEMPTS else PENDING
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status=status, next_attempt_at=utcnow() + delay, last_error=error[:200])
    )


async def mark_failed(session: AsyncSession, message: OutboxMessage, *, error: str) -> None:
    """Give up on a row that sending again cannot fix (refused, or possibly delivered)."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status=FAILED, last_error=error[:200])
    )


async def mark_blocked(session: AsyncSession, message: OutboxMessage) -> None:
    """The applicant blocked the bot: stop this row and remember it on the applicant."""
    await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message.id)
        .values(status=BLOCKED, last_error="blocked by the user")
    )
    await session.execute(
        update(Applicant).where(Applicant.id == message.applicant_id).values(blocked_bot=True)
    )
