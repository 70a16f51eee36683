"""Everything the emulated Telegram knows: the bot, users and their private chats, messages,
files, pending callback queries, command lists, the webhook and the counters tests read.

Stored messages are immutable snapshots; an edit replaces the snapshot, so every event in a
chat's log keeps the message exactly as it was at that moment.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

from bot.sandbox.files import FileStore, StoredFile
from bot.sandbox.markup import ReplyMarkup
from bot.sandbox.rate_limits import RateLimiter
from bot.sandbox.updates import UpdateQueue

EventKind = Literal["message", "edit", "delete", "callback_answer", "chat_action"]


@dataclass
class UserProfile:
    """A Telegram user who talks to the bot in a private chat (chat id == user id)."""

    user_id: int
    first_name: str
    language_code: str = ""
    last_name: str = ""
    username: str = ""
    phone_number: str = "+8613800138000"

    def to_api(self) -> dict[str, Any]:
        user: dict[str, Any] = {"id": self.user_id, "is_bot": False, "first_name": self.first_name}
        if self.last_name:
            user["last_name"] = self.last_name
        if self.username:
            user["username"] = self.username
        if self.language_code:
            user["language_code"] = self.language_code
        return user

    def chat_api(self) -> dict[str, Any]:
        chat: dict[str, Any] = {
            "id": self.user_id,
            "type": "private",
            "first_name": self.first_name,
        }
        if self.last_name:
            chat["last_name"] = self.last_name
        if self.username:
            chat["username"] = self.username
        return chat


@dataclass(frozen=True)
class BotProfile:
    """The bot itself, as getMe describes it."""

    bot_id: int
    username: str
    first_name: str

    def to_api(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": self.first_name,
            "username": self.username,
        }


@dataclass(frozen=True)
class StoredMessage:
    """One message in a private chat, as it is now (or was, inside an event)."""

    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    content: dict[str, Any]
    markup: ReplyMarkup | None = None
    raw_text: str | None = None
    parse_mode: str | None = None
    edit_date: int | None = None
    attachment: StoredFile | None = None

    @property
    def text(self) -> str | None:
        value = self.content.get("text", self.content.get("caption"))
        return value if isinstance(value, str) else None

    @property
    def entities(self) -> list[dict[str, Any]]:
        value = self.content.get("entities", self.content.get("caption_entities", []))
        return list(value) if isinstance(value, list) else []

    @property
    def inline_markup(self) -> ReplyMarkup | None:
        return self.markup if self.markup is not None and self.markup.kind == "inline" else None


@dataclass(frozen=True)
class ChatEvent:
    """Something that appeared in a chat; `seq` counts from 1 within the chat."""

    seq: int
    kind: EventKind
    message: StoredMessage | None = None
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CallbackAnswer:
    """What the bot said when it answered a button press."""

    text: str
    show_alert: bool


class PrivateChat:
    """A user's private chat with the bot and its event log."""

    def __init__(self, user: UserProfile) -> None:
        self.user = user
        self.messages: dict[int, StoredMessage] = {}
        self.reply_keyboard: ReplyMarkup | None = None
        self.blocked = False
        self.events: list[ChatEvent] = []
        self.last_callback_answer: CallbackAnswer | None = None
        self.last_chat_action: str | None = None
        self._message_ids = itertools.count(1)
        self._changed = asyncio.Event()

    def next_message_id(self) -> int:
        return next(self._message_ids)

    def record(
        self, kind: EventKind, message: StoredMessage | None = None, **detail: Any
    ) -> ChatEvent:
        """Append an event and wake whoever waits for this chat."""
        if message is not None and kind != "delete":
            self.messages[message.message_id] = message
        event = ChatEvent(seq=len(self.events) + 1, kind=kind, message=message, detail=detail)
        self.events.append(event)
        self.wake()
        return event

    def wake(self) -> None:
        """Release every waiter now (the emulator is stopping)."""
        self._changed.set()
        self._changed = asyncio.Event()

    async def wait_for_events(self, after: int, within: float) -> None:
        """Return once the log has more than `after` events, or after `within` seconds."""
        if len(self.events) > after:
            return
        event = self._changed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), within)

    def latest_inline_message(self) -> StoredMessage | None:
        """The newest bot message that currently carries an inline keyboard."""
        for message in reversed(self.messages.values()):
            if message.from_bot and message.inline_markup is not None:
                return message
        return None


@dataclass
class PendingCallback:
    """A callback query the bot has not answered yet."""

    chat_id: int
    message_id: int
    data: str


@dataclass
class WebhookConfig:
    """The webhook the bot set; updates are POSTed to `url` while it is set."""

    url: str
    secret_token: str = ""
    max_connections: int = 40
    last_error_date: int | None = None
    last_error_message: str = ""


@dataclass
class Stats:
    """Counters for assertions and benchmarks."""

    messages_sent: int = 0
    too_many_requests: int = 0
    too_many_requests_by_chat: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0


class World:
    """The emulated Telegram: one bot, its users, and everything between them."""

    def __init__(self, token: str, bot: BotProfile) -> None:
        self.token = token
        self.bot = bot
        self.chats: dict[int, PrivateChat] = {}
        self.files = FileStore()
        self.updates = UpdateQueue()
        self.callbacks: dict[str, PendingCallback] = {}
        self.commands: dict[tuple[str, str], list[dict[str, str]]] = {}
        self.webhook: WebhookConfig | None = None
        self.stats = Stats()
        self.rate_limiter = RateLimiter()
        self.calls: list[str] = []
        self.closing = False
        self._callback_ids = itertools.count(1)

    def chat(self, chat_id: int) -> PrivateChat | None:
        return self.chats.get(chat_id)

    def new_callback_id(self) -> str:
        return f"{self.bot.bot_id}{next(self._callback_ids):012d}"


def now() -> int:
    """Unix time, the unit of every date in the Bot API."""
    return int(time.time())
