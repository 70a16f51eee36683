"""One chat's updates run in arrival order; other chats do not wait for it."""

from __future__ import annotations

import asyncio

from telegram import Chat, Message, Update, User

from bot.ordering import PerChatUpdateProcessor


def _update(update_id: int, chat_id: int) -> Update:
    user = User(chat_id, "Li", is_bot=False)
    chat = Chat(chat_id, Chat.PRIVATE)
    return Update(update_id, message=Message(update_id, None, chat, from_user=user, text="x"))  # type: ignore[arg-type]


async def test_per_chat_order_with_other_chats_running_alongside() -> None:
    processor = PerChatUpdateProcessor(max_concurrent_updates=16)
    finished: list[tuple[int, int]] = []
    slow_started = asyncio.Event()
    release_slow = asyncio.Event()

    async def work(update_id: int, chat_id: int) -> None:
        if update_id == 1:
            slow_started.set()
            await release_slow.wait()
        finished.append((chat_id, update_id))

    async with processor:
        tasks = [
            asyncio.create_task(processor.process_update(_update(i, chat), work(i, chat)))
            for i, chat in [(1, 100), (2, 100), (3, 200), (4, 100), (5, 200)]
        ]
        await slow_started.wait()
        await asyncio.wait_for(asyncio.gather(tasks[2], tasks[4]), timeout=5)
        assert finished == [(200, 3), (200, 5)], "chat 200 did not wait for chat 100"
        release_slow.set()
        await asyncio.gather(*tasks)
    assert [u for c, u in finished if c == 100] == [1, 2, 4]
    assert processor.active_chats == 0, "locks of idle chats are released"
