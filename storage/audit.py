"""The append-only, hash-chained audit trail (design §4.7) and its verifier.

Every event carries the hash of the event before it, so editing, deleting or reordering any
stored event breaks the chain at that event:

    hash_i = SHA-256(raw 32 bytes of hash_{i-1} ‖ canonical_json(event_i))

`canonical_json` is UTF-8 JSON with sorted keys, no whitespace and non-ASCII kept as is; the
event object covers `seq`, `occurred_at` (ISO-8601 UTC with microseconds and a `Z`), the actor,
the action, the subject, the details and `prev_hash`. The first event's `prev_hash` is 64
zeros. The single `audit_head` row names the last event; appenders lock it (PostgreSQL) or
already hold SQLite's write lock (BEGIN IMMEDIATE), so sequence numbers never collide.

Events must never hold C3 data (passwords, TOTP seeds, keys, tokens) or unmasked C2 data
(resident ID numbers, mobile numbers): `record` refuses them before anything is written.
"""

from __future__ import annotations

import hashlib
import json
import re
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import Table, Text, bindparam, cast, func, insert, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from storage.database import Database
from storage.models import AuditEvent, AuditHead
from storage.types import utcnow

GENESIS_HASH = "0" * 64
HEAD_ID = 1
VERIFY_BATCH_SIZE = 1000

# Column widths, checked here so SQLite (which ignores them) refuses what PostgreSQL would.
_LIMITS = {"actor_type": 16, "actor_id": 64, "action": 64, "subject_type": 32, "subject_id": 64}

# A key naming C3 data: any word of it is one of these, or its last word is key/token
# ("api_key", "session_token"); "key_id" or "token_count" stay allowed.
_SECRET_WORDS = frozenset({"password", "passwd", "passphrase", "totp", "otp", "secret", "seed"})
_SECRET_LAST_WORDS = frozenset({"key", "token"})
_WORD_SPLIT = re.compile(r"[^0-9a-z]+")
# camelCase keys ("totpSeed", "apiKey") are split into words too.
_CAMEL_BOUNDARY = re.compile(r"(?<=[0-9a-z])(?=[A-Z])")

# Boundaries exclude letters too, so digit runs inside hex digests or file ids do not match.
_RESIDENT_ID = re.compile(r"(?<![0-9A-Za-z])\d{17}[0-9Xx](?![0-9A-Za-z])")
_MOBILE = re.compile(r"(?<![0-9A-Za-z])(?:\+?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?![0-9A-Za-z])")


def canonical_json(value: object) -> bytes:
    """The one byte form of a JSON value that the chain hashes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds, the form hashed into the chain."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def event_hash(
    *,
    seq: int,
    occurred_at: datetime,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str | None,
    subject_id: str | None,
    details: object,
    prev_hash: str,
) -> str:
    """The chain hash of one event, given the hash of the event before it."""
    payload = {
        "seq": seq,
        "occurred_at": format_timestamp(occurred_at),
        "actor": {"type": actor_type, "id": actor_id},
        "action": action,
        "subject": {"type": subject_type, "id": subject_id},
        "details": details,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(bytes.fromhex(prev_hash) + canonical_json(payload)).hexdigest()


@dataclass(frozen=True)
class AuditEntry:
    """One event to append, already checked (see `check_entry`): nothing in it is refused."""

    actor_type: str
    actor_id: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    details: dict[str, Any]
    occurred_at: datetime


def check_entry(
    *,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str | None = None,
    subject_id: str | None = None,
    details: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """The event as it will be stored, or ValueError (naming the offending key but never its
    value) when it would hold C3 or unmasked C2 data or does not fit its columns."""
    fields = {
        "actor_type": actor_type,
        "actor_id": actor_id,
        "action": action,
        "subject_type": subject_type,
        "subject_id": subject_id,
    }
    for name, value in fields.items():
        _check_field(name, value)
    clean_details = _clean_details(details or {})
    if now is not None and now.tzinfo is None:
        raise ValueError("audit events need an aware time stamp, not a naive one")
    return AuditEntry(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=clean_details,
        occurred_at=(now or utcnow()).astimezone(UTC),
    )


async def record(
    session: AsyncSession,
    *,
    actor_type: str,
    actor_id: str | None,
    action: str,
    subject_type: str | None = None,
    subject_id: str | None = None,
    details: Mapping[str, object] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (never commits).

    Raises ValueError, naming the offending key but never its value, when the event would
    hold C3 or unmasked C2 data or does not fit its columns.
    """
    entry = check_entry(
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        subject_type=subject_type,
        subject_id=subject_id,
        details=details,
        now=now,
    )
    head_seq, head_hash = await _lock_head(session)
    event = _chained(entry, head_seq + 1, head_hash)
    session.add(event)
    await session.flush()
    await _move_head(session, event)
    return event


