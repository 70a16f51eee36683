"""Per-chat persistence for the bot: exactly-once update records and the conversation row."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Applicant, Conversation, ProcessedUpdate

NEW_CONVERSATION = "new"

# Every update runs these two statements; built once, they skip SQLAlchemy's per-call
# statement construction and cache-key work (a measurable share of a turn's CPU, B1).
_CLAIM = {
    # On the Table, not the class: the ORM's bulk-insert path reports no rowcount.
    dialect: insert(cast(Table, ProcessedUpdate.__table__))
    .values(bot_id=bindparam("bot_id"), update_id=bindparam("update_id"))
    .on_conflict_do_nothing()
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_CHAT = (
    select(Conversation, Applicant)
    .join(Applicant, Conversation.applicant_id == Applicant.id)
    .where(Conversation.chat_id == bindparam("chat_id"))
)
_CHAT_LOCKED = _CHAT.with_for_update(of=Conversation)


def _insert(session: AsyncSession):  # type: ignore[no-untyped-def]
    dialect = session.get_bind().dialect.name
    return pg_insert if dialect == "postgresql" else sqlite_insert


async def claim_update(session: AsyncSession, *, bot_id: int, update_id: int) -> bool:
    """Record the update as processed; False when it already was (a redelivery).

    The row commits with the update's effects, so an update is applied exactly once even if
    Telegram delivers it again or the process restarts between receiving and confirming it.
    """
    statement = _CLAIM[session.get_bind().dialect.name]
    result = await session.execute(statement, {"bot_id": bot_id, "update_id": update_id})
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def open_chat(
    session: AsyncSession, *, telegram_user_id: int, chat_id: int
) -> tuple[Applicant, Conversation]:
    """The applicant and their conversation, created on first contact, locked for this update.

    On PostgreSQL the conversation row is locked `FOR UPDATE`, which keeps one chat's updates
    in order across several bot processes (design §5); SQLite's write lock already does.
    A known chat costs one SELECT; the inserts run only on first contact.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    query = _CHAT_LOCKED if postgres else _CHAT
    found = (await session.execute(query, {"chat_id": chat_id})).first()
    if found is not None and found[1].telegram_user_id == telegram_user_id:
        conversation, applicant = found
        if applicant.blocked_bot:
            applicant.blocked_bot = False
        return applicant, conversation
    return await _first_contact(session, telegram_user_id=telegram_user_id, chat_id=chat_id)


async def _first_contact(
    session: AsyncSession, *, telegram_user_id: int, chat_id: int
) -> tuple[Applicant, Conversation]:
    """Create what is missing, race-free: two processes may meet the same new chat at once."""
    insert = _insert(session)
    await session.execute(
        insert(Applicant)
        .values(telegram_user_id=telegram_user_id, chat_id=chat_id, blocked_bot=False)
        .on_conflict_do_nothing(index_elements=["telegram_user_id"])
    )
    applicant = (
        await session.scalars(
            select(Applicant).where(Applicant.telegram_user_id == telegram_user_id)
        )
    ).one()
    if applicant.chat_id != chat_id or applicant.blocked_bot:
        applicant.chat_id = chat_id
        applicant.blocked_bot = False
    await session.execute(
        insert(Conversation)
        .values(chat_id=chat_id, applicant_id=applicant.id, state=NEW_CONVERSATION, context={})
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )
    query = select(Conversation).where(Conversation.chat_id == chat_id)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update()
    conversation = (await session.scalars(query)).one()
    return applicant, conversation
