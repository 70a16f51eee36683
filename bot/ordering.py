"""Process updates of different chats concurrently and those of one chat strictly in order."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor


class PerChatUpdateProcessor(BaseUpdateProcessor):
    """A per-chat FIFO lock around PTB's concurrent processing.

    PTB starts one task per update in arrival order; asyncio locks wake waiters in FIFO
    order, so a chat's updates run one after another in the order Telegram sent them while
    other chats proceed. Within one process this is the ordering guarantee; across processes
    the conversation row lock in the database gives the same (design §5).
    """

    def __init__(self, max_concurrent_updates: int = 256) -> None:
        super().__init__(max_concurrent_updates)
        self._locks: dict[int, asyncio.Lock] = {}
        self._holders: dict[int, int] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        chat_id = _chat_id(update)
        if chat_id is None:
            await coroutine
            return
        lock = self._locks.setdefault(chat_id, asyncio.Lock())
        self._holders[chat_id] = self._holders.get(chat_id, 0) + 1
        try:
            async with lock:
                await coroutine
        finally:
            self._holders[chat_id] -= 1
            if self._holders[chat_id] == 0:
                del self._holders[chat_id]
                del self._locks[chat_id]

    async def initialize(self) -> None:
        """Nothing to allocate: locks are created per chat on demand."""

    async def shutdown(self) -> None:
        """Nothing to free: the last holder of each lock removes it."""

    @property
    def active_chats(self) -> int:
        return len(self._locks)


def _chat_id(update: object) -> int | None:
    if isinstance(update, Update) and update.effective_chat is not None:
        return update.effective_chat.id
    return None