async def record_many(session: AsyncSession, entries: Sequence[AuditEntry]) -> list[AuditEvent]:
    """Append checked events, in order, in the caller's transaction (never commits): one
    event each, chained one after the other, under a single lock of the head.

    This is the group commit of reads audited under load: one transaction (on SQLite one
    turn of the single writer) for many events instead of one each. The events returned are
    not attached to the session.
    """
    if not entries:
        return []
    head_seq, head_hash = await _lock_head(session)
    events = []
    for entry in entries:
        event = _chained(entry, head_seq + 1, head_hash)
        head_seq, head_hash = event.seq, event.hash
        events.append(event)
    # One multi-row statement rather than ORM objects: the batch costs one round trip.
    await session.execute(
        insert(_EVENTS),
        [
            {
                "seq": event.seq,
                "occurred_at": event.occurred_at,
                "actor_type": event.actor_type,
                "actor_id": event.actor_id,
                "action": event.action,
                "subject_type": event.subject_type,
                "subject_id": event.subject_id,
                "details": event.details,
                "prev_hash": event.prev_hash,
                "hash": event.hash,
            }
            for event in events
        ],
    )
    await _move_head(session, events[-1])
    return events


def _chained(entry: AuditEntry, seq: int, prev_hash: str) -> AuditEvent:
    digest = event_hash(
        seq=seq,
        occurred_at=entry.occurred_at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        details=entry.details,
        prev_hash=prev_hash,
    )
    return AuditEvent(
        seq=seq,
        occurred_at=entry.occurred_at,
        actor_type=entry.actor_type,
        actor_id=entry.actor_id,
        action=entry.action,
        subject_type=entry.subject_type,
        subject_id=entry.subject_id,
        details=entry.details,
        prev_hash=prev_hash,
        hash=digest,
    )


# Every audited change runs these; built once, on the tables (no ORM statement path).
_HEADS = typing.cast(Table, AuditHead.__table__)
_EVENTS = typing.cast(Table, AuditEvent.__table__)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.id == HEAD_ID)
    .values(seq=bindparam("new_seq"), hash=bindparam("new_hash"))
)
_LOCK_HEAD = select(_HEADS.c.seq, _HEADS.c.hash).where(_HEADS.c.id == HEAD_ID).with_for_update()


async def _move_head(session: AsyncSession, last: AuditEvent) -> None:
    await session.execute(_MOVE_HEAD, {"new_seq": last.seq, "new_hash": last.hash})


async def _lock_head(session: AsyncSession) -> tuple[int, str]:
    """Lock the head row for this transaction, creating it race-free on first use."""
    row = (await session.execute(_LOCK_HEAD)).one_or_none()
    if row is None:
        dialect = session.get_bind().dialect.name
        upsert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        await session.execute(
            upsert(AuditHead)
            .values(id=HEAD_ID, seq=0, hash=GENESIS_HASH)
            .on_conflict_do_nothing(index_elements=["id"])
        )
        row = (await session.execute(_LOCK_HEAD)).one()
    return int(row.seq), str(row.hash)


