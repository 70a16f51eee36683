"""Group commit of chat turns: together when they arrive together, apart when one fails."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, select

import bot.pipeline
from bot.batching import TurnBatcher
from bot.sandbox import BotApiEmulator, ScriptedUser
from conversations.events import Event, Text
from conversations.flow import handle
from conversations.snapshot import Outcome, Snapshot
from storage.database import Database
from storage.models import Application, ProcessedUpdate
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of
from tests.test_bot_application_flow import button_starting, press

# --- the batcher alone ------------------------------------------------------------------------


class Recorder:
    """apply_batch / apply_alone that record their calls; requests are (chat, text)."""

    def __init__(self, failing: set[str] | None = None, batch_fails: bool = False) -> None:
        self.batches: list[list[tuple[str, str]]] = []
        self.alone: list[tuple[str, str]] = []
        self._failing = failing or set()
        self._batch_fails = batch_fails

    async def apply_batch(self, requests: Sequence[tuple[str, str]]) -> list[str]:
        await asyncio.sleep(0)
        self.batches.append(list(requests))
        if self._batch_fails:
            raise RuntimeError("the batch failed")
        return [f"done {text}" for _, text in requests]

    async def apply_alone(self, request: tuple[str, str]) -> str:
        self.alone.append(request)
        if request[1] in self._failing:
            raise ValueError(request[1])
        return f"alone {request[1]}"

    def batcher(self) -> TurnBatcher[tuple[str, str], str]:
        return TurnBatcher(self.apply_batch, self.apply_alone, key=lambda request: request[0])


async def test_turns_that_arrive_together_go_in_one_batch() -> None:
    recorder = Recorder()
    batcher = recorder.batcher()
    requests = [(f"chat{number}", f"hello {number}") for number in range(5)]
    results = await asyncio.gather(*(batcher.submit(request) for request in requests))
    assert results == [f"done hello {number}" for number in range(5)]
    assert recorder.batches == [requests]
    assert recorder.alone == []


async def test_a_batch_takes_one_turn_per_chat_and_keeps_each_chats_order() -> None:
    recorder = Recorder()
    batcher = recorder.batcher()
    requests = [("a", "first"), ("a", "second"), ("b", "only"), ("a", "third")]
    results = await asyncio.gather(*(batcher.submit(request) for request in requests))
    assert results == ["done first", "done second", "done only", "done third"]
    assert recorder.batches == [
        [("a", "first"), ("b", "only")],
        [("a", "second")],
        [("a", "third")],
    ]


async def test_a_failed_batch_is_applied_again_one_turn_at_a_time() -> None:
    recorder = Recorder(failing={"bad"}, batch_fails=True)
    batcher = recorder.batcher()
    requests = [("a", "good"), ("b", "bad"), ("c", "fine")]
    results = await asyncio.gather(
        *(batcher.submit(request) for request in requests), return_exceptions=True
    )
    assert results[0] == "alone good"
    assert isinstance(results[1], ValueError)
    assert results[2] == "alone fine"
    assert recorder.alone == requests


async def test_a_lone_turn_that_fails_fails_once() -> None:
    recorder = Recorder(batch_fails=True)
    batcher = recorder.batcher()
    with pytest.raises(RuntimeError, match="the batch failed"):
        await batcher.submit(("a", "x"))
    assert recorder.alone == []


# --- through the real bot -------------------------------------------------------------------


async def _at_company_question(bot: LoanBotHarness, user: ScriptedUser) -> None:
    answer = await bot.say(user, lambda: user.command("/start"))
    await press(bot, user, button_starting(answer, "✓ English"))
    answer = await press(bot, user, "I agree")
    assert "registered name" in text_of(answer)


async def _queued_while_stopped(
    emulator: BotApiEmulator, database: Database, data_dir: Path, names: dict[int, str]
) -> tuple[dict[int, ScriptedUser], dict[int, int]]:
    """Users at the company question; then, with the bot stopped, each sends a name, so the
    restarted bot receives them all in one getUpdates."""
    users = {user_id: emulator.user(user_id, language_code="en") for user_id in names}
    async with running_loanbot(emulator, database, data_dir) as bot:
        for user in users.values():
            await _at_company_question(bot, user)
    sent = {user_id: await users[user_id].send_text(name) for user_id, name in names.items()}
    return users, sent


def _answers_since(user: ScriptedUser, seen: int) -> str:
    return text_of(user.history[seen:])


async def _company_names(database: Database) -> set[str | None]:
    async with database.reading() as session:
        return set((await session.scalars(select(Application.company_name))).all())


async def _processed(database: Database, update_ids: list[int]) -> set[int]:
    async with database.reading() as session:
        query = select(ProcessedUpdate.update_id).where(ProcessedUpdate.update_id.in_(update_ids))
        return set((await session.scalars(query)).all())


async def test_updates_that_arrive_together_are_claimed_and_saved_together(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    names = {4100 + number: f"Together {number} Ltd" for number in range(5)}
    users, sent = await _queued_while_stopped(emulator, database, data_dir, names)
    seen = {user_id: len(user.history) for user_id, user in users.items()}
    claims: list[Any] = []

    def count_claims(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PROCESSED_UPDATES"):
            claims.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", count_claims)
    try:
        async with running_loanbot(emulator, database, data_dir) as bot:
            for update_id in sent.values():
                await bot.wait_processed(update_id)
            for user_id, user in users.items():
                assert "credit code" in _answers_since(user, seen[user_id])
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count_claims)
    assert len(claims) < len(sent), "five updates that arrived together were not batched"
    assert await _company_names(database) == set(names.values())
    assert await _processed(database, list(sent.values())) == set(sent.values())


async def test_an_update_that_fails_in_a_batch_fails_alone(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    names = {4200: "Good One Ltd", 4201: "boom", 4202: "Good Two Ltd"}
    users, sent = await _queued_while_stopped(emulator, database, data_dir, names)
    seen = {user_id: len(user.history) for user_id, user in users.items()}

    def exploding(snapshot: Snapshot, incoming: Event) -> Outcome:
        if incoming == Text("boom"):
            raise RuntimeError("a bug in one turn")
        return handle(snapshot, incoming)

    monkeypatch.setattr(bot.pipeline, "handle", exploding)
    async with running_loanbot(emulator, database, data_dir) as loanbot:
        for update_id in sent.values():
            await loanbot.wait_processed(update_id)
        assert "credit code" in _answers_since(users[4200], seen[4200])
        assert "credit code" in _answers_since(users[4202], seen[4202])
        assert users[4201].history[seen[4201] :] == []
    assert await _company_names(database) == {"Good One Ltd", "Good Two Ltd", None}
    assert await _processed(database, list(sent.values())) == {sent[4200], sent[4202]}


async def test_a_turn_whose_caller_went_away_is_still_applied() -> None:
    recorder = Recorder()
    batcher = recorder.batcher()
    leaving = asyncio.create_task(batcher.submit(("a", "sent before leaving")))
    staying = asyncio.create_task(batcher.submit(("b", "stays")))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == "done stays"
    assert recorder.batches == [[("a", "sent before leaving"), ("b", "stays")]]
