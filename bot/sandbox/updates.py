"""The bot's update queue with Telegram's semantics.

An update stays pending until the bot confirms it by asking for a higher ``offset``; a
negative offset keeps only the last updates; ``allowed_updates`` is remembered between
calls. A redelivered update (a fault the tests inject) is handed out once more with its
original ``update_id``, ahead of the others, whatever offset the bot asks for.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from typing import Any

# Telegram sends everything except these unless the bot asks for them by name.
_OPT_IN_TYPES = frozenset({"chat_member", "message_reaction", "message_reaction_count"})


class UpdateQueue:
    """Pending and past updates, and the wake-up signal for long polls and webhook delivery."""

    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._pending: list[dict[str, Any]] = []
        self._redelivered: list[dict[str, Any]] = []
        self._archive: dict[int, dict[str, Any]] = {}
        self._allowed: frozenset[str] | None = None
        self._changed = asyncio.Event()
        self.poll_generation = 0

    def push(self, update_type: str, payload: dict[str, Any]) -> int:
        """Queue a new update and return its update_id."""
        update_id = next(self._ids)
        update = {"update_id": update_id, update_type: payload}
        self._archive[update_id] = update
        self._pending.append(update)
        self._notify()
        return update_id

    def redeliver(self, update_id: int) -> None:
        """Hand an already delivered update out again, with the same update_id."""
        update = self._archive.get(update_id)
        if update is None:
            raise KeyError(f"no update with id {update_id}")
        self._redelivered.append(update)
        self._notify()

    def confirm(self, offset: int) -> None:
        """Apply getUpdates' `offset`: forget everything older (or all but the last -offset)."""
        if offset > 0:
            self._pending = [u for u in self._pending if u["update_id"] >= offset]
        elif offset < 0:
            self._pending = self._pending[offset:]

    def set_allowed(self, allowed: list[str] | None) -> None:
        """Remember `allowed_updates`; None keeps the previous setting, [] means the default."""
        if allowed is not None:
            self._allowed = frozenset(allowed) if allowed else None

    @property
    def allowed(self) -> list[str]:
        return sorted(self._allowed) if self._allowed is not None else []

    def take(self, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` updates to hand out; they stay pending until confirmed."""
        self._pending = [u for u in self._pending if self._is_allowed(u)]
        batch = self._redelivered[:limit]
        self._redelivered = self._redelivered[limit:]
        return batch + self._pending[: limit - len(batch)]

    def acknowledge(self, update_id: int) -> None:
        """Drop one update after a webhook accepted it."""
        self._pending = [u for u in self._pending if u["update_id"] != update_id]

    def drop_pending(self) -> None:
        self._pending.clear()
        self._redelivered.clear()

    @property
    def pending_count(self) -> int:
        return len(self._pending) + len(self._redelivered)

    async def wait(self, within: float) -> None:
        """Sleep until the queue changes, or `within` seconds pass."""
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)

    def interrupt(self) -> None:
        """Wake every waiter: a newer long poll arrived, or the emulator is stopping."""
        self._notify()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _is_allowed(self, update: dict[str, Any]) -> bool:
        kind = next(key for key in update if key != "update_id")
        if self._allowed is None:
            return kind not in _OPT_IN_TYPES
        return kind in self._allowed
