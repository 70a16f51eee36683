"""What the flow asks the adapter to send: message ids with typed values, buttons, keyboards.

Nothing here is translated. The renderer translates each `Message` for the applicant's locale
and formats its values by type: `Money` and numbers with Babel, a nested `Message`
recursively, `Masked` as is, and a plain `str` as user data (HTML-escaped).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

MAX_CALLBACK_DATA_BYTES = 64


@dataclass(frozen=True)
class Money:
    """An amount in CNY, formatted by the renderer for the locale (¥300,000.00)."""

    amount: Decimal


@dataclass(frozen=True)
class Masked:
    """Personal data already masked for display (`110101********1234`, `138****5678`)."""

    text: str


@dataclass(frozen=True)
class Message:
    """An English message id marked with `N_`, and the values for its `{placeholders}`."""

    msgid: str
    params: Mapping[str, Value] = field(default_factory=dict)


Value = str | int | Decimal | date | Money | Message | Masked


@dataclass(frozen=True)
class Button:
    """An inline button; `data` is the callback data (at most 64 bytes of UTF-8)."""

    label: Message
    data: str

    def __post_init__(self) -> None:
        if len(self.data.encode()) > MAX_CALLBACK_DATA_BYTES:
            raise ValueError("callback data longer than Telegram's 64 bytes")


@dataclass(frozen=True)
class Reply:
    """One chat message: its lines, inline button rows, and reply-keyboard instructions.

    `contact_keyboard` asks for a reply keyboard with one request_contact button carrying
    that label; `remove_keyboard` asks to take such a keyboard away.
    """

    lines: tuple[Message, ...]
    buttons: tuple[tuple[Button, ...], ...] = ()
    contact_keyboard: Message | None = None
    remove_keyboard: bool = False


def messages_in(reply: Reply) -> Iterator[Message]:
    """Every message a reply carries, nested values and button labels included."""
    pending: list[Message] = [*reply.lines]
    pending.extend(button.label for row in reply.buttons for button in row)
    if reply.contact_keyboard is not None:
        pending.append(reply.contact_keyboard)
    while pending:
        message = pending.pop(0)
        yield message
        pending.extend(value for value in message.params.values() if isinstance(value, Message))
