"""Pace outgoing bulk messages under Telegram's limits: 30 per second, 1 per second per chat."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


class Pacer:
    """Waits just long enough before each send to keep both the global and per-chat rates."""

    def __init__(
        self,
        *,
        per_second: float = 30.0,
        per_chat_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = 1.0 / per_second
        self._per_chat_interval = per_chat_interval
        self._clock = clock
        self._next_global = 0.0
        self._next_for_chat: dict[int, float] = {}
        self._lock = asyncio.Lock()

    async def wait_turn(self, chat_id: int) -> None:
        async with self._lock:
            now = self._clock()
            start = max(now, self._next_global, self._next_for_chat.get(chat_id, 0.0))
            self._next_global = start + self._interval
            self._next_for_chat[chat_id] = start + self._per_chat_interval
            if len(self._next_for_chat) > 10_000:
                self._forget_idle_chats(now)
        delay = start - self._clock()
        if delay > 0:
            await asyncio.sleep(delay)

    def hold_off(self, seconds: float) -> None:
        """Telegram said 429: nobody sends until `retry_after` has passed."""
        self._next_global = max(self._next_global, self._clock() + seconds)

    def _forget_idle_chats(self, now: float) -> None:
        self._next_for_chat = {c: t for c, t in self._next_for_chat.items() if t > now}
