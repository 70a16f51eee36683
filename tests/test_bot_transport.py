"""The aiohttp transport under PTB: real requests to the emulator and to bare aiohttp servers
that misbehave (slow, gone, cut off), mapped onto PTB's errors without leaking the token."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, TimedOut
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.sandbox import BotApiEmulator
from bot.transport import AiohttpRequest

TOKEN = "4242:SECRET-TOKEN-VALUE"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@asynccontextmanager
async def serving(handler: Handler) -> AsyncIterator[str]:
    """A one-route aiohttp server on a free loopback port; yields its base URL."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def transport(**options: float) -> AsyncIterator[AiohttpRequest]:
    request = AiohttpRequest(**options)  # type: ignore[arg-type]
    await request.initialize()
    try:
        yield request
    finally:
        await request.shutdown()


async def test_a_bot_on_the_transport_sends_buttons_and_uploads_to_the_emulator(
    emulator: BotApiEmulator,
) -> None:
    user = emulator.user(501, "Wang", "en")
    await user.send_text("hello")
    bot = Bot(
        emulator.token,
        base_url=f"{emulator.url}/bot",
        base_file_url=f"{emulator.url}/file/bot",
        request=AiohttpRequest(),
        get_updates_request=AiohttpRequest(connection_pool_size=1),
    )
    async with bot:
        updates = await bot.get_updates(timeout=1)
        assert [u.message.text for u in updates if u.message] == ["hello"]
        markup = InlineKeyboardMarkup([[InlineKeyboardButton("是的 ✓", callback_data="yes")]])
        sent = await bot.send_message(
            user.chat_id, "<b>标题</b> & more", "HTML", reply_markup=markup
        )
        assert sent.text == "标题 & more"
        document = await bot.send_document(user.chat_id, b"%PDF-1.7 payload", filename="a.pdf")
        assert document.document is not None
        downloaded = await (await bot.get_file(document.document.file_id)).download_as_bytearray()
    seen = await user.next_message()
    assert seen.text == "标题 & more"
    assert seen.button_labels == ["是的 ✓"]
    assert bytes(downloaded) == b"%PDF-1.7 payload"


async def test_form_fields_and_files_arrive_as_ptb_encodes_them() -> None:
    received: dict[str, object] = {}

    async def capture(request: web.Request) -> web.Response:
        form = await request.post()
        received.update(form)
        received["user-agent"] = request.headers["User-Agent"]
        return web.json_response({"ok": True, "result": True})

    data = RequestData(
        [
            RequestParameter.from_input("chat_id", 7),
            RequestParameter.from_input("reply_markup", {"inline_keyboard": [[{"text": "a"}]]}),
        ]
    )
    async with serving(capture) as url, transport() as request:
        status, body = await request.do_request(f"{url}/bot{TOKEN}/x", "POST", data)
    assert status == 200 and b'"ok": true' in body
    assert received["chat_id"] == "7"
    assert received["reply_markup"] == '{"inline_keyboard": [[{"text": "a"}]]}'
    assert "python-telegram-bot" in str(received["user-agent"])


async def test_a_slow_server_is_a_timeout_not_a_hang() -> None:
    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({"ok": True, "result": True})

    async with serving(slow) as url, transport(read_timeout=0.2) as request:
        with pytest.raises(TimedOut):
            await request.do_request(f"{url}/bot{TOKEN}/getMe", "POST")
        # An explicit per-call timeout wins over the default, as with PTB's own transport.
        with pytest.raises(TimedOut):
            await asyncio.wait_for(
                request.do_request(f"{url}/bot{TOKEN}/getMe", "POST", read_timeout=0.1), 2
            )


async def test_a_refused_or_cut_connection_is_a_network_error_without_the_token() -> None:
    async def cut(request: web.Request) -> web.StreamResponse:
        assert request.transport is not None
        request.transport.close()
        return web.Response()

    async with serving(cut) as url, transport() as request:
        with pytest.raises(NetworkError) as cut_off:
            await request.do_request(f"{url}/bot{TOKEN}/sendMessage", "POST")
        closed_port = url
    async with transport(connect_timeout=1) as request:
        with pytest.raises(NetworkError) as refused:
            await request.do_request(f"{closed_port}/bot{TOKEN}/sendMessage", "POST")
    async with transport() as request:
        # A misconfigured TELEGRAM_API_URL: aiohttp's own message quotes the whole URL.
        with pytest.raises(NetworkError) as misconfigured:
            await request.do_request(f"ftp://127.0.0.1/bot{TOKEN}/sendMessage", "POST")
    assert "NonHttpUrlClientError: ftp://127.0.0.1/<token>/" in str(misconfigured.value)
    for failure in (cut_off, refused, misconfigured):
        assert not isinstance(failure.value, TimedOut)
        shown = "".join(traceback.format_exception(failure.value))
        assert "SECRET-TOKEN-VALUE" not in shown
        assert "aiohttp." in str(failure.value)


async def test_requests_need_an_initialised_transport_and_shutdown_is_repeatable() -> None:
    request = AiohttpRequest()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "POST")
    await request.initialize()
    await request.shutdown()
    await request.shutdown()
    with pytest.raises(RuntimeError, match="not initialized"):
        await request.do_request("http://127.0.0.1:9/x", "POST")
