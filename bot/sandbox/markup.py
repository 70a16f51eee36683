"""Reply markup as Telegram checks it: inline keyboards, reply keyboards, removal, force-reply."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

from bot.sandbox.errors import bad_request

MAX_CALLBACK_DATA_BYTES = 64
_INLINE_ACTIONS = (
    "callback_data",
    "url",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "web_app",
    "pay",
)


@dataclass(frozen=True)
class InlineButton:
    """One inline keyboard button; `callback_data` is empty for URL and other buttons."""

    text: str
    callback_data: str = ""
    url: str = ""


@dataclass(frozen=True)
class KeyboardButton:
    """One reply keyboard button; pressing it sends its text, or shares contact/location."""

    text: str
    request_contact: bool = False
    request_location: bool = False


@dataclass(frozen=True)
class ReplyMarkup:
    """A checked `reply_markup`; `inline_json` is what Telegram echoes back in the message."""

    kind: Literal["inline", "keyboard", "remove", "force_reply"]
    inline: tuple[tuple[InlineButton, ...], ...] = ()
    keyboard: tuple[tuple[KeyboardButton, ...], ...] = ()
    one_time: bool = False
    placeholder: str = ""
    inline_json: dict[str, Any] | None = field(default=None, compare=False)

    def find_inline(self, label: str) -> InlineButton | None:
        return next((b for row in self.inline for b in row if b.text == label), None)

    def find_callback(self, data: str) -> InlineButton | None:
        return next((b for row in self.inline for b in row if b.callback_data == data), None)

    def find_key(self, label: str) -> KeyboardButton | None:
        return next((b for row in self.keyboard for b in row if b.text == label), None)


def parse_reply_markup(value: Any, *, inline_only: bool = False) -> ReplyMarkup | None:
    """Check a decoded `reply_markup` parameter; None when there is none."""
    if value is None or value == {}:
        return None
    if not isinstance(value, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in value:
        return _inline(value["inline_keyboard"])
    if inline_only:
        raise bad_request("inline keyboard expected")
    if "keyboard" in value:
        return _keyboard(value)
    if value.get("remove_keyboard") is True:
        return ReplyMarkup(kind="remove")
    if value.get("force_reply") is True:
        return ReplyMarkup(
            kind="force_reply", placeholder=str(value.get("input_field_placeholder", ""))
        )
    raise bad_request("can't parse reply keyboard markup JSON object")


def _rows(value: Any) -> list[list[Any]]:
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise bad_request("can't parse reply keyboard markup JSON object")
    return value


def _inline(rows: Any) -> ReplyMarkup:
    parsed: list[tuple[InlineButton, ...]] = []
    for row in _rows(rows):
        buttons: list[InlineButton] = []
        for button in row:
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse inline keyboard button: Text must be a String")
            if not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            if not any(action in button for action in _INLINE_ACTIONS):
                raise bad_request("text buttons are unallowed in the inline keyboard")
            buttons.append(_inline_button(button))
        parsed.append(tuple(buttons))
    return ReplyMarkup(
        kind="inline",
        inline=tuple(parsed),
        inline_json={"inline_keyboard": _rows(rows)},
    )


def _inline_button(button: dict[str, Any]) -> InlineButton:
    data = button.get("callback_data")
    if data is not None:
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
        return InlineButton(text=button["text"], callback_data=data)
    url = button.get("url")
    if url is not None:
        parts = urlsplit(str(url))
        if parts.scheme not in {"http", "https", "tg"} or not (parts.netloc or parts.path):
            raise bad_request("BUTTON_URL_INVALID")
        return InlineButton(text=button["text"], url=str(url))
    return InlineButton(text=button["text"])


def _keyboard(value: dict[str, Any]) -> ReplyMarkup:
    parsed: list[tuple[KeyboardButton, ...]] = []
    for row in _rows(value["keyboard"]):
        buttons: list[KeyboardButton] = []
        for button in row:
            if isinstance(button, str):
                button = {"text": button}
            if not isinstance(button, dict) or not isinstance(button.get("text"), str):
                raise bad_request("can't parse keyboard button: Text must be a String")
            if not button["text"]:
                raise bad_request("BUTTON_TEXT_INVALID")
            buttons.append(
                KeyboardButton(
                    text=button["text"],
                    request_contact=bool(button.get("request_contact")),
                    request_location=bool(button.get("request_location")),
                )
            )
        parsed.append(tuple(buttons))
    if not any(parsed):
        raise bad_request("keyboard must be non-empty")
    return ReplyMarkup(
        kind="keyboard",
        keyboard=tuple(parsed),
        one_time=bool(value.get("one_time_keyboard")),
        placeholder=str(value.get("input_field_placeholder", "")),
    )
