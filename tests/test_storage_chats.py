"""Per-chat records of the bot: claims, chats loaded and saved several at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from storage.chats import Chat, claim_updates, open_chats, save_chats
from storage.database import Database

NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def test_a_value_changed_inside_the_context_counts_as_a_change() -> None:
    chat = Chat(1, 2, 3, "en", "documents", {"checklist": {"doc_type": "licence"}}, 7)
    assert not chat.changed
    chat.context["checklist"]["doc_type"] = "id_card"
    assert chat.changed
    chat.mark_saved()
    assert not chat.changed


async def test_claims_name_only_updates_not_seen_before(database: Database) -> None:
    async with database.unit_of_work() as session:
        assert await claim_updates(session, bot_id=1, update_ids=[10, 11, 12]) == {10, 11, 12}
    async with database.unit_of_work() as session:
        assert await claim_updates(session, bot_id=1, update_ids=[11, 13, 12, 14]) == {13, 14}
        assert await claim_updates(session, bot_id=2, update_ids=[11]) == {11}


async def test_chats_open_together_new_and_known_and_save_only_what_changed(
    database: Database,
) -> None:
    async with database.unit_of_work() as session:
        first = await open_chats(session, {501: 501, 502: 502})
        assert {chat.state for chat in first.values()} == {"new"}
        first[501].state, first[501].context = "language", {"asked": 1}
        await save_chats(session, list(first.values()), now=NOW)
    async with database.unit_of_work() as session:
        second = await open_chats(session, {501: 501, 502: 502, 503: 503})
    assert (second[501].state, second[501].context) == ("language", {"asked": 1})
    assert second[502].state == "new" and second[503].state == "new"
    assert len({chat.applicant_id for chat in second.values()}) == 3
