"""The read side of the audit trail for the back-office viewer: filtered pages and CSV export.

Pages go newest first by keyset on `seq` (no OFFSET), so page 1000 costs what page 1 costs: each
filter column has an index ending in `seq` (storage/models.py). A filter on time alone walks
the primary key, so the one page where its window ends (the first page under an old `until`,
the last under a `since`) also steps over the events outside the window. The CSV export streams the
events oldest first in batches, each read in its own short transaction, so memory stays flat
and no transaction (on SQLite: no write lock) is held while a slow client downloads.

Who may call these, and auditing the export itself, is the caller's business (the
back-office's audit pages); see docs/audit-chain.md for what the columns mean.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, Text, cast, func, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from storage.audit import canonical_json, format_timestamp, parse_stored_time
from storage.database import Database
from storage.models import AuditEvent

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
EXPORT_BATCH_SIZE = 1000

CSV_HEADER = (
    "seq",
    "occurred_at",
    "actor_type",
    "actor_id",
    "action",
    "subject_type",
    "subject_id",
    "details",
    "hash",
)

# Time and details are read raw, so a tampered row is exported as stored, not raised on.
_EXPORT_COLUMNS = select(
    AuditEvent.seq,
    type_coerce(AuditEvent.occurred_at, Text).label("occurred_at"),
    AuditEvent.actor_type,
    AuditEvent.actor_id,
    AuditEvent.action,
    AuditEvent.subject_type,
    AuditEvent.subject_id,
    cast(AuditEvent.details, Text).label("details"),
    AuditEvent.hash,
)

# A spreadsheet runs a cell starting with one of these as a formula (CSV injection); a leading
# apostrophe makes it plain text and is not shown. A cell that already starts with an
# apostrophe gets one too, so stripping one leading apostrophe always restores the value.
_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "'")


@dataclass(frozen=True)
class AuditFilter:
    """What the viewer narrows the trail to; every set field must match (None or "" = any).

    `since` is inclusive and `until` exclusive, both aware datetimes compared with the event's
    `occurred_at`. `actor_type` sits last so the documented positional order stays valid; pass
    it with `actor_id` to mean one officer (officer 7 and applicant 7 share the id "7").
    """

    actor_id: str | None = None
    subject_type: str | None = None
    subject_id: str | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    actor_type: str | None = None

    def __post_init__(self) -> None:
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None and moment.tzinfo is None:
                raise ValueError(f"audit filter {name} must be an aware datetime, not a naive one")

    def as_details(self) -> dict[str, str]:
        """The set fields as text, for the details of the event that audits an export."""
        details: dict[str, str] = {}
        for name in ("actor_type", "actor_id", "subject_type", "subject_id", "action"):
            value = getattr(self, name)
            if value:
                details[name] = value
        for name in ("since", "until"):
            moment = getattr(self, name)
            if moment is not None:
                details[name] = format_timestamp(moment)
        return details

    def conditions(self) -> list[ColumnElement[bool]]:
        """The SQL conditions this filter stands for."""
        matches: list[ColumnElement[bool]] = []
        equalities = (
            (AuditEvent.actor_type, self.actor_type),
            (AuditEvent.actor_id, self.actor_id),
            (AuditEvent.subject_type, self.subject_type),
            (AuditEvent.subject_id, self.subject_id),
            (AuditEvent.action, self.action),
        )
        for column, value in equalities:
            if value:
                matches.append(column == value)
        if self.since is not None:
            matches.append(AuditEvent.occurred_at >= self.since)
        if self.until is not None:
            matches.append(AuditEvent.occurred_at < self.until)
        return matches


@dataclass(frozen=True)
class AuditPage:
    """One page, newest first; pass `next_before_seq` back as `before_seq` for the next one."""

    events: list[AuditEvent]
    next_before_seq: int | None


async def list_events(
    session: AsyncSession,
    flt: AuditFilter,
    *,
    before_seq: int | None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> AuditPage:
    """Up to `limit` matching events with `seq < before_seq` (None: from the newest), newest first.

    `next_before_seq` is None on the last page. Raises ValueError for a limit outside
    1..MAX_PAGE_SIZE. Reads only; the caller's unit of work decides the transaction.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise ValueError(f"an audit page holds 1 to {MAX_PAGE_SIZE} events")
    query = select(AuditEvent).where(*flt.conditions())
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    # One extra row says whether another page exists without a second query.
    query = query.order_by(AuditEvent.seq.desc()).limit(limit + 1)
    rows = list((await session.scalars(query)).all())
    events = rows[:limit]
    next_before_seq = events[-1].seq if len(rows) > limit else None
    return AuditPage(events=events, next_before_seq=next_before_seq)


async def export_csv(
    database: Database, flt: AuditFilter, *, batch_size: int = EXPORT_BATCH_SIZE
) -> AsyncIterator[bytes]:
    """The matching events as UTF-8 CSV (with a byte-order mark, for spreadsheets), oldest first.

    Yields the header, then one chunk per batch. Events appended after the export starts are
    left out, so the export is one consistent cut of an append-only trail. Cells that a
    spreadsheet would run as a formula (or that start with an apostrophe) get an apostrophe.
    """
    if batch_size < 1:
        raise ValueError("the export batch size must be positive")
    async with database.reading() as session:
        last_seq = (await session.execute(select(func.max(AuditEvent.seq)))).scalar()
    yield codecs.BOM_UTF8 + _csv_bytes([CSV_HEADER])
    if last_seq is None:
        return
    after = 0
    while True:
        query = (
            _EXPORT_COLUMNS.where(
                *flt.conditions(), AuditEvent.seq > after, AuditEvent.seq <= last_seq
            )
            .order_by(AuditEvent.seq)
            .limit(batch_size)
        )
        async with database.reading() as session:
            rows = (await session.execute(query)).all()
        # The transaction is over before the chunk goes out: a slow reader holds no lock.
        if rows:
            yield _csv_bytes(_export_row(_StoredRow._make(row)) for row in rows)
        if len(rows) < batch_size:
            return
        after = int(rows[-1].seq)


class _StoredRow(NamedTuple):
    """One event as exported, time and details still raw."""

    seq: int
    occurred_at: object
    actor_type: str
    actor_id: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    details: str | None
    hash: str


def _export_row(row: _StoredRow) -> tuple[str, ...]:
    moment = parse_stored_time(row.occurred_at)
    return (
        str(row.seq),
        format_timestamp(moment) if moment is not None else str(row.occurred_at),
        row.actor_type,
        row.actor_id or "",
        row.action,
        row.subject_type or "",
        row.subject_id or "",
        _details_text(row.details),
        row.hash,
    )


def _details_text(raw: str | None) -> str:
    """The details as the chain hashes them (canonical JSON), or as stored if unreadable."""
    if raw is None:
        return "null"
    try:
        return canonical_json(json.loads(raw)).decode("utf-8")
    except ValueError:
        return raw


def neutralise_formula(cell: str) -> str:
    """The cell as a spreadsheet will show it as text, never run it as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_TRIGGERS) else cell


def _csv_bytes(rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in rows:
        writer.writerow([neutralise_formula(cell) for cell in row])
    return buffer.getvalue().encode("utf-8")
