"""The sandbox's web chat page: a person plays the applicant in a browser.

``GET /chat`` serves a small static page (no inline script, strict CSP); the page talks to
JSON endpoints under ``/sandbox/api/`` that drive the same scripted users the tests use, and
long-polls ``/sandbox/api/events`` for what the bot sends. The page renders bot text from the
plain text and Telegram's entities, never as HTML.

The sandbox is for a loopback address: anyone who can reach it may act as any sandbox user.
Cross-site requests are refused by checking the ``Origin`` header.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import web

from bot.sandbox.files import StoredFile, image_size
from bot.sandbox.state import ChatEvent, PrivateChat, StoredMessage

if TYPE_CHECKING:
    from bot.sandbox.emulator import BotApiEmulator
    from bot.sandbox.scripted_user import ScriptedUser

STATIC_DIR = Path(__file__).with_name("static")
_STATIC_FILES = {"chat.js": "text/javascript", "chat.css": "text/css"}
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
_LANGUAGE_CODE = re.compile(r"[a-zA-Z]{2,3}(?:-[a-zA-Z]{2,8})?")
MAX_TEXT_LENGTH = 4096
MAX_NAME_LENGTH = 64
EVENTS_WAIT_SECONDS = 25.0
FIRST_PAGE_USER_ID = 700_000_001


def add_routes(app: web.Application, emulator: BotApiEmulator) -> None:
    """Mount the chat page and its API on the emulator's application."""
    api = _ChatPageApi(emulator)
    app.router.add_get("/chat", api.page)
    app.router.add_get("/sandbox/static/{name}", api.static)
    app.router.add_post("/sandbox/api/session", api.session)
    app.router.add_post("/sandbox/api/send", api.send)
    app.router.add_post("/sandbox/api/press", api.press)
    app.router.add_post("/sandbox/api/contact", api.contact)
    app.router.add_post("/sandbox/api/upload", api.upload)
    app.router.add_get("/sandbox/api/events", api.events)
    app.router.add_get("/sandbox/api/files/{file_id}", api.file)


