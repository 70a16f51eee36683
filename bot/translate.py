"""Turn a Telegram update into a conversation event, or an upload to inspect first."""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Message, Update

from conversations.events import (
    COMMANDS,
    ButtonPress,
    Command,
    ContactShared,
    Event,
    Start,
    Text,
    Unsupported,
)

_UNSUPPORTED_KINDS = (
    "sticker",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "location",
    "venue",
    "poll",
    "dice",
    "game",
    "story",
)


@dataclass(frozen=True)
class Upload:
    """A document or photo: checked by size first, downloaded only if the flow expects one."""

    file_id: str
    file_unique_id: str
    file_size: int | None
    file_name: str | None


def to_input(update: Update) -> Event | Upload | None:
    """The event this update means to the conversation; None for updates we ignore."""
    if update.callback_query is not None:
        return ButtonPress(update.callback_query.data or "")
    message = update.message
    if message is None or message.from_user is None:
        return None
    if message.text is not None:
        return _text(message.text)
    if message.contact is not None:
        own = (
            message.contact.user_id is not None and message.contact.user_id == message.from_user.id
        )
        return ContactShared(message.contact.phone_number, own)
    if message.document is not None:
        document = message.document
        return Upload(
            document.file_id, document.file_unique_id, document.file_size, document.file_name
        )
    if message.photo:
        largest = max(message.photo, key=lambda size: size.width * size.height)
        return Upload(largest.file_id, largest.file_unique_id, largest.file_size, None)
    return Unsupported(_kind(message))


def _text(text: str) -> Event:
    if text.startswith("/"):
        name = text[1:].split(maxsplit=1)[0].split("@", 1)[0].lower() if len(text) > 1 else ""
        if name == "start":
            return Start()
        if name in COMMANDS:
            return Command(name)
        return Command("help")
    return Text(text)


def _kind(message: Message) -> str:
    for kind in _UNSUPPORTED_KINDS:
        if getattr(message, kind, None):
            return kind
    return "other"
