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
class InfoRequest:
    """An officer's open request for information on the applicant's open application.

    `documents_missing` lists the requested document types (DocumentType values) not yet sent
    again since the request; `question` is the officer's question, if they asked one.
    """

    reference: str
    documents_missing: tuple[str, ...]
    question: str | None

    def __repr__(self) -> str:
        # An officer's question may quote the applicant's own data back to them.
        return f"InfoRequest(reference={self.reference!r}, missing={self.documents_missing!r})"


@dataclass(frozen=True)
class Snapshot:
    """The stored state of one chat, loaded by the adapter for each event.

    `state` is "new" for a chat never seen before; `context` is the flow's own scratch data
    (JSON-able, never personal data); `answers` and `documents` describe the draft, if any;
    `open_application_reference` names a submitted application not yet in a final status;
    `info_request` is the request for information that application waits on, if any.
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
    info_request: InfoRequest | None = None

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
