"""Per-chat persistence for the bot: exactly-once update records and the conversation row.

The bot runs these on every update, so they are SQLAlchemy Core statements built once with
bound parameters, and rows come back as plain values: the ORM's identity map and unit-of-work
flush were most of a turn's CPU (B1).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from storage.models import Applicant, Conversation, ProcessedUpdate

NEW_CONVERSATION = "new"

_APPLICANTS = cast(Table, Applicant.__table__)
_CONVERSATIONS = cast(Table, Conversation.__table__)

_PROCESSED = cast(Table, ProcessedUpdate.__table__)
# On the Table, not the class: the ORM's bulk-insert path reports no rowcount. Given several
# parameter sets, SQLAlchemy sends them as one multi-row INSERT; RETURNING names the rows
# actually inserted (a conflict returns nothing).
_CLAIM = {
    dialect: insert(_PROCESSED)
    .values(bot_id=bindparam("bot_id"), update_id=bindparam("update_id"))
    .on_conflict_do_nothing()
    .returning(_PROCESSED.c.update_id)
    for dialect, insert in (("postgresql", pg_insert), ("sqlite", sqlite_insert))
}
_CONVERSATION_COLUMNS = (
    _CONVERSATIONS.c.chat_id,
    _CONVERSATIONS.c.state,
    _CONVERSATIONS.c.context,
    _CONVERSATIONS.c.application_id,
)
_APPLICANT_COLUMNS = (
    _APPLICANTS.c.id.label("applicant_id"),
    _APPLICANTS.c.telegram_user_id,
    _APPLICANTS.c.locale,
    _APPLICANTS.c.blocked_bot,
)
# Ordered, so that processes locking several chats at once always lock in the same order.
_CHATS = (
    select(*_CONVERSATION_COLUMNS, *_APPLICANT_COLUMNS)
    .join_from(_CONVERSATIONS, _APPLICANTS, _CONVERSATIONS.c.applicant_id == _APPLICANTS.c.id)
    .where(_CONVERSATIONS.c.chat_id.in_(bindparam("chat_ids", expanding=True)))
    .order_by(_CONVERSATIONS.c.chat_id)
)
_CHATS_LOCKED = _CHATS.with_for_update(of=_CONVERSATIONS)
_CONVERSATION = select(*_CONVERSATION_COLUMNS).where(
    _CONVERSATIONS.c.chat_id == bindparam("chat_id")
)
_CONVERSATION_LOCKED = _CONVERSATION.with_for_update()
_APPLICANT = select(*_APPLICANT_COLUMNS).where(
    _APPLICANTS.c.telegram_user_id == bindparam("telegram_user_id")
)
_UNBLOCK = (
    update(_APPLICANTS).where(_APPLICANTS.c.id == bindparam("row_id")).values(blocked_bot=False)
)
_MOVE_APPLICANT = (
    update(_APPLICANTS)
    .where(_APPLICANTS.c.id == bindparam("row_id"))
    .values(chat_id=bindparam("new_chat_id"), blocked_bot=False)
)
_SET_LOCALE = (
    update(_APPLICANTS)
    .where(_APPLICANTS.c.id == bindparam("row_id"))
    .values(locale=bindparam("new_locale"))
)
_SAVE = (
    update(_CONVERSATIONS)
    .where(_CONVERSATIONS.c.chat_id == bindparam("row_chat_id"))
    .values(
        state=bindparam("new_state"),
        context=bindparam("new_context"),
        application_id=bindparam("new_application_id"),
        updated_at=bindparam("now"),
    )
)


@dataclass
class Chat:
    """One chat's conversation and its applicant, as an update's transaction works on them.

    Change `state`, `context` and `application_id` freely; `save_chat` writes them back
    (nothing when they are unchanged).
    """

    chat_id: int
    applicant_id: int
    telegram_user_id: int
    locale: str | None
    state: str
    context: dict[str, Any]
    application_id: int | None
    _stored: tuple[str, dict[str, Any], int | None] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.mark_saved()

    @property
    def changed(self) -> bool:
        return (self.state, self.context, self.application_id) != self._stored

    def mark_saved(self) -> None:
        # A deep copy: a value changed inside the context must still count as a change.
        self._stored = (self.state, copy.deepcopy(self.context), self.application_id)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def claim_updates(
    session: AsyncSession, *, bot_id: int, update_ids: Sequence[int]
) -> set[int]:
    """Record updates as processed, in one statement; returns those not seen before (the
    others are redeliveries).

    The rows commit with the updates' effects, so an update is applied exactly once even if
    Telegram delivers it again or the process restarts between receiving and confirming it.
    """
    statement = _CLAIM[session.get_bind().dialect.name]
    rows = [{"bot_id": bot_id, "update_id": update_id} for update_id in update_ids]
    return set((await session.scalars(statement, rows)).all())


async def open_chat(session: AsyncSession, *, telegram_user_id: int, chat_id: int) -> Chat:
    """The chat's conversation and applicant, created on first contact, locked for this update.

    On PostgreSQL the conversation row is locked `FOR UPDATE`, which keeps one chat's updates
    in order across several bot processes (design §5); SQLite's write lock already does.
    A known chat costs one SELECT; the inserts run only on first contact.
    """
    return (await open_chats(session, {chat_id: telegram_user_id}))[chat_id]


async def open_chats(session: AsyncSession, senders: dict[int, int]) -> dict[int, Chat]:
    """`open_chat` for several chats at once ({chat id: Telegram user id}), known chats in
    one SELECT."""
    query = _CHATS_LOCKED if _is_postgres(session) else _CHATS
    found = (await session.execute(query, {"chat_ids": sorted(senders)})).all()
    opened: dict[int, Chat] = {}
    for row in found:
        if row.telegram_user_id != senders[row.chat_id]:
            continue
        if row.blocked_bot:
            await session.execute(_UNBLOCK, {"row_id": row.applicant_id})
        opened[row.chat_id] = _chat(row, row)
    for chat_id, telegram_user_id in senders.items():
        if chat_id not in opened:
            opened[chat_id] = await _first_contact(
                session, telegram_user_id=telegram_user_id, chat_id=chat_id
            )
    return opened


async def _first_contact(session: AsyncSession, *, telegram_user_id: int, chat_id: int) -> Chat:
    """Create what is missing, race-free: two processes may meet the same new chat at once."""
    insert = pg_insert if _is_postgres(session) else sqlite_insert
    await session.execute(
        insert(_APPLICANTS)
        .values(telegram_user_id=telegram_user_id, chat_id=chat_id, blocked_bot=False)
        .on_conflict_do_nothing(index_elements=["telegram_user_id"])
    )
    applicant = (await session.execute(_APPLICANT, {"telegram_user_id": telegram_user_id})).one()
    await session.execute(
        _MOVE_APPLICANT, {"row_id": applicant.applicant_id, "new_chat_id": chat_id}
    )
    await session.execute(
        insert(_CONVERSATIONS)
        .values(
            chat_id=chat_id, applicant_id=applicant.applicant_id, state=NEW_CONVERSATION, context={}
        )
        .on_conflict_do_nothing(index_elements=["chat_id"])
    )
    query = _CONVERSATION_LOCKED if _is_postgres(session) else _CONVERSATION
    conversation = (await session.execute(query, {"chat_id": chat_id})).one()
    return _chat(conversation, applicant)


def _chat(conversation: Any, applicant: Any) -> Chat:
    return Chat(
        chat_id=conversation.chat_id,
        applicant_id=applicant.applicant_id,
        telegram_user_id=applicant.telegram_user_id,
        locale=applicant.locale,
        state=conversation.state,
        context=dict(conversation.context or {}),
        application_id=conversation.application_id,
    )


async def save_chat(session: AsyncSession, chat: Chat, *, now: datetime) -> None:
    """Write the chat's state, context and draft link back, if any of them changed."""
    await save_chats(session, [chat], now=now)


async def save_chats(session: AsyncSession, chats: Sequence[Chat], *, now: datetime) -> None:
    """`save_chat` for several chats, in one statement (executemany)."""
    changed = [chat for chat in chats if chat.changed]
    if not changed:
        return
    rows = [
        {
            "row_chat_id": chat.chat_id,
            "new_state": chat.state,
            "new_context": chat.context,
            "new_application_id": chat.application_id,
            "now": now,
        }
        for chat in changed
    ]
    await session.execute(_SAVE, rows)
    for chat in changed:
        chat.mark_saved()


async def set_locale(session: AsyncSession, chat: Chat, locale: str) -> None:
    """Store the applicant's language choice."""
    await session.execute(_SET_LOCALE, {"row_id": chat.applicant_id, "new_locale": locale})
    chat.locale = locale