class _PageError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _secure(response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = PAGE_CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Cache-Control"] = "no-store"
    return response


def _json(body: dict[str, Any], status: int = 200) -> web.StreamResponse:
    return _secure(web.json_response(body, status=status))


class _ChatPageApi:
    """Request handlers; each checks its input and acts through a ScriptedUser."""

    def __init__(self, emulator: BotApiEmulator) -> None:
        self._emulator = emulator
        self._new_ids = itertools.count(FIRST_PAGE_USER_ID)

    async def page(self, request: web.Request) -> web.StreamResponse:
        html = (STATIC_DIR / "chat.html").read_bytes()
        return _secure(web.Response(body=html, content_type="text/html", charset="utf-8"))

    async def static(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name not in _STATIC_FILES:
            raise web.HTTPNotFound()
        body = (STATIC_DIR / name).read_bytes()
        return _secure(web.Response(body=body, content_type=_STATIC_FILES[name], charset="utf-8"))

    async def session(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._session)

    async def send(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._send)

    async def press(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._press)

    async def contact(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._contact)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._upload)

    async def events(self, request: web.Request) -> web.StreamResponse:
        return await self._guarded(request, self._events)

    async def file(self, request: web.Request) -> web.StreamResponse:
        try:
            user = self._user(request.query.get("user_id"))
        except _PageError as error:
            return _json({"error": str(error)}, status=error.status)
        stored = _file_in_chat(
            self._emulator.world.chats[user.chat_id], request.match_info["file_id"]
        )
        if stored is None:
            return _json({"error": "no such file in this chat"}, status=404)
        data = stored.content()
        kind = _image_type(data)
        response = web.Response(body=data, content_type=kind or "application/octet-stream")
        if kind is None:
            name = re.sub(r"[^A-Za-z0-9._-]", "_", stored.file_name or "file")
            response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return _secure(response)

    # --- the actions -----------------------------------------------------------------------

    async def _guarded(
        self, request: web.Request, action: Callable[[web.Request], Awaitable[dict[str, Any]]]
    ) -> web.StreamResponse:
        try:
            _check_origin(request)
            return _json(await action(request))
        except _PageError as error:
            return _json({"error": str(error)}, status=error.status)
        except LookupError as error:
            return _json({"error": str(error)}, status=409)

    async def _session(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        first_name = _text(body.get("first_name"), MAX_NAME_LENGTH).strip() or "Applicant"
        language_code = str(body.get("language_code") or "en")
        if not _LANGUAGE_CODE.fullmatch(language_code):
            raise _PageError(400, "language_code is not a language code")
        phone = str(body.get("phone_number") or "+8613800138000")[:20]
        existing = body.get("user_id")
        user = self._emulator.known_user(existing) if isinstance(existing, int) else None
        if user is None:
            user_id = next(self._new_ids)
            while self._emulator.known_user(user_id) is not None:
                user_id = next(self._new_ids)
            user = self._emulator.user(user_id, first_name, language_code, phone_number=phone)
        profile = self._emulator.world.chats[user.chat_id].user
        profile.first_name = first_name
        profile.language_code = language_code
        profile.phone_number = phone
        bot = self._emulator.world.bot
        return {
            "user_id": user.user_id,
            "first_name": first_name,
            "language_code": language_code,
            "phone_number": phone,
            "bot": {"first_name": bot.first_name, "username": bot.username},
        }

    async def _send(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        user = self._user(body.get("user_id"))
        text = _text(body.get("text"), MAX_TEXT_LENGTH)
        if not text.strip():
            raise _PageError(400, "text is empty")
        return {"update_id": await user.send_text(text)}

    async def _press(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        user = self._user(body.get("user_id"))
        message_id = body.get("message_id")
        data = body.get("callback_data")
        if not isinstance(message_id, int) or not isinstance(data, str):
            raise _PageError(400, "message_id and callback_data are required")
        message = self._emulator.world.chats[user.chat_id].messages.get(message_id)
        markup = message.inline_markup if message is not None else None
        if markup is None or markup.find_callback(data) is None:
            raise _PageError(409, "that button is no longer on the message")
        return {"update_id": await user.press_callback(message_id, data)}

    async def _contact(self, request: web.Request) -> dict[str, Any]:
        body = await _json_body(request)
        user = self._user(body.get("user_id"))
        return {"update_id": await user.share_contact(own=True)}

    async def _upload(self, request: web.Request) -> dict[str, Any]:
        form = await request.post()
        user = self._user(form.get("user_id"))
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            raise _PageError(400, "file is required")
        data = upload.file.read()
        if not data:
            raise _PageError(400, "the file is empty")
        if form.get("kind") == "photo":
            return {"update_id": await user.send_photo(data)}
        name = (upload.filename or "file")[-128:]
        mime = upload.content_type or "application/octet-stream"
        return {"update_id": await user.send_document(data, name, mime)}

    async def _events(self, request: web.Request) -> dict[str, Any]:
        user = self._user(request.query.get("user_id"))
        chat = self._emulator.world.chats[user.chat_id]
        try:
            after = max(int(request.query.get("after", "0")), 0)
            wait = min(max(float(request.query.get("wait", "0")), 0.0), EVENTS_WAIT_SECONDS)
        except ValueError:
            raise _PageError(400, "after and wait must be numbers") from None
        await chat.wait_for_events(after, wait)
        return {
            "events": [_event_json(event) for event in chat.events[after:]],
            "cursor": len(chat.events),
            "reply_keyboard": _keyboard_json(chat),
        }

    def _user(self, raw: object) -> ScriptedUser:
        try:
            user_id = int(str(raw))
        except ValueError:
            raise _PageError(400, "user_id is required") from None
        user = self._emulator.known_user(user_id)
        if user is None:
            raise _PageError(404, "unknown sandbox user; start a new chat")
        return user


def _check_origin(request: web.Request) -> None:
    origin = request.headers.get("Origin")
    if origin is not None and urlsplit(origin).netloc != request.host:
        raise _PageError(403, "cross-site requests are refused")


async def _json_body(request: web.Request) -> dict[str, Any]:
    if request.content_type != "application/json":
        raise _PageError(415, "send JSON")
    try:
        body = await request.json()
    except ValueError:
        raise _PageError(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise _PageError(400, "the body must be a JSON object")
    return body


def _text(value: object, limit: int) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _PageError(400, "text must be a string")
    if len(value) > limit:
        raise _PageError(400, f"text is longer than {limit} characters")
    return value


def _event_json(event: ChatEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"seq": event.seq, "kind": event.kind}
    if event.message is not None:
        body["message"] = _message_json(event.message)
    if event.detail:
        body["detail"] = event.detail
    return body


def _message_json(message: StoredMessage) -> dict[str, Any]:
    content = message.content
    body: dict[str, Any] = {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "date": message.date,
        "text": message.text or "",
        "entities": message.entities,
        "edited": message.edit_date is not None,
        "inline_keyboard": [],
    }
    inline = message.inline_markup
    if inline is not None:
        body["inline_keyboard"] = [
            [
                {"text": button.text, "callback_data": button.callback_data, "url": button.url}
                for button in row
            ]
            for row in inline.inline
        ]
    attachment = message.attachment
    if "document" in content and attachment is not None:
        body["document"] = {
            "file_id": attachment.file_id,
            "file_name": attachment.file_name or "file",
            "file_size": attachment.size,
        }
    if "photo" in content and attachment is not None:
        largest = content["photo"][-1]
        body["photo"] = {
            "file_id": attachment.file_id,
            "width": largest["width"],
            "height": largest["height"],
        }
    for kind in ("contact", "location"):
        if kind in content:
            body[kind] = content[kind]
    for kind in ("sticker", "voice"):
        if kind in content:
            body[kind] = True
    return body


def _keyboard_json(chat: PrivateChat) -> dict[str, Any] | None:
    keyboard = chat.reply_keyboard
    if keyboard is None:
        return None
    return {
        "placeholder": keyboard.placeholder,
        "rows": [
            [{"text": b.text, "request_contact": b.request_contact} for b in row]
            for row in keyboard.keyboard
        ],
    }


def _file_in_chat(chat: PrivateChat, file_id: str) -> StoredFile | None:
    """Only files that are part of this chat may be fetched through the page."""
    for event in chat.events:
        attachment = event.message.attachment if event.message is not None else None
        if attachment is not None and attachment.file_id == file_id:
            return attachment
    return None


def _image_type(data: bytes) -> str | None:
    if image_size(data) is None:
        return None
    return "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