def _check_field(name: str, value: str | None) -> None:
    if value is None:
        return
    if len(value) > _LIMITS[name]:
        raise ValueError(f"audit {name} is longer than {_LIMITS[name]} characters")
    problem = _personal_data_in(value)
    if problem:
        raise ValueError(f"audit {name} holds {problem}; store a masked form")


def _clean_details(details: Mapping[str, object]) -> dict[str, Any]:
    """Refuse secrets and unmasked personal data; return the details exactly as stored."""
    _check_value("details", details)
    try:
        text = json.dumps(details, allow_nan=False, default=_json_default)
    except (TypeError, ValueError):
        raise ValueError(
            "audit details must hold only JSON values (text, numbers, booleans, None, "
            "lists, mappings), Decimal, or aware datetimes"
        ) from None
    # Store what a JSON round trip gives back (Decimal and datetime become text), so the
    # verifier, which only sees the stored JSON, hashes exactly what was hashed here.
    clean: dict[str, Any] = json.loads(text)
    return clean


def _check_value(path: str, value: object) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"audit details keys must be text (under {path!r})")
            key_path = f"{path}.{key}"
            if _names_secret(key):
                raise ValueError(f"audit details must not hold secrets: key {key_path!r}")
            if _personal_data_in(key):
                raise ValueError(f"audit details key under {path!r} holds personal data")
            _check_value(key_path, item)
        return
    if isinstance(value, Sequence) and not isinstance(value, str | bytes | bytearray):
        for index, item in enumerate(value):
            _check_value(f"{path}[{index}]", item)
        return
    if isinstance(value, bytes | bytearray):
        raise ValueError(f"audit details must not hold raw bytes: key {path!r}")
    if isinstance(value, datetime | date | Decimal):
        return
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        problem = _personal_data_in(str(value))
        if problem:
            raise ValueError(f"audit details key {path!r} holds {problem}; store a masked form")


def _names_secret(key: str) -> bool:
    words = [word for word in _WORD_SPLIT.split(_CAMEL_BOUNDARY.sub("_", key).lower()) if word]
    if not words:
        return False
    return any(word in _SECRET_WORDS for word in words) or words[-1] in _SECRET_LAST_WORDS


def _personal_data_in(text: str) -> str | None:
    if _RESIDENT_ID.search(text):
        return "an unmasked resident ID number"
    if _MOBILE.search(text):
        return "an unmasked mobile phone number"
    return None


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in audit details")
        return format_timestamp(value)
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


@dataclass(frozen=True)
class ChainReport:
    """The outcome of `verify_chain`; `describe()` is what `audit verify` prints."""

    ok: bool
    count: int
    first_bad_seq: int | None
    position: int | None
    reason: str
    head_hash: str = ""

    def describe(self) -> str:
        if self.ok:
            return f"ok: {self.count} events"
        return (
            f"FAILED at event #{self.first_bad_seq} "
            f"(position {self.position} of {self.count}): {self.reason}"
        )


async def verify_chain(database: Database, *, batch_size: int = VERIFY_BATCH_SIZE) -> ChainReport:
    """Recompute the whole chain in sequence order, in batches, and name the first bad event.

    The chain is checked up to the head read at the start (events appended meanwhile are left
    for the next run); an event stored beyond the head at the end is reported as forged.
    """
    async with database.reading() as session:
        head = (
            await session.execute(
                select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == HEAD_ID)
            )
        ).one_or_none()
    head_seq, head_hash = (int(head.seq), str(head.hash)) if head else (0, GENESIS_HASH)

    expected_seq, prev_hash, position = 1, GENESIS_HASH, 0
    cursor: int | None = None
    while True:
        rows = await _read_batch(database, after=cursor, upto=head_seq, limit=batch_size)
        for row in rows:
            position += 1
            bad_seq, reason = _check_event(row, expected_seq, prev_hash)
            if reason:
                return await _failure(database, bad_seq, position, reason)
            prev_hash = str(row.hash)
            expected_seq += 1
        if len(rows) < batch_size:
            break
        cursor = int(rows[-1].seq)

    if expected_seq - 1 != head_seq:
        reason = (
            f"event #{expected_seq} is missing: the chain head names #{head_seq} "
            f"but the stored events end at #{expected_seq - 1}"
        )
        return await _failure(database, expected_seq, position + 1, reason)
    if prev_hash != head_hash:
        reason = f"the chain head's hash does not match event #{head_seq}"
        return await _failure(database, head_seq, position, reason)
    async with database.reading() as session:
        current_head = (
            select(func.coalesce(func.max(AuditHead.seq), 0))
            .where(AuditHead.id == HEAD_ID)
            .scalar_subquery()
        )
        stray = (
            await session.execute(
                select(func.min(AuditEvent.seq)).where(AuditEvent.seq > current_head)
            )
        ).scalar()
    if stray is not None:
        reason = f"event #{stray} lies beyond the chain head (added without the chain)"
        return await _failure(database, int(stray), position + 1, reason)
    return ChainReport(
        ok=True, count=head_seq, first_bad_seq=None, position=None, reason="", head_hash=head_hash
    )


