"""The review queue: submitted applications, filtered, searched and paged by keyset.

Pages follow the keyset (submitted_at, id), oldest first, so page 1000 costs what page 1
costs. Counting every application per status reads the whole status index (tens of
milliseconds at 100 000 applications), so the counts are kept for a few seconds per process
(`StatusCounter`) and recomputed by one request at a time.

Search takes a reference, part of a company name, or an exact mobile number or resident ID
number; the last two are found through their blind index (HMAC), never by decrypting rows.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, false, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lending.workflow import Status
from storage.database import Database
from storage.fields import FieldCipher
from storage.models import Application, Officer

PAGE_SIZE = 50
# How old the counts per status shown above the queue may be, in seconds.
COUNTS_MAX_AGE = 5.0
AGE_CHOICES = (1, 3, 7, 14, 30)
MAX_SEARCH_LENGTH = 100
_REFERENCE = re.compile(r"SME-\d{4}-\d{6,}")
_MOBILE = re.compile(r"(?:\+?86)?(1[3-9]\d{9})")
_RESIDENT_ID = re.compile(r"\d{17}[\dX]")
_CURSOR = re.compile(r"(\d{1,20})\.(\d{1,19})")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
SelectT = TypeVar("SelectT", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last row's submission time and id."""

    submitted_at: datetime
    application_id: int

    def encode(self) -> str:
        micros = (self.submitted_at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.application_id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        match = _CURSOR.fullmatch(text)
        if match is None:
            return None
        try:
            moment = _EPOCH + timedelta(microseconds=int(match.group(1)))
        except OverflowError:
            return None
        return cls(moment, int(match.group(2)))


@dataclass(frozen=True)
class QueueFilters:
    status: Status | None = None
    assigned_to_me: bool = False
    waiting_on_applicant: bool = False
    older_than_days: int | None = None
    search: str = ""


@dataclass(frozen=True)
class QueueRow:
    id: int
    reference: str | None
    company_name: str | None
    status: Status
    amount: Decimal | None
    submitted_at: datetime
    assigned_to: str | None


@dataclass(frozen=True)
class QueuePage:
    rows: list[QueueRow]
    next_cursor: Cursor | None


def _digits(text: str) -> str:
    return re.sub(r"[\s-]", "", text)


def search_kind(text: str) -> str:
    """What a search box entry is taken for: reference, phone, id_number or company."""
    query = text.strip()[:MAX_SEARCH_LENGTH]
    compact = _digits(query).upper()
    if _REFERENCE.fullmatch(query.upper()):
        return "reference"
    if _MOBILE.fullmatch(compact):
        return "phone"
    if _RESIDENT_ID.fullmatch(compact):
        return "id_number"
    return "company"


def search_condition(cipher: FieldCipher | None, text: str) -> ColumnElement[bool]:
    """What a search box entry matches: exact reference, phone or ID; else part of a name."""
    query = text.strip()[:MAX_SEARCH_LENGTH]
    compact = _digits(query).upper()
    kind = search_kind(query)
    if kind == "reference":
        return Application.reference == query.upper()
    if kind in ("phone", "id_number"):
        if cipher is None:
            return false()
        if kind == "phone":
            mobile = _MOBILE.fullmatch(compact)
            number = mobile.group(1) if mobile else compact
            return Application.phone_index == cipher.blind_index(number, column="phone")
        index = cipher.blind_index(compact, column="owner_id_number")
        return Application.owner_id_number_index == index
    return func.lower(Application.company_name).contains(query.lower(), autoescape=True)


def _filtered(
    query: SelectT,
    filters: QueueFilters,
    cipher: FieldCipher | None,
    *,
    officer_id: int,
    now: datetime,
) -> SelectT:
    if filters.status is not None:
        query = query.where(Application.status == filters.status.value)
    if filters.waiting_on_applicant:
        query = query.where(Application.status == Status.INFO_REQUESTED.value)
    if filters.assigned_to_me:
        query = query.where(Application.assigned_officer_id == officer_id)
    if filters.older_than_days:
        query = query.where(
            Application.submitted_at <= now - timedelta(days=filters.older_than_days)
        )
    if filters.search.strip():
        query = query.where(search_condition(cipher, filters.search))
    return query


async def queue_page(
    session: AsyncSession,
    cipher: FieldCipher | None,
    filters: QueueFilters,
    *,
    officer_id: int,
    now: datetime,
    after: Cursor | None = None,
    limit: int = PAGE_SIZE,
) -> QueuePage:
    """One page of submitted applications, oldest first, after `after`."""
    assignee = aliased(Officer)
    query = (
        select(
            Application.id,
            Application.reference,
            Application.company_name,
            Application.status,
            Application.amount,
            Application.submitted_at,
            assignee.display_name,
        )
        .outerjoin(assignee, assignee.id == Application.assigned_officer_id)
        .where(Application.submitted_at.is_not(None), Application.status != Status.DRAFT.value)
    )
    query = _filtered(query, filters, cipher, officer_id=officer_id, now=now)
    if after is not None:
        # A row-value comparison, not "a > x OR (a = x AND id > y)": both engines turn it
        # into an index range that starts at the cursor, where the OR form makes SQLite walk
        # the index from its first entry (page 1000 then costs 250 times page 1).
        query = query.where(
            tuple_(Application.submitted_at, Application.id)
            > tuple_(after.submitted_at, after.application_id)
        )
    query = query.order_by(Application.submitted_at, Application.id).limit(limit + 1)
    found = (await session.execute(query)).all()
    rows = [
        QueueRow(
            id=row.id,
            reference=row.reference,
            company_name=row.company_name,
            status=Status(row.status),
            amount=row.amount,
            submitted_at=row.submitted_at or now,
            assigned_to=row.display_name,
        )
        for row in found[:limit]
    ]
    more = len(found) > limit
    last = rows[-1] if rows else None
    cursor = Cursor(last.submitted_at, last.id) if more and last is not None else None
    return QueuePage(rows=rows, next_cursor=cursor)


async def status_counts(session: AsyncSession) -> dict[Status, int]:
    """How many submitted applications are in each status."""
    query = (
        select(Application.status, func.count())
        .where(Application.status != Status.DRAFT.value)
        .group_by(Application.status)
    )
    counts: dict[Status, int] = {status: 0 for status in Status if status is not Status.DRAFT}
    for status, count in (await session.execute(query)).all():
        try:
            counts[Status(status)] = int(count)
        except ValueError:
            continue
    return counts


class StatusCounter:
    """`status_counts`, at most COUNTS_MAX_AGE seconds old; one request recomputes them while
    the others wait for its result instead of counting too."""

    def __init__(
        self, max_age: float = COUNTS_MAX_AGE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._counts: dict[Status, int] = {}
        self._counted_at = -math.inf
        self._lock = asyncio.Lock()

    def _fresh(self) -> bool:
        return self._clock() - self._counted_at < self._max_age

    async def counts(self, database: Database) -> dict[Status, int]:
        if self._fresh():
            return dict(self._counts)
        async with self._lock:
            if not self._fresh():
                async with database.reading() as session:
                    self._counts = await status_counts(session)
                self._counted_at = self._clock()
            return dict(self._counts)

    def invalidate(self) -> None:
        """Count afresh next time (after a change made here, so its author sees it)."""
        self._counted_at = -math.inf
