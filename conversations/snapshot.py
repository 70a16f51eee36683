"""What the flow is given about a chat before an event, and what it hands back after it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from conversations.effects import Effect
from conversations.replies import Reply

Answer = str | int | Decimal


@dataclass(frozen=True)
class ApplicationInfo:
    """One of the applicant's applications, as /status shows it.

    `submitted_at` is shown by its calendar date, so the adapter passes it in the business
    time zone; `reference` is None for a draft.
    """

    reference: str | None
    status: str
    submitted_at: datetime | None
    amount: Decimal | None


@dataclass(frozen=True)
class Snapshot:
    """The stored state of one chat, loaded by the adapter for each event.

    `state` is "new" for a chat never seen before; `context` is the flow's own scratch data
    (JSON-able, never personal data); `answers` and `documents` describe the draft, if any;
    `open_application_reference` names a submitted application not yet in a final status.
    """

    state: str
    context: Mapping[str, Any]
    locale: str | None
    telegram_language: str | None
    answers: Mapping[str, Answer]
    documents: frozenset[str]
    applications: tuple[ApplicationInfo, ...]
    has_draft: bool
    open_application_reference: str | None
    today: date

    def __repr__(self) -> str:
        # Answers hold ID and phone numbers; a snapshot must never print them into a log.
        return f"Snapshot(state={self.state!r}, has_draft={self.has_draft})"


@dataclass(frozen=True)
class Outcome:
    """The state and context to store, the effects to apply (in order), the replies to send."""

    state: str
    context: dict[str, Any]
    effects: tuple[Effect, ...]
    replies: tuple[Reply, ...]
