"""The in-process scripted user: what a test (or the web chat page) does as an applicant.

Every action turns into the update a real Telegram client would cause, queued for the bot;
the bot's answers are read back from the chat's log in order, edits included.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import Any

from bot.sandbox.files import StoredFile, document_api, image_size, store_photo, suffix_for
from bot.sandbox.methods import message_api
from bot.sandbox.state import (
    CallbackAnswer,
    PendingCallback,
    PrivateChat,
    StoredMessage,
    World,
    now,
)

DEFAULT_PHOTO_SIZE = (1280, 960)
_COMMAND_PREFIX = re.compile(r"/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{5,32})?")
# A 1×1 lossless WebP and an Ogg page header: enough for "is it a sticker / voice" checks.
_STICKER_BYTES = (
    b"RIFF\x1a\x00\x00\x00WEBPVP8L\x0d\x00\x00\x00/\x00\x00\x00"
    b"\x10\x07\x10\x11\x11\x88\x88\xfe\x07\x00"
)
_VOICE_BYTES = b"OggS\x00\x02" + bytes(58)


@dataclass(frozen=True)
class BotMessage:
    """A message from the bot as the user saw it: when it was sent, or after an edit."""

    message_id: int
    text: str | None
    parse_mode: str | None
    raw_text: str | None
    entities: list[dict[str, Any]]
    inline_buttons: list[list[tuple[str, str]]]
    reply_keyboard: list[list[str]] | None
    contact_buttons: list[str]
    removed_keyboard: bool
    force_reply: bool
    edited: bool
    document: bytes | None
    document_name: str | None
    mime_type: str | None
    photo: bytes | None

    @property
    def button_labels(self) -> list[str]:
        """Every inline button label, row by row."""
        return [label for row in self.inline_buttons for label, _ in row]

    @classmethod
    def from_stored(cls, message: StoredMessage, *, edited: bool) -> BotMessage:
        markup = message.markup
        inline = markup.inline if markup is not None and markup.kind == "inline" else ()
        keyboard = markup.keyboard if markup is not None and markup.kind == "keyboard" else None
        attachment = message.attachment
        is_photo = "photo" in message.content
        return cls(
            message_id=message.message_id,
            text=message.text,
            parse_mode=message.parse_mode,
            raw_text=message.raw_text,
            entities=message.entities,
            inline_buttons=[
                [(button.text, button.callback_data or button.url) for button in row]
                for row in inline
            ],
            reply_keyboard=[[b.text for b in row] for row in keyboard] if keyboard else None,
            contact_buttons=[b.text for row in keyboard or () for b in row if b.request_contact],
            removed_keyboard=markup is not None and markup.kind == "remove",
            force_reply=markup is not None and markup.kind == "force_reply",
            edited=edited,
            document=attachment.content() if attachment and not is_photo else None,
            document_name=attachment.file_name or None if attachment and not is_photo else None,
            mime_type=attachment.mime_type or None if attachment and not is_photo else None,
            photo=attachment.content() if attachment and is_photo else None,
        )


class ScriptedUser:
    """One applicant in a private chat with the bot (chat id == user id)."""

    def __init__(self, world: World, chat: PrivateChat) -> None:
        self._world = world
        self._chat = chat
        self._cursor = 0

    @property
    def user_id(self) -> int:
        return self._chat.user.user_id

    @property
    def chat_id(self) -> int:
        return self._chat.user.user_id

    @property
    def first_name(self) -> str:
        return self._chat.user.first_name

    @property
    def language_code(self) -> str:
        return self._chat.user.language_code

    @language_code.setter
    def language_code(self, value: str) -> None:
        """Telegram sends the client's current language with every update."""
        self._chat.user.language_code = value

    @property
    def blocked(self) -> bool:
        return self._chat.blocked

    # --- acting ------------------------------------------------------------------------

    async def send_text(self, text: str) -> int:
        """Type a message; a leading /command gets its bot_command entity, as on Telegram."""
        content: dict[str, Any] = {"text": text}
        command = _COMMAND_PREFIX.match(text)
        if command is not None:
            content["entities"] = [{"type": "bot_command", "offset": 0, "length": command.end()}]
        return self._post(content)

    async def command(self, command: str) -> int:
        """Send a command such as ``/start`` (the slash may be left out)."""
        return await self.send_text(command if command.startswith("/") else f"/{command}")

    async def press(self, label: str) -> int:
        """Press a button by its label: on the newest inline keyboard, else the reply keyboard."""
        latest = self._chat.latest_inline_message()
        markup = latest.inline_markup if latest is not None else None
        if latest is not None and markup is not None and markup.find_inline(label):
            return await self.press_on(latest.message_id, label)
        keyboard = self._chat.reply_keyboard
        key = keyboard.find_key(label) if keyboard is not None else None
        if key is not None:
            if key.request_contact:
                return await self.share_contact(own=True)
            if key.request_location:
                return await self.send_location(31.2304, 121.4737)
            return await self.send_text(key.text)
        raise LookupError(f"no button {label!r}; visible buttons: {self.visible_buttons()}")

    async def press_on(self, message_id: int, label: str) -> int:
        """Press an inline button on a given (possibly old) message."""
        message = self._chat.messages.get(message_id)
        markup = message.inline_markup if message is not None else None
        button = markup.find_inline(label) if markup is not None else None
        if button is None:
            raise LookupError(f"message {message_id} has no inline button {label!r}")
        if not button.callback_data:
            raise LookupError(f"button {label!r} opens a URL; it sends nothing to the bot")
        return await self.press_callback(message_id, button.callback_data)

    async def press_callback(self, message_id: int, data: str) -> int:
        """Send a callback query with any data for a message, e.g. a forged or unknown button."""
        message = self._chat.messages.get(message_id)
        if message is None:
            raise LookupError(f"there is no message {message_id} in this chat")
        query_id = self._world.new_callback_id()
        self._world.callbacks[query_id] = PendingCallback(self.chat_id, message_id, data)
        payload = {
            "id": query_id,
            "from": self._chat.user.to_api(),
            "message": message_api(self._world, message),
            "chat_instance": f"{self._world.bot.bot_id}{self.chat_id}",
            "data": data,
        }
        return self._push("callback_query", payload)

    async def share_contact(
        self, phone: str | None = None, own: bool = True, first_name: str | None = None
    ) -> int:
        """Share a contact: the user's own (as the contact button does) or someone else's."""
        profile = self._chat.user
        contact: dict[str, Any] = {
            "phone_number": phone or profile.phone_number,
            "first_name": first_name or (profile.first_name if own else "Wang"),
            "user_id": profile.user_id if own else profile.user_id + 1_000_003,
        }
        return self._post({"contact": contact})

    async def send_document(
        self,
        data: bytes,
        file_name: str = "document.pdf",
        mime_type: str = "application/pdf",
        caption: str | None = None,
    ) -> int:
        """Upload a file as a document."""
        stored = self._world.files.add(
            data,
            folder="documents",
            suffix=suffix_for(file_name, mime_type),
            file_name=file_name,
            mime_type=mime_type,
        )
        return self._post(_with_caption({"document": document_api(stored)}, caption), stored)

    async def send_large_document(
        self, size: int, file_name: str = "large.pdf", mime_type: str = "application/pdf"
    ) -> int:
        """Announce a document of `size` bytes without holding them (for size-limit checks)."""
        stored = self._world.files.add(
            None,
            size=size,
            folder="documents",
            suffix=suffix_for(file_name, mime_type),
            file_name=file_name,
            mime_type=mime_type,
        )
        return self._post({"document": document_api(stored)}, stored)

    async def send_photo(self, data: bytes, caption: str | None = None) -> int:
        """Send a photo: several sizes, all serving these bytes."""
        sizes = store_photo(self._world.files, data, image_size(data) or DEFAULT_PHOTO_SIZE)
        content = _with_caption({"photo": [size.to_api() for size in sizes]}, caption)
        return self._post(content, sizes[-1].file)

    async def send_sticker(self) -> int:
        stored = self._world.files.add(_STICKER_BYTES, folder="stickers", suffix=".webp")
        sticker = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
            "emoji": "👍",
        }
        return self._post({"sticker": sticker}, stored)

    async def send_voice(self) -> int:
        stored = self._world.files.add(_VOICE_BYTES, folder="voice", suffix=".oga")
        voice = {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": stored.size,
            "duration": 2,
            "mime_type": "audio/ogg",
        }
        return self._post({"voice": voice}, stored)

    async def send_location(self, latitude: float, longitude: float) -> int:
        return self._post({"location": {"latitude": latitude, "longitude": longitude}})

    async def block_bot(self) -> int:
        """Block the bot: sending to this chat now fails with 403."""
        self._chat.blocked = True
        return self._member_update("member", "kicked")

    async def unblock_bot(self) -> int:
        """Unblock the bot (Telegram's "Restart")."""
        self._chat.blocked = False
        return self._member_update("kicked", "member")

    # --- reading -----------------------------------------------------------------------

    # The `timeout` parameter is this API's documented contract for tests (hence noqa).
    async def next_message(self, timeout: float = 10) -> BotMessage:  # noqa: ASYNC109
        """The next message the bot sent or edited in this chat, in order."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            while self._cursor < len(self._chat.events):
                event = self._chat.events[self._cursor]
                self._cursor += 1
                message = event.message
                if event.kind in {"message", "edit"} and message is not None and message.from_bot:
                    return BotMessage.from_stored(message, edited=event.kind == "edit")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise TimeoutError(
                    f"the bot sent nothing to chat {self.chat_id} within {timeout} s"
                )
            await self._chat.wait_for_events(self._cursor, remaining)

    async def messages_until_quiet(
        self,
        quiet: float = 0.3,
        timeout: float = 10,  # noqa: ASYNC109 (documented test API)
    ) -> list[BotMessage]:
        """Every message (and edit) until the bot has been silent for `quiet` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        messages: list[BotMessage] = []
        while (remaining := deadline - loop.time()) > 0:
            try:
                messages.append(await self.next_message(timeout=min(quiet, remaining)))
            except TimeoutError:
                break
        return messages

    @property
    def history(self) -> list[BotMessage]:
        """Every message the bot sent or edited in this chat so far, in order."""
        return [
            BotMessage.from_stored(event.message, edited=event.kind == "edit")
            for event in self._chat.events
            if event.kind in {"message", "edit"}
            and event.message is not None
            and event.message.from_bot
        ]

    def message(self, message_id: int) -> BotMessage | None:
        """A bot message as it is now (after any edits); None if deleted or unknown."""
        stored = self._chat.messages.get(message_id)
        if stored is None or not stored.from_bot:
            return None
        return BotMessage.from_stored(stored, edited=stored.edit_date is not None)

    @property
    def last_callback_answer(self) -> CallbackAnswer | None:
        return self._chat.last_callback_answer

    @property
    def last_chat_action(self) -> str | None:
        return self._chat.last_chat_action

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """The reply keyboard currently shown, as labels."""
        keyboard = self._chat.reply_keyboard
        return [[b.text for b in row] for row in keyboard.keyboard] if keyboard else None

    def visible_buttons(self) -> list[str]:
        """Labels the user could press now: the newest inline keyboard, then the reply one."""
        labels: list[str] = []
        latest = self._chat.latest_inline_message()
        markup = latest.inline_markup if latest is not None else None
        if markup is not None:
            labels += [button.text for row in markup.inline for button in row]
        for row in self.reply_keyboard or []:
            labels += row
        return labels

    # --- internals ---------------------------------------------------------------------

    def _post(self, content: dict[str, Any], attachment: StoredFile | None = None) -> int:
        if self._chat.blocked:
            # Writing to a blocked bot first restarts it, as the Telegram client does.
            self._chat.blocked = False
            self._member_update("kicked", "member")
        message = StoredMessage(
            message_id=self._chat.next_message_id(),
            chat_id=self.chat_id,
            from_bot=False,
            date=now(),
            content=content,
            attachment=attachment,
        )
        self._chat.record("message", message)
        return self._push("message", message_api(self._world, message))

    def _push(self, update_type: str, payload: dict[str, Any]) -> int:
        return self._world.updates.push(update_type, payload)

    def _member_update(self, old_status: str, new_status: str) -> int:
        bot_user = self._world.bot.to_api()
        new_member: dict[str, Any] = {"user": bot_user, "status": new_status}
        if new_status == "kicked":
            new_member["until_date"] = 0
        old_member: dict[str, Any] = {"user": bot_user, "status": old_status}
        if old_status == "kicked":
            old_member["until_date"] = 0
        payload = {
            "chat": self._chat.user.chat_api(),
            "from": self._chat.user.to_api(),
            "date": now(),
            "old_chat_member": old_member,
            "new_chat_member": new_member,
        }
        return self._push("my_chat_member", payload)


def _with_caption(content: dict[str, Any], caption: str | None) -> dict[str, Any]:
    if caption:
        content["caption"] = caption
    return content
