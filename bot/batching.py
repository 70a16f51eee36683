"""Group commit for chat turns: turns of different chats that arrive together share one
transaction, and each update is still answered only after its turn has committed.

A transaction per update spends most of a turn's database time on its own round trips
(begin, claim, load, save, commit) and, on SQLite, holds the single writer for all of them.
While one batch commits, the turns that arrive queue up and go together in the next: one
claim, one load and one save statement for all of them (B1).

A batch holds at most one turn per chat, so a chat's updates still apply one after another.
If a batch fails, its turns are applied again one by one, each in its own transaction: one
bad update fails alone, as it would have without batching, and nothing of a failed batch
was committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Result = TypeVar("Result")

# An upper bound on one transaction, so a burst is written in a few bounded steps.
MAX_BATCH = 100


@dataclass
class _Queued(Generic[Request, Result]):
    request: Request
    result: asyncio.Future[Result]


class TurnBatcher(Generic[Request, Result]):
    """Applies requests in batches with `apply_batch`, one by one with `apply_alone` after a
    batch failed; `key` names the chat, of which a batch takes one request at a time."""

    def __init__(
        self,
        apply_batch: Callable[[Sequence[Request]], Awaitable[Sequence[Result]]],
        apply_alone: Callable[[Request], Awaitable[Result]],
        key: Callable[[Request], Hashable],
        *,
        max_batch: int = MAX_BATCH,
    ) -> None:
        self._apply_batch = apply_batch
        self._apply_alone = apply_alone
        self._key = key
        self._max_batch = max_batch
        self._queue: list[_Queued[Request, Result]] = []
        self._worker: asyncio.Task[None] | None = None

    async def submit(self, request: Request) -> Result:
        """Apply `request` with whatever else is waiting; returns once it has committed."""
        queued = _Queued(request, asyncio.get_running_loop().create_future())
        self._queue.append(queued)
        if self._worker is None or self._worker.done():
            self._worker = asyncio.create_task(self._work())
        # Shielded: a caller that goes away does not take its turn out of the batch.
        return await asyncio.shield(queued.result)

    def _next_batch(self) -> list[_Queued[Request, Result]]:
        """The oldest requests, at most one per chat; the rest wait, in order."""
        batch: list[_Queued[Request, Result]] = []
        waiting: list[_Queued[Request, Result]] = []
        chats: set[Hashable] = set()
        for queued in self._queue:
            chat = self._key(queued.request)
            if len(batch) < self._max_batch and chat not in chats:
                chats.add(chat)
                batch.append(queued)
            else:
                waiting.append(queued)
        self._queue = waiting
        return batch

    async def _work(self) -> None:
        batch: list[_Queued[Request, Result]] = []
        try:
            while self._queue:
                batch = self._next_batch()
                await self._run(batch)
                batch = []
        except BaseException as error:
            # Cancelled (shutting down): nobody may wait for ever on a turn never applied.
            for queued in (*batch, *self._queue):
                if queued.result.done():
                    continue
                if isinstance(error, asyncio.CancelledError):
                    queued.result.cancel()
                else:
                    queued.result.set_exception(error)
            self._queue = []
            raise

    async def _run(self, batch: list[_Queued[Request, Result]]) -> None:
        try:
            results = await self._apply_batch([queued.request for queued in batch])
        except Exception as error:
            if len(batch) == 1:
                _settle(batch[0], error)
                return
            log.warning(
                "a batch of %d turns failed (%s); applying them one by one",
                len(batch),
                type(error).__name__,
            )
            for queued in batch:
                try:
                    result = await self._apply_alone(queued.request)
                except Exception as alone:
                    _settle(queued, alone)
                else:
                    _settle(queued, result)
            return
        for queued, result in zip(batch, results, strict=True):
            _settle(queued, result)


def _settle(queued: _Queued[Request, Result], outcome: Result | Exception) -> None:
    if queued.result.done():
        return
    if isinstance(outcome, Exception):
        queued.result.set_exception(outcome)
    else:
        queued.result.set_result(outcome)
