"""The loopback Telegram Bot API emulator: an aiohttp server the real bot talks HTTP to.

The bot calls ``<url>/bot<token>/<method>`` and downloads from
``<url>/file/bot<token>/<file_path>``, exactly as with ``TELEGRAM_API_URL``; tests and the
web chat page act as users through :meth:`BotApiEmulator.user`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import aiohttp
from aiohttp import web

from bot.sandbox import chat_page
from bot.sandbox.errors import ApiError, not_found, unauthorized
from bot.sandbox.faults import Faults
from bot.sandbox.methods import METHODS, commands_key
from bot.sandbox.params import Params
from bot.sandbox.rate_limits import RateLimits
from bot.sandbox.scripted_user import ScriptedUser
from bot.sandbox.state import BotProfile, PrivateChat, Stats, UserProfile, World, now

log = logging.getLogger(__name__)

_WELL_FORMED_TOKEN = re.compile(r"[0-9]+:[A-Za-z0-9_-]+")
MAX_REQUEST_BYTES = 60 * 1024 * 1024
WEBHOOK_RETRY_SECONDS = 0.5


class BotApiEmulator:
    """A Telegram Bot API server for one bot, with scripted users and fault switches."""

    def __init__(
        self,
        token: str = "123:ABC",  # noqa: S107 - a sandbox-only token, valid nowhere else
        bot_username: str = "sme_loan_bot",
        bot_name: str = "SME Loan Assistant",
        rate_limits: RateLimits | None = None,
    ) -> None:
        prefix = token.split(":", 1)[0]
        profile = BotProfile(
            bot_id=int(prefix) if prefix.isdigit() else 1,
            username=bot_username,
            first_name=bot_name,
        )
        self.world = World(token, profile)
        self.world.rate_limiter.configure(rate_limits or RateLimits())
        self.faults = Faults()
        self.url = ""
        self._users: dict[int, ScriptedUser] = {}
        self._runner: web.AppRunner | None = None
        self._webhook_task: asyncio.Task[None] | None = None

    # --- what tests read -------------------------------------------------------------------

    @property
    def token(self) -> str:
        return self.world.token

    @property
    def bot_username(self) -> str:
        return self.world.bot.username

    @property
    def calls(self) -> list[str]:
        """Bot API method names the bot called, in order (canonical spelling)."""
        return self.world.calls

    @property
    def stats(self) -> Stats:
        return self.world.stats

    @property
    def chat_url(self) -> str:
        """The web chat page where a person plays the applicant."""
        return f"{self.url}/chat"

    @property
    def webhook_url(self) -> str | None:
        return self.world.webhook.url if self.world.webhook else None

    def configure_rate_limits(self, limits: RateLimits) -> None:
        """Enforce Telegram's sending limits from now on (off by default)."""
        self.world.rate_limiter.configure(limits)

    def commands(
        self, scope: dict[str, Any] | None = None, language_code: str = ""
    ) -> list[dict[str, str]]:
        """The command list the bot set for this scope and language."""
        return list(self.world.commands.get(commands_key(scope, language_code), []))

    # --- acting as Telegram --------------------------------------------------------------

    def user(
        self,
        user_id: int,
        first_name: str = "Li",
        language_code: str = "zh-hans",
        *,
        last_name: str = "",
        username: str = "",
        phone_number: str = "+8613800138000",
    ) -> ScriptedUser:
        """The user with this id (created on first use); their private chat has the same id."""
        existing = self._users.get(user_id)
        if existing is not None:
            return existing
        profile = UserProfile(
            user_id=user_id,
            first_name=first_name,
            language_code=language_code,
            last_name=last_name,
            username=username,
            phone_number=phone_number,
        )
        chat = self.world.chats[user_id] = PrivateChat(profile)
        user = self._users[user_id] = ScriptedUser(self.world, chat)
        return user

    def known_user(self, user_id: int) -> ScriptedUser | None:
        return self._users.get(user_id)

    async def redeliver(self, update_id: int) -> None:
        """Deliver an already confirmed update again, with the same update_id."""
        self.world.updates.redeliver(update_id)

    # --- server lifecycle ----------------------------------------------------------------

    def build_app(self) -> web.Application:
        """The aiohttp application: Bot API, file downloads and the web chat page."""
        app = web.Application(client_max_size=MAX_REQUEST_BYTES)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{file_path:.+}", self._handle_download)
        chat_page.add_routes(app, self)
        return app

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Listen on host:port (0 picks a free port) and return the root URL."""
        self.world.closing = False
        self._runner = web.AppRunner(self.build_app(), access_log=None, shutdown_timeout=2.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown_host}:{bound_port}"
        self._webhook_task = asyncio.create_task(self._deliver_webhooks())
        return self.url

    async def stop(self) -> None:
        """Answer every waiting long poll and close the server."""
        self.world.closing = True
        self.world.updates.interrupt()
        for chat in self.world.chats.values():
            chat.wake()
        if self._webhook_task is not None:
            self._webhook_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._webhook_task
            self._webhook_task = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> BotApiEmulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    # --- HTTP handlers -------------------------------------------------------------------

    async def _handle_method(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        entry = METHODS.get(name.lower())
        self.world.calls.append(entry[0] if entry else name)
        try:
            self._check_token(request.match_info["token"])
            if entry is None:
                raise not_found()
            delay = self.faults.delay_for(name.lower())
            if delay > 0:
                await asyncio.sleep(delay)
            forced = self.faults.take(name.lower())
            if forced is not None:
                raise forced
            params = await Params.from_request(request)
            result = await entry[1](self.world, params)
        except ApiError as error:
            if error.status == 429:
                self.world.stats.too_many_requests += 1
            elif error.status >= 500:
                self.world.stats.server_errors += 1
            return web.json_response(error.payload(), status=error.status)
        return web.json_response({"ok": True, "result": result})

    async def _handle_download(self, request: web.Request) -> web.Response:
        try:
            self._check_token(request.match_info["token"])
        except ApiError as error:
            return web.json_response(error.payload(), status=error.status)
        stored = self.world.files.by_path(request.match_info["file_path"])
        if stored is None:
            return web.json_response(not_found().payload(), status=404)
        return web.Response(body=stored.content(), content_type="application/octet-stream")

    def _check_token(self, token: str) -> None:
        if token == self.world.token:
            return
        raise unauthorized() if _WELL_FORMED_TOKEN.fullmatch(token) else not_found()

    # --- webhook delivery ----------------------------------------------------------------

    async def _deliver_webhooks(self) -> None:
        """While a webhook is set, POST pending updates to it one at a time, in order."""
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while not self.world.closing:
                webhook = self.world.webhook
                batch = self.world.updates.take(1) if webhook is not None else []
                if webhook is None or not batch:
                    await self.world.updates.wait(1.0)
                    continue
                update = batch[0]
                headers = {}
                if webhook.secret_token:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = webhook.secret_token
                try:
                    async with session.post(webhook.url, json=update, headers=headers) as reply:
                        delivered = 200 <= reply.status < 300
                        problem = f"Wrong response from the webhook: {reply.status} {reply.reason}"
                except (aiohttp.ClientError, TimeoutError) as error:
                    delivered = False
                    problem = f"Connection failed: {type(error).__name__}"
                if delivered:
                    self.world.updates.acknowledge(update["update_id"])
                    continue
                webhook.last_error_date = now()
                webhook.last_error_message = problem
                log.info("webhook delivery failed: %s", problem)
                await asyncio.sleep(WEBHOOK_RETRY_SECONDS)
