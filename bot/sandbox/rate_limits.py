"""Telegram's sending limits, off unless switched on: messages per second overall and per chat.

Each limit is a sliding window: at most ``capacity`` messages in any window of
``capacity / rate`` seconds (30 in any second; 1 per chat in any second). A small tolerance
absorbs the jitter between a client's clock and the moment its request arrives, as Telegram
(which counts approximately) would.
"""

from __future__ import annotations

import math
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

DEFAULT_TOLERANCE_SECONDS = 0.05


@dataclass(frozen=True)
class RateLimits:
    """The limits to enforce; None switches one off. Telegram's are 30 and 1."""

    global_per_second: float | None = None
    per_chat_per_second: float | None = None
    tolerance_seconds: float = DEFAULT_TOLERANCE_SECONDS


class _Window:
    def __init__(self, per_second: float, tolerance: float) -> None:
        self.capacity = max(1, round(per_second))
        self.length = self.capacity / per_second - tolerance
        self.sent: deque[float] = deque()

    def wait_needed(self, now: float) -> float:
        while self.sent and now - self.sent[0] >= self.length:
            self.sent.popleft()
        if len(self.sent) < self.capacity:
            return 0.0
        return self.sent[0] + self.length - now


class RateLimiter:
    """Decides whether a message may go out now; counts the 429s it answered."""

    def __init__(
        self, limits: RateLimits | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self.rejected = 0
        self.rejected_by_chat: Counter[int] = Counter()
        self.configure(limits or RateLimits())

    def configure(self, limits: RateLimits) -> None:
        """Switch to new limits; the history of sent messages starts afresh."""
        self.limits = limits
        tolerance = limits.tolerance_seconds
        self._global = (
            _Window(limits.global_per_second, tolerance) if limits.global_per_second else None
        )
        self._per_chat: dict[int, _Window] = {}

    def admit(self, chat_id: int) -> int | None:
        """Record a message to `chat_id` and return None, or return retry_after seconds."""
        now = self._clock()
        chat_window = self._chat_window(chat_id)
        wait = max(
            self._global.wait_needed(now) if self._global else 0.0,
            chat_window.wait_needed(now) if chat_window else 0.0,
        )
        if wait > 0:
            self.rejected += 1
            self.rejected_by_chat[chat_id] += 1
            return max(1, math.ceil(wait))
        if self._global:
            self._global.sent.append(now)
        if chat_window:
            chat_window.sent.append(now)
        return None

    def _chat_window(self, chat_id: int) -> _Window | None:
        per_chat = self.limits.per_chat_per_second
        if not per_chat:
            return None
        window = self._per_chat.get(chat_id)
        if window is None:
            window = self._per_chat[chat_id] = _Window(per_chat, self.limits.tolerance_seconds)
        return window
