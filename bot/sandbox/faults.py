"""Fault switches for tests and benchmarks: forced 429s, 5xx answers and slow answers.

By default a fault applies to every method except ``getUpdates``, so a test that wants the
bot's ``sendMessage`` to fail is not disturbed by the polling loop taking the fault first;
pass ``methods`` to aim a fault precisely (``methods=["getUpdates"]`` included).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus

from bot.sandbox.errors import ApiError, too_many_requests


@dataclass
class _PlannedFault:
    remaining: int
    make_error: Callable[[], ApiError]
    methods: frozenset[str] | None


class Faults:
    """What goes wrong next; consumed in the order the faults were planned."""

    def __init__(self) -> None:
        self._planned: list[_PlannedFault] = []
        self._delay = 0.0
        self._delay_methods: frozenset[str] | None = None

    def rate_limit_next(
        self, n: int, retry_after: int = 1, methods: Iterable[str] | None = None
    ) -> None:
        """Answer the next `n` calls with 429 and ``parameters.retry_after``."""
        self._plan(n, lambda: too_many_requests(retry_after), methods)

    def server_error_next(
        self, n: int, status: int = 502, methods: Iterable[str] | None = None
    ) -> None:
        """Answer the next `n` calls with a 5xx status."""
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Server Error"
        self._plan(n, lambda: ApiError(status, phrase), methods)

    def slow(self, seconds: float, methods: Iterable[str] | None = None) -> None:
        """Delay every answer by `seconds` until cleared."""
        self._delay = seconds
        self._delay_methods = _normalise(methods)

    def clear(self) -> None:
        """No more faults and no delay."""
        self._planned.clear()
        self._delay = 0.0
        self._delay_methods = None

    def delay_for(self, method: str) -> float:
        """How long to hold the answer to `method` (lower-case method name)."""
        return self._delay if _applies(self._delay_methods, method) else 0.0

    def take(self, method: str) -> ApiError | None:
        """The forced error for this call of `method` (lower-case), if one is planned."""
        for fault in self._planned:
            if fault.remaining > 0 and _applies(fault.methods, method):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self._planned.remove(fault)
                return fault.make_error()
        return None

    def _plan(
        self, n: int, make_error: Callable[[], ApiError], methods: Iterable[str] | None
    ) -> None:
        if n > 0:
            self._planned.append(_PlannedFault(n, make_error, _normalise(methods)))


def _normalise(methods: Iterable[str] | None) -> frozenset[str] | None:
    return None if methods is None else frozenset(m.lower() for m in methods)


def _applies(methods: frozenset[str] | None, method: str) -> bool:
    if methods is None:
        return method != "getupdates"
    return method in methods
