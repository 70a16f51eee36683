"""The emulator speaks the Bot API like Telegram: update offsets, webhooks, commands, errors,
limits and fault switches, seen through a bare PTB Bot and through raw HTTP."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bot.sandbox import BotApiEmulator, RateLimits
from tests.sandbox_helpers import sandbox_bot, wait_until


@pytest.fixture
async def bot(emulator: BotApiEmulator) -> AsyncIterator[Bot]:
    async with sandbox_bot(emulator) as started:
        yield started


async def raw_call(
    emulator: BotApiEmulator, method: str, token: str | None = None, **body: Any
) -> tuple[int, dict[str, Any]]:
    url = f"{emulator.url}/bot{token or emulator.token}/{method}"
    async with aiohttp.ClientSession() as session, session.post(url, json=body) as response:
        return response.status, await response.json()


# --- updates -----------------------------------------------------------------------------


async def test_confirmed_updates_are_not_returned_again(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(7)
    sent = [await user.send_text(f"m{n}") for n in range(3)]

    first = await bot.get_updates(timeout=0)
    partly_confirmed = await bot.get_updates(offset=sent[1], timeout=0)
    all_confirmed = await bot.get_updates(offset=sent[2] + 1, timeout=0)
    later = await bot.get_updates(timeout=0)

    assert [u.update_id for u in first] == sent
    assert [u.message.text for u in first if u.message] == ["m0", "m1", "m2"]
    assert [u.update_id for u in partly_confirmed] == sent[1:]
    assert all_confirmed == () and later == ()


async def test_negative_offset_keeps_only_the_last_updates(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    sent = [await user.send_text(f"m{n}") for n in range(4)]

    last_two = await bot.get_updates(offset=-2, timeout=0)
    remaining = await bot.get_updates(timeout=0)

    assert [u.update_id for u in last_two] == sent[2:]
    assert [u.update_id for u in remaining] == sent[2:]


async def test_limit_and_allowed_updates_filter_what_is_handed_out(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    for n in range(3):
        await user.send_text(f"m{n}")
    await bot.send_message(7, "pick", reply_markup=_one_button("ok", "ok"))
    question = user.history[-1]
    pressed = await user.press_on(question.message_id, "ok")

    two = await bot.get_updates(limit=2, timeout=0)
    only_callbacks = await bot.get_updates(allowed_updates=["callback_query"], timeout=0)

    assert len(two) == 2
    assert [u.update_id for u in only_callbacks] == [pressed]
    assert only_callbacks[0].callback_query is not None
    assert only_callbacks[0].callback_query.data == "ok"


async def test_a_long_poll_returns_as_soon_as_an_update_arrives(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    poll = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await asyncio.sleep(0)

    update_id = await user.send_text("wake up")
    updates = await asyncio.wait_for(poll, timeout=10)

    assert [u.update_id for u in updates] == [update_id]


async def test_a_second_long_poll_ends_the_first_with_conflict(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    first = asyncio.create_task(bot.get_updates(timeout=30, read_timeout=40))
    await wait_until(lambda: "getUpdates" in emulator.calls)

    async with sandbox_bot(emulator) as other_instance:
        second = await other_instance.get_updates(timeout=0)

    with pytest.raises(Conflict, match="terminated by other getUpdates request"):
        await asyncio.wait_for(first, timeout=10)
    assert second == ()


async def test_identical_bytes_share_a_file_unique_id_but_not_a_file_id(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    await user.send_document(b"%PDF-same", file_name="a.pdf")
    await user.send_document(b"%PDF-same", file_name="b.pdf")
    await user.send_document(b"%PDF-other", file_name="c.pdf")

    documents = [u.message.document for u in await bot.get_updates(timeout=0) if u.message]

    assert all(documents)
    unique = [d.file_unique_id for d in documents if d]
    assert unique[0] == unique[1] != unique[2]
    assert documents[0] and documents[1] and documents[0].file_id != documents[1].file_id


async def test_stickers_voice_and_locations_arrive_as_telegram_shapes(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    await user.send_sticker()
    await user.send_voice()
    await user.send_location(31.23, 121.47)

    messages = [u.message for u in await bot.get_updates(timeout=0) if u.message]

    assert messages[0].sticker is not None and messages[0].sticker.emoji == "👍"
    assert messages[1].voice is not None and messages[1].voice.mime_type == "audio/ogg"
    assert messages[2].location is not None and messages[2].location.latitude == 31.23


async def test_blocking_the_bot_makes_sends_fail_with_forbidden(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    await user.block_bot()

    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(7, "reminder")
    updates = await bot.get_updates(timeout=0)

    member = updates[-1].my_chat_member
    assert member is not None and member.new_chat_member.status == "kicked"


async def test_sending_to_an_unknown_chat_is_a_bad_request(bot: Bot) -> None:
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(999, "hello")


# --- messages ----------------------------------------------------------------------------


async def test_html_is_stored_as_text_with_utf16_entities(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)

    sent = await bot.send_message(
        7,
        "😀 <b>粗体</b> &lt;tag&gt; <a href='https://example.com'>link</a>",
        parse_mode=ParseMode.HTML,
    )
    seen = await user.next_message()

    assert sent.text == "😀 粗体 <tag> link"
    assert [(e.type, e.offset, e.length) for e in sent.entities] == [
        ("bold", 3, 2),
        ("text_link", 12, 4),
    ]
    assert sent.entities[1].url == "https://example.com"
    assert seen.text == sent.text
    assert seen.raw_text is not None and seen.raw_text.startswith("😀 <b>")


async def test_editing_without_change_is_refused_as_not_modified(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.user(7)
    markup = _one_button("ok", "ok")
    sent = await bot.send_message(7, "same", reply_markup=markup)

    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_text(
            "same", chat_id=7, message_id=sent.message_id, reply_markup=markup
        )
    with pytest.raises(BadRequest, match="Message is not modified"):
        await bot.edit_message_reply_markup(
            chat_id=7, message_id=sent.message_id, reply_markup=markup
        )
    cleared = await bot.edit_message_reply_markup(chat_id=7, message_id=sent.message_id)

    assert isinstance(cleared, object) and not getattr(cleared, "reply_markup", None)


async def test_editing_a_missing_message_is_a_bad_request(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.user(7)

    with pytest.raises(BadRequest, match="Message to edit not found"):
        await bot.edit_message_text("new", chat_id=7, message_id=404)


async def test_deleted_messages_disappear_from_the_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(7)
    sent = await bot.send_message(7, "temporary")

    assert await bot.delete_message(7, sent.message_id)
    with pytest.raises(BadRequest, match="Message to delete not found"):
        await bot.delete_message(7, sent.message_id)
    assert user.message(sent.message_id) is None


async def test_callback_answers_need_a_real_pending_query(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    user = emulator.user(7)
    sent = await bot.send_message(7, "pick", reply_markup=_one_button("ok", "ok"))
    await user.press_on(sent.message_id, "ok")
    query = (await bot.get_updates(timeout=0))[-1].callback_query
    assert query is not None

    with pytest.raises(BadRequest, match="Message_too_long"):
        await bot.answer_callback_query(query.id, text="x" * 201)
    assert await bot.answer_callback_query(query.id, text="done", show_alert=True)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query(query.id)
    with pytest.raises(BadRequest, match="Query is too old"):
        await bot.answer_callback_query("made-up")
    assert user.last_callback_answer is not None
    assert user.last_callback_answer.show_alert


async def test_the_bot_can_send_documents_and_photos(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(7)
    png = _tiny_png()

    document = await bot.send_document(
        7, b"report", filename="report.txt", caption="<i>r</i>", parse_mode=ParseMode.HTML
    )
    photo = await bot.send_photo(7, png)
    with pytest.raises(BadRequest, match="Image_process_failed"):
        await bot.send_photo(7, b"not an image")
    assert document.document is not None
    resent = await bot.send_document(7, document.document.file_id)

    assert document.caption == "r"
    assert photo.photo[-1].width == 2 and photo.photo[-1].height == 1
    assert [m.document for m in user.history[:1]] == [b"report"]
    assert user.history[1].photo == png
    assert resent.document is not None and resent.document.file_id == document.document.file_id


async def test_chat_actions_are_recorded(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(7)

    assert await bot.send_chat_action(7, "typing")
    with pytest.raises(BadRequest):
        await bot.send_chat_action(7, "dancing")
    assert user.last_chat_action == "typing"


# --- commands, webhook, auth -------------------------------------------------------------


async def test_command_lists_are_kept_per_scope_and_language(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    chinese = [BotCommand("start", "开始申请"), BotCommand("status", "查看进度")]
    english = [BotCommand("start", "Start an application")]
    await bot.set_my_commands(english)
    await bot.set_my_commands(chinese, language_code="zh")
    await bot.set_my_commands([BotCommand("help", "Help")], scope=BotCommandScopeChat(7))

    zh = await bot.get_my_commands(language_code="zh")
    default = await bot.get_my_commands()
    chat = await bot.get_my_commands(scope=BotCommandScopeChat(7))
    with pytest.raises(BadRequest, match="Invalid language code"):
        await bot.set_my_commands(chinese, language_code="zh-hans")
    await bot.delete_my_commands(language_code="zh")

    assert [(c.command, c.description) for c in zh] == [
        ("start", "开始申请"),
        ("status", "查看进度"),
    ]
    assert [c.command for c in default] == ["start"]
    assert [c.command for c in chat] == ["help"]
    assert emulator.commands(language_code="zh") == []
    assert emulator.commands() == [{"command": "start", "description": "Start an application"}]


async def test_a_webhook_gets_updates_with_the_secret_header_and_blocks_polling(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    received: asyncio.Queue[tuple[str | None, dict[str, Any]]] = asyncio.Queue()

    async def receive(request: web.Request) -> web.Response:
        await received.put(
            (request.headers.get("X-Telegram-Bot-Api-Secret-Token"), await request.json())
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="s3cret-token")
        user = emulator.user(7)
        update_id = await user.send_text("via webhook")
        secret, update = await asyncio.wait_for(received.get(), timeout=10)
        info = await bot.get_webhook_info()
        with pytest.raises(Conflict, match="can't use getUpdates method while webhook is active"):
            await bot.get_updates(timeout=0)
        await bot.delete_webhook()
        polled_update = await user.send_text("via polling")
        polled = await bot.get_updates(timeout=0)
    finally:
        await runner.cleanup()

    assert secret == "s3cret-token"
    assert update["update_id"] == update_id
    assert update["message"]["text"] == "via webhook"
    assert info.url == f"http://127.0.0.1:{port}/hook"
    assert [u.update_id for u in polled] == [polled_update]


async def test_a_wrong_token_is_unauthorized_and_a_malformed_one_not_found(
    emulator: BotApiEmulator,
) -> None:
    with pytest.raises(InvalidToken):
        async with sandbox_bot(emulator, token="123:WRONG"):
            pass

    wrong = await raw_call(emulator, "getMe", token="123:WRONG")
    malformed = await raw_call(emulator, "getMe", token="nonsense")

    assert wrong == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert malformed == (404, {"ok": False, "error_code": 404, "description": "Not Found"})


async def test_unknown_methods_get_telegrams_404(emulator: BotApiEmulator) -> None:
    assert await raw_call(emulator, "launchRocket") == (
        404,
        {"ok": False, "error_code": 404, "description": "Not Found"},
    )
    assert emulator.calls == ["launchRocket"]


async def test_json_bodies_and_case_insensitive_method_names_work(
    emulator: BotApiEmulator,
) -> None:
    emulator.user(7)

    status, body = await raw_call(emulator, "sendmessage", chat_id=7, text="json")
    empty_status, empty = await raw_call(emulator, "sendMessage", chat_id=7, text=" ")
    closed = await raw_call(emulator, "close")
    logged_out = await raw_call(emulator, "logOut")

    assert status == 200 and body["ok"] and body["result"]["text"] == "json"
    assert (empty_status, empty["description"]) == (400, "Bad Request: message text is empty")
    assert closed == logged_out == (200, {"ok": True, "result": True})
    assert emulator.calls == ["sendMessage", "sendMessage", "close", "logOut"]


async def test_files_download_only_with_the_right_token(emulator: BotApiEmulator, bot: Bot) -> None:
    user = emulator.user(7)
    await user.send_document(b"secret bytes", file_name="x.pdf")
    document = (await bot.get_updates(timeout=0))[0].message.document  # type: ignore[union-attr]
    assert document is not None
    file = await bot.get_file(document.file_id)
    path = file.file_path.rsplit("/", 1)[-1] if file.file_path else ""

    downloaded = await file.download_as_bytearray()
    async with aiohttp.ClientSession() as session:
        wrong = await session.get(f"{emulator.url}/file/bot123:WRONG/documents/{path}")
        with pytest.raises(BadRequest, match="Invalid file_id"):
            await bot.get_file("nope")

    assert bytes(downloaded) == b"secret bytes"
    assert wrong.status == 401


# --- limits and faults -------------------------------------------------------------------


async def test_per_chat_rate_limit_answers_429_with_retry_after(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.user(7)
    emulator.user(8)
    emulator.configure_rate_limits(RateLimits(per_chat_per_second=1))

    await bot.send_message(7, "first")
    with pytest.raises(RetryAfter) as refused:
        await bot.send_message(7, "second")
    await bot.send_message(8, "other chat is fine")

    assert refused.value.retry_after == dt.timedelta(seconds=1)
    assert emulator.stats.too_many_requests == 1
    assert emulator.stats.too_many_requests_by_chat == {7: 1}


async def test_global_rate_limit_counts_every_chat(emulator: BotApiEmulator, bot: Bot) -> None:
    for chat_id in range(1, 5):
        emulator.user(chat_id)
    emulator.configure_rate_limits(RateLimits(global_per_second=3))

    for chat_id in range(1, 4):
        await bot.send_message(chat_id, "ok")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "one too many")

    assert emulator.stats.messages_sent == 3


async def test_server_errors_and_slow_answers_surface_as_network_errors(
    emulator: BotApiEmulator, bot: Bot
) -> None:
    emulator.user(7)
    emulator.faults.server_error_next(1, status=502, methods=["sendMessage"])
    with pytest.raises(NetworkError, match="Bad Gateway"):
        await bot.send_message(7, "first try")

    emulator.faults.slow(0.5)
    with pytest.raises(TimedOut):
        await bot.send_message(7, "too slow", read_timeout=0.05)
    emulator.faults.clear()
    delivered = await bot.send_message(7, "now it works")

    assert delivered.text == "now it works"
    assert emulator.stats.server_errors == 1


async def test_forced_429s_are_used_up_in_order(emulator: BotApiEmulator, bot: Bot) -> None:
    emulator.user(7)
    emulator.faults.rate_limit_next(2, retry_after=3)

    outcomes = []
    for _ in range(3):
        try:
            await bot.send_message(7, "hi")
            outcomes.append("sent")
        except RetryAfter as error:
            outcomes.append(f"429/{error.retry_after}")

    assert outcomes == ["429/0:00:03", "429/0:00:03", "sent"]


def _one_button(label: str, data: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)]])


def _tiny_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2, 1)).save(buffer, format="PNG")
    return buffer.getvalue()
