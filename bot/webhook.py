"""Webhook mode: Telegram POSTs updates here; the secret-token header is required (§4.9)."""

from __future__ import annotations

import hmac
import json
import logging

from aiohttp import web
from telegram import Update

from bot.context import LoanBotApplication

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
WEBHOOK_PATH = "/telegram/webhook"
MAX_UPDATE_BYTES = 1024 * 1024
APPLICATION = web.AppKey("bot_application", LoanBotApplication)
SECRET = web.AppKey("webhook_secret", str)


def create_webhook_app(application: LoanBotApplication, secret: str) -> web.Application:
    """A tiny aiohttp app that accepts updates only with the right secret token."""
    if len(secret) < 16:
        raise ValueError("the webhook secret must be at least 16 characters")
    app = web.Application(client_max_size=MAX_UPDATE_BYTES)
    app[APPLICATION] = application
    app[SECRET] = secret
    app.router.add_post(WEBHOOK_PATH, _receive)
    return app


async def _receive(request: web.Request) -> web.Response:
    """Check the secret before reading the body, then queue the update for the bot."""
    given = request.headers.get(SECRET_HEADER, "")
    if not hmac.compare_digest(given.encode(), request.app[SECRET].encode()):
        log.warning("webhook call without the right secret token from %s", request.remote)
        raise web.HTTPUnauthorized(text="missing or wrong secret token")
    try:
        payload = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text="the body is not an update") from None
    application = request.app[APPLICATION]
    if not isinstance(payload, dict) or "update_id" not in payload:
        raise web.HTTPBadRequest(text="the body is not an update")
    update = Update.de_json(payload, application.bot)
    await application.update_queue.put(update)
    return web.Response(text="ok")
