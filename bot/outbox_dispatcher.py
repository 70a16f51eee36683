"""Deliver outbox rows to applicants through PTB, paced, retried, and at most once per row."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.notices import RenderedNotice, render_notice, thread_message_id
from bot.pacing import Pacer
from storage import outbox
from storage.casework import message_text
from storage.database import Database
from storage.fields import FieldCipher
from storage.models import Applicant, ApplicationMessage, OutboxMessage

log = logging.getLogger(__name__)


@dataclass
class DeliveryCounts:
    sent: int = 0
    retried: int = 0
    blocked: int = 0
    failed: int = 0


class OutboxDispatcher:
    """Claims due rows, sends each once, records the outcome in its own transaction."""

    def __init__(
        self,
        database: Database,
        bot: Bot,
        *,
        pacer: Pacer | None = None,
        batch_size: int = 30,
        idle_seconds: float = 0.5,
        cipher: FieldCipher | None = None,
        render: Callable[[OutboxMessage, str, str | None], RenderedNotice] = render_notice,
    ) -> None:
        self._database = database
        self._cipher = cipher
        self._bot = bot
        self._pacer = pacer or Pacer()
        self._batch_size = batch_size
        self._idle_seconds = idle_seconds
        self._render = render
        self.counts = DeliveryCounts()

    async def deliver_due(self) -> int:
        """Deliver one batch of due rows; returns how many were claimed."""
        async with self._database.unit_of_work() as session:
            rows = await outbox.claim_due(session, limit=self._batch_size)
            ids = [row.applicant_id for row in rows]
            locales = dict(
                (
                    await session.execute(
                        select(Applicant.id, Applicant.locale).where(Applicant.id.in_(ids))
                    )
                ).all()
            )
            texts = await self._thread_texts(session, rows)
        for row in rows:
            text = texts.get(thread_message_id(row) or 0)
            await self._deliver(row, locales.get(row.applicant_id) or "en", text)
        return len(rows)

    async def _thread_texts(
        self, session: AsyncSession, rows: Sequence[OutboxMessage]
    ) -> dict[int, str]:
        """Decrypt the officers' messages the claimed notices name, in one query."""
        wanted = {i for row in rows if (i := thread_message_id(row)) is not None}
        if not wanted or self._cipher is None:
            return {}
        query = select(ApplicationMessage).where(ApplicationMessage.id.in_(wanted))
        return {m.id: message_text(self._cipher, m) for m in (await session.scalars(query)).all()}

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until `stop` is set, sleeping briefly whenever the queue is empty."""
        while not stop.is_set():
            try:
                claimed = await self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed; retrying shortly")
                claimed = 0
            if claimed == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._idle_seconds)

    async def _deliver(self, row: OutboxMessage, locale: str, text: str | None) -> None:
        notice = self._render(row, locale, text)
        await self._pacer.wait_turn(row.chat_id)
        try:
            sent = await self._bot.send_message(
                chat_id=row.chat_id,
                text=notice.text,
                parse_mode="HTML",
                reply_markup=notice.reply_markup,
            )
        except RetryAfter as error:
            seconds = _seconds(error.retry_after)
            self._pacer.hold_off(seconds)
            await self._retry(row, timedelta(seconds=seconds), "rate limited by Telegram")
        except Forbidden:
            async with self._database.unit_of_work() as session:
                await outbox.mark_blocked(session, row)
            self.counts.blocked += 1
        except (BadRequest, TimedOut) as error:
            # A refused message will be refused again; a timed-out one may have arrived,
            # and sending it twice would break the at-most-once promise.
            async with self._database.unit_of_work() as session:
                await outbox.mark_failed(session, row, error=type(error).__name__)
            self.counts.failed += 1
        except NetworkError as error:
            delay = timedelta(seconds=min(300, 2**row.attempts))
            await self._retry(row, delay, f"network: {type(error).__name__}")
        else:
            async with self._database.unit_of_work() as session:
                await outbox.mark_sent(session, row.id, sent.message_id)
            self.counts.sent += 1

    async def _retry(self, row: OutboxMessage, delay: timedelta, error: str) -> None:
        async with self._database.unit_of_work() as session:
            await outbox.mark_retry(session, row, delay=delay, error=error)
        self.counts.retried += 1


def _seconds(retry_after: int | timedelta) -> float:
    if isinstance(retry_after, timedelta):
        return retry_after.total_seconds()
    return float(retry_after)
