"""The audit chain: appends in the caller's transaction, refuses secrets, finds tampering."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, insert, select, update

from storage.audit import GENESIS_HASH, record, verify_chain
from storage.database import Database
from storage.migrate import migrate
from storage.models import Applicant, AuditEvent, AuditHead

BASE_TIME = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


async def build_chain(database: Database, count: int) -> None:
    async with database.unit_of_work() as session:
        for index in range(count):
            await record(
                session,
                actor_type="officer",
                actor_id=str(index % 3),
                action="application.viewed",
                subject_type="application",
                subject_id=str(100 + index),
                details={"step": index, "owner": "张三", "phone": "138****5678"},
                now=BASE_TIME + timedelta(seconds=index),
            )


async def clear_chain(database: Database) -> None:
    async with database.unit_of_work() as session:
        await session.execute(delete(AuditEvent))
        await session.execute(delete(AuditHead))


async def test_empty_chain_is_ok(database: Database) -> None:
    report = await verify_chain(database)
    assert report.ok
    assert report.describe() == "ok: 0 events"


async def test_untouched_chain_verifies_with_its_count(database: Database) -> None:
    await build_chain(database, 7)
    async with database.unit_of_work() as session:
        event = await record(
            session,
            actor_type="system",
            actor_id=None,
            action="backup.created",
            details={
                "amount": Decimal("300000.50"),
                "at": BASE_TIME,
                "nested": {"list": [1, 2.5, None, True, "贷款"], "key_id": "k1"},
            },
        )
    assert event.seq == 8
    assert event.details["amount"] == "300000.50"
    assert event.details["at"] == "2026-03-01T09:30:15.123456Z"
    report = await verify_chain(database, batch_size=3)
    assert report.ok, report.describe()
    assert report.describe() == "ok: 8 events"


async def test_first_event_links_to_the_genesis_hash(database: Database) -> None:
    await build_chain(database, 2)
    async with database.unit_of_work() as session:
        events = (await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all()
        head = (await session.scalars(select(AuditHead))).one()
    assert events[0].prev_hash == GENESIS_HASH
    assert events[1].prev_hash == events[0].hash
    assert (head.seq, head.hash) == (2, events[1].hash)


async def test_event_is_rolled_back_with_the_business_change(database: Database) -> None:
    await build_chain(database, 1)
    with pytest.raises(RuntimeError):
        async with database.unit_of_work() as session:
            session.add(Applicant(telegram_user_id=5, chat_id=5))
            await record(session, actor_type="applicant", actor_id="5", action="chat.started")
            raise RuntimeError("the business change failed")
    report = await verify_chain(database)
    assert report.describe() == "ok: 1 events"


TAMPER_KINDS = ["action", "details", "time", "actor", "hash", "delete", "swap"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    count=st.integers(min_value=2, max_value=9),
    kind=st.sampled_from(TAMPER_KINDS),
    data=st.data(),
)
async def test_verify_names_exactly_the_tampered_event(
    database: Database, count: int, kind: str, data: st.DataObject
) -> None:
    await clear_chain(database)
    await build_chain(database, count)
    target = data.draw(st.integers(min_value=1, max_value=count), label="target")
    by_seq = AuditEvent.seq == target
    async with database.unit_of_work() as session:
        if kind == "action":
            await session.execute(update(AuditEvent).where(by_seq).values(action="loan.approved"))
        elif kind == "details":
            await session.execute(update(AuditEvent).where(by_seq).values(details={"step": -1}))
        elif kind == "time":
            moved = BASE_TIME + timedelta(seconds=target - 1, microseconds=1)
            await session.execute(update(AuditEvent).where(by_seq).values(occurred_at=moved))
        elif kind == "actor":
            await session.execute(update(AuditEvent).where(by_seq).values(actor_id="mallory"))
        elif kind == "hash":
            await session.execute(update(AuditEvent).where(by_seq).values(hash="ab" * 32))
        elif kind == "delete":
            await session.execute(delete(AuditEvent).where(by_seq))
        else:
            other = data.draw(
                st.integers(min_value=1, max_value=count).filter(lambda seq: seq != target),
                label="other",
            )
            for old, new in ((target, -1), (other, target), (-1, other)):
                await session.execute(
                    update(AuditEvent).where(AuditEvent.seq == old).values(seq=new)
                )
            target = min(target, other)

    report = await verify_chain(database, batch_size=3)

    assert not report.ok
    assert report.first_bad_seq == target, report.describe()
    assert report.position == target
    assert report.describe().startswith(f"FAILED at event #{target} (position {target} of ")


async def test_event_added_beyond_the_head_is_reported(database: Database) -> None:
    await build_chain(database, 3)
    async with database.unit_of_work() as session:
        forged = (await session.scalars(select(AuditEvent).where(AuditEvent.seq == 3))).one()
        values = {c.key: getattr(forged, c.key) for c in AuditEvent.__mapper__.column_attrs}
        await session.execute(insert(AuditEvent).values({**values, "seq": 4}))
    report = await verify_chain(database)
    assert (report.ok, report.first_bad_seq, report.position) == (False, 4, 4)
    assert "beyond the chain head" in report.describe()


async def test_unreadable_stored_values_are_reported_not_raised(data_dir: Path) -> None:
    path = data_dir / "raw.db"
    database = Database(f"sqlite+aiosqlite:///{path}")
    try:
        await migrate(database)
        await build_chain(database, 4)
        with sqlite3.connect(path) as raw:
            raw.execute("UPDATE audit_events SET details = '{not json' WHERE seq = 2")
            raw.execute("UPDATE audit_events SET occurred_at = 'yesterday' WHERE seq = 3")
        report = await verify_chain(database)
        assert (report.first_bad_seq, report.position) == (2, 2)
        assert "not valid JSON" in report.reason
        with sqlite3.connect(path) as raw:
            raw.execute("DELETE FROM audit_events WHERE seq = 2")
        report = await verify_chain(database)
        assert report.first_bad_seq == 2
        assert "missing" in report.reason
    finally:
        await database.dispose()


@pytest.mark.parametrize(
    ("details", "named", "hidden"),
    [
        ({"password": "hunter2hunter2"}, "password", "hunter2hunter2"),
        ({"new_password_hash": "$argon2id$v=19$abc"}, "new_password_hash", "$argon2id"),
        ({"officer": {"totp_secret": "JBSWY3DPEHPK3PXP"}}, "totp_secret", "JBSWY3DP"),
        ({"api_key": "c2VjcmV0LWtleS1ieXRlcw=="}, "api_key", "c2VjcmV0"),
        ({"session_token": "deadbeefcafe"}, "session_token", "deadbeefcafe"),
        ({"totpSeed": "JBSWY3DPEHPK3PXP"}, "totpSeed", "JBSWY3DP"),
        ({"apiKey": "c2VjcmV0LWtleS1ieXRlcw=="}, "apiKey", "c2VjcmV0"),
        ({"owner_id": "110101199003074321"}, "owner_id", "110101199003074321"),
        ({"note": "ID 11010119900307432X on file"}, "note", "11010119900307432X"),
        ({"contact": "call 13812345678 after 5"}, "contact", "13812345678"),
        ({"phones": ["+86 138 1234 5678"]}, "phones[0]", "1234 5678"),
        ({"phone": 13812345678}, "phone", "13812345678"),
    ],
)
async def test_secrets_and_unmasked_personal_data_are_refused(
    database: Database, details: dict[str, object], named: str, hidden: str
) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="audit") as refused:
            await record(session, actor_type="officer", actor_id="1", action="x", details=details)
        # The caller carries on and commits: the refused event must not have been written.
    message = str(refused.value)
    assert named in message
    assert hidden not in message
    async with database.unit_of_work() as session:
        assert (await session.execute(select(func.count()).select_from(AuditEvent))).scalar() == 0
        assert (await session.execute(select(func.count()).select_from(AuditHead))).scalar() == 0


async def test_unmasked_personal_data_in_subject_is_refused(database: Database) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="subject_id") as refused:
            await record(
                session,
                actor_type="officer",
                actor_id="1",
                action="applicant.searched",
                subject_id="13912345678",
            )
    assert "13912345678" not in str(refused.value)


async def test_masked_forms_and_c1_identifiers_are_accepted(database: Database) -> None:
    async with database.unit_of_work() as session:
        await record(
            session,
            actor_type="officer",
            actor_id="1",
            action="document.viewed",
            details={
                "owner_id": "110101********1234",
                "phone": "138****5678",
                "key_id": "k1",
                "keyId": "k2",
                "sha256": "a" + "1" * 18 + "b" * 45,
                "telegram_user_id": 987654321,
                "file_unique_id": "AgAD13812345678x",
            },
        )
    assert (await verify_chain(database)).describe() == "ok: 1 events"


async def test_naive_time_is_refused(database: Database) -> None:
    async with database.unit_of_work() as session:
        with pytest.raises(ValueError, match="aware"):
            await record(
                session, actor_type="system", actor_id=None, action="x", now=datetime(2026, 1, 1)
            )


async def test_concurrent_writers_yield_one_valid_chain(database: Database) -> None:
    async def writer(name: str) -> None:
        for index in range(50):
            async with database.unit_of_work() as session:
                await record(
                    session,
                    actor_type="officer",
                    actor_id=name,
                    action="application.viewed",
                    details={"index": index},
                )
                # Give the other writer a turn while this transaction still holds the head.
                await asyncio.sleep(0)

    await asyncio.gather(writer("a"), writer("b"))

    async with database.unit_of_work() as session:
        rows = (await session.execute(select(AuditEvent.seq, AuditEvent.actor_id))).all()
    assert sorted(seq for seq, _ in rows) == list(range(1, 101))
    assert [actor for _, actor in rows].count("a") == 50
    assert (await verify_chain(database)).describe() == "ok: 100 events"