class _StoredEvent(NamedTuple):
    """One event as stored, time and details still raw."""

    seq: int
    occurred_at: object
    actor_type: str
    actor_id: str | None
    action: str
    subject_type: str | None
    subject_id: str | None
    details: str | None
    prev_hash: str
    hash: str


async def _read_batch(
    database: Database, *, after: int | None, upto: int, limit: int
) -> list[_StoredEvent]:
    # Time and details are read raw so a tampered value is reported, not raised.
    query = (
        select(
            AuditEvent.seq,
            type_coerce(AuditEvent.occurred_at, Text).label("occurred_at"),
            AuditEvent.actor_type,
            AuditEvent.actor_id,
            AuditEvent.action,
            AuditEvent.subject_type,
            AuditEvent.subject_id,
            cast(AuditEvent.details, Text).label("details"),
            AuditEvent.prev_hash,
            AuditEvent.hash,
        )
        .where(AuditEvent.seq <= upto)
        .order_by(AuditEvent.seq)
        .limit(limit)
    )
    if after is not None:
        query = query.where(AuditEvent.seq > after)
    async with database.reading() as session:
        return [_StoredEvent._make(row) for row in await session.execute(query)]


def _check_event(row: _StoredEvent, expected_seq: int, prev_hash: str) -> tuple[int, str]:
    """(first bad seq, reason) for a broken event, or (0, "") when it chains correctly."""
    seq = int(row.seq)
    if seq > expected_seq:
        return expected_seq, f"event #{expected_seq} is missing (the next stored event is #{seq})"
    if seq < expected_seq:
        return seq, f"event #{seq} is out of sequence (expected #{expected_seq})"
    if row.prev_hash != prev_hash:
        return seq, "its link to the event before does not match (deleted or reordered events)"
    occurred_at = parse_stored_time(row.occurred_at)
    if occurred_at is None:
        return seq, "its time stamp cannot be read (edited event)"
    try:
        details = None if row.details is None else json.loads(row.details)
    except ValueError:
        return seq, "its details are not valid JSON (edited event)"
    recomputed = event_hash(
        seq=seq,
        occurred_at=occurred_at,
        actor_type=row.actor_type,
        actor_id=row.actor_id,
        action=row.action,
        subject_type=row.subject_type,
        subject_id=row.subject_id,
        details=details,
        prev_hash=prev_hash,
    )
    if recomputed != row.hash:
        return seq, "its contents do not match its hash (edited event)"
    return 0, ""


def parse_stored_time(raw: object) -> datetime | None:
    """An event's time as read raw from either engine, made aware; None when unreadable."""
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


async def _failure(database: Database, seq: int, position: int, reason: str) -> ChainReport:
    async with database.reading() as session:
        total = (await session.execute(select(func.count()).select_from(AuditEvent))).scalar_one()
    return ChainReport(
        ok=False, count=int(total), first_bad_seq=seq, position=position, reason=reason
    )
