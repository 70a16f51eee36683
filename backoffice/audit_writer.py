"""Group commit for the audit events of reads (page views, reveals, downloads, searches).

Every read of personal data writes an audit event before the data is shown. Written one
transaction each, concurrent readers queue behind each other for the audit head (and, on
SQLite, for the single writer). Here the events of requests arriving together are appended
by one transaction (`storage.audit.record_many`): one event per read, the chain intact, and
each request still waits until its own event has committed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Mapping
from datetime import datetime

from storage.audit import AuditEntry, check_entry, record_many
from storage.database import Database

# An upper bound on one transaction, so a burst is written in a few bounded steps.
MAX_BATCH = 200


class AuditWriter:
    """Appends audit events in batches; one writer task at a time per process."""

    def __init__(self, database: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._database = database
        self._max_batch = max_batch
        self._pending: list[tuple[AuditEntry, asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    def submit(
        self,
        *,
        actor_type: str,
        actor_id: str | None,
        action: str,
        subject_type: str | None = None,
        subject_id: str | None = None,
        details: Mapping[str, object] | None = None,
        now: datetime | None = None,
    ) -> Awaitable[None]:
        """Hand in an event; the awaitable returned ends once it has committed and raises
        what the write raised. A caller may read meanwhile, but shows nothing before that.

        The event is checked here first, so one refused (ValueError, as `storage.audit.record`
        raises it) fails only its own request, at once, and never the batch it would have
        joined.
        """
        entry = check_entry(
            actor_type=actor_type,
            actor_id=actor_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            details=details,
            now=now,
        )
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((entry, written))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_pending())
        # Shielded: a client that goes away does not take the event out of the batch.
        return asyncio.shield(written)

    async def _write_pending(self) -> None:
        while self._pending:
            batch = self._pending[: self._max_batch]
            del self._pending[: self._max_batch]
            try:
                async with self._database.unit_of_work() as session:
                    await record_many(session, [entry for entry, _ in batch])
            except Exception as error:
                # Every request of the batch fails, as it would have with its own write.
                for _, written in batch:
                    if not written.done():
                        written.set_exception(error)
                continue
            for _, written in batch:
                if not written.done():
                    written.set_result(None)

    async def close(self) -> None:
        """Wait for the events already handed in (app shutdown)."""
        if self._writer is not None:
            await asyncio.gather(self._writer, return_exceptions=True)
