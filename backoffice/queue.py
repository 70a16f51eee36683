"""The review queue: submitted applications, filtered, searched and paged by keyset.

Pages follow the keyset (submitted_at, id), oldest first, so page 1000 costs what page 1
costs. Counting every application per status reads the whole status index (tens of
milliseconds at 100 000 applications), so the counts are kept for a few seconds per process
(`StatusCounter`) and recounted in the background before they expire.

Search takes a reference, part of a company name, or an exact mobile number or resident ID
number; the last two are found through their blind index (HMAC), never by decrypting rows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, bindparam, false, func, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lending.workflow import Status
from storage.database import Database
from storage.fields import FieldCipher
from storage.models import Application, Officer

log = logging.getLogger(__name__)

PAGE_SIZE = 50
# How old the counts per status shown above the queue may be, in seconds, and the share of
# that age after which they are recounted in the background.
COUNTS_MAX_AGE = 5.0
RECOUNT_AFTER = 0.8
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


class QueueRow(NamedTuple):
    """One application on a queue page (a named tuple: a page makes fifty at a time)."""

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


# Built once: composing a statement (the officers' alias above all) and its cache key cost
# more CPU than running it. Filters are added per page; without any, the statement run is
# one of these two objects, whose cache keys SQLAlchemy keeps.
_ASSIGNEE = aliased(Officer)
_PAGE = (
    select(
        Application.id,
        Application.reference,
        Application.company_name,
        Application.status,
        Application.amount,
        Application.submitted_at,
        _ASSIGNEE.display_name,
    )
    .outerjoin(_ASSIGNEE, _ASSIGNEE.id == Application.assigned_officer_id)
    .where(Application.submitted_at.is_not(None), Application.status != Status.DRAFT.value)
    .order_by(Application.submitted_at, Application.id)
    .limit(bindparam("row_limit", type_=Integer))
)
# A row-value comparison, not "a > x OR (a = x AND id > y)": both engines turn it into an
# index range that starts at the cursor, where the OR form makes SQLite walk the index from
# its first entry (page 1000 then costs 250 times page 1).
_PAGE_AFTER = _PAGE.where(
    tuple_(Application.submitted_at, Application.id)
    > tuple_(
        bindparam("after_submitted_at", type_=Application.submitted_at.type),
        bindparam("after_id", type_=Application.id.type),
    )
)
_STATUSES = {status.value: status for status in Status}


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
    params: dict[str, object] = {"row_limit": limit + 1}
    if after is None:
        query = _PAGE
    else:
        query = _PAGE_AFTER
        params |= {"after_submitted_at": after.submitted_at, "after_id": after.application_id}
    query = _filtered(query, filters, cipher, officer_id=officer_id, now=now)
    found = (await session.execute(query, params)).all()
    # Unpacked as tuples into named tuples: by-name access and frozen dataclasses made the
    # fifty rows cost more CPU than the query.
    rows = [
        QueueRow(row_id, reference, company, _STATUSES[status], amount, submitted or now, assignee)
        for row_id, reference, company, status, amount, submitted, assignee in found[:limit]
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
    """`status_counts`, at most COUNTS_MAX_AGE seconds old, recounted before they get there.

    Once counts are past RECOUNT_AFTER of their age limit, the next request starts a recount
    in the background and is served the kept counts, so under steady use no page waits for
    the count. Only counts past the limit (or invalidated) make requests wait: one request
    counts, the others wait for its result instead of counting too.
    """

    def __init__(
        self, max_age: float = COUNTS_MAX_AGE, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._max_age = max_age
        self._clock = clock
        self._counts: dict[Status, int] = {}
        self._counted_at = -math.inf
        # Raised by invalidate(): a count begun before the change must not pass as fresh.
        self._generation = 0
        self._lock = asyncio.Lock()
        self._recount: asyncio.Task[None] | None = None

    def _age(self) -> float:
        return self._clock() - self._counted_at

    async def counts(self, database: Database) -> dict[Status, int]:
        age = self._age()
        if age >= self._max_age:
            await self._count(database)
        elif age >= self._max_age * RECOUNT_AFTER and (
            self._recount is None or self._recount.done()
        ):
            self._recount = asyncio.create_task(self._count_in_background(database))
        return dict(self._counts)

    async def _count(self, database: Database) -> None:
        async with self._lock:
            if self._age() < self._max_age * RECOUNT_AFTER:
                return  # counted while this request waited
            generation, started = self._generation, self._clock()
            async with database.reading() as session:
                self._counts = await status_counts(session)
            if generation == self._generation:
                self._counted_at = started

    async def _count_in_background(self, database: Database) -> None:
        try:
            await self._count(database)
        except Exception:
            # The kept counts stay; once past their age a request counts again itself.
            log.exception("recounting the applications per status failed")

    def invalidate(self) -> None:
        """Count afresh next time (after a change made here, so its author sees it)."""
        self._generation += 1
        self._counted_at = -math.inf

    async def close(self) -> None:
        """Stop a recount still running (app shutdown)."""
        if self._recount is not None:
            self._recount.cancel()
            await asyncio.gather(self._recount, return_exceptions=True)
