"""Render the flow's replies for Telegram: translate, format values by type, escape user data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from conversations.replies import Masked, Message, Money, Reply, Value
from locales import format_day, format_money, format_number, gettext_for

TELEGRAM_TEXT_LIMIT = 4096

Markup = InlineKeyboardMarkup | ReplyKeyboardMarkup | ReplyKeyboardRemove


@dataclass(frozen=True)
class RenderedReply:
    text: str
    markup: Markup | None


def render_message(message: Message, locale: str, *, html: bool = True) -> str:
    """The translated text with each value formatted; plain strings are user data, escaped."""
    template = gettext_for(locale, message.msgid)
    if not message.params:
        return template
    values = {name: _value(value, locale, html) for name, value in message.params.items()}
    return template.format(**values)


def _value(value: Value, locale: str, html: bool) -> str:
    if isinstance(value, Message):
        return render_message(value, locale, html=html)
    if isinstance(value, Money):
        return format_money(value.amount, locale)
    if isinstance(value, Masked):
        return escape(value.text) if html else value.text
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | Decimal):
        return format_number(value, locale)
    if isinstance(value, date):
        return format_day(value, locale)
    return escape(value) if html else value


def render_reply(reply: Reply, locale: str) -> RenderedReply:
    text = "\n".join(render_message(line, locale) for line in reply.lines)
    if len(text) > TELEGRAM_TEXT_LIMIT:
        text = text[: TELEGRAM_TEXT_LIMIT - 1] + "…"
    markup: Markup | None = None
    if reply.buttons:
        markup = InlineKeyboardMarkup(
            [
                [
                    InlineKeyboardButton(
                        render_message(b.label, locale, html=False), callback_data=b.data
                    )
                    for b in row
                ]
                for row in reply.buttons
            ]
        )
    elif reply.contact_keyboard is not None:
        label = render_message(reply.contact_keyboard, locale, html=False)
        markup = ReplyKeyboardMarkup(
            [[KeyboardButton(label, request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
    elif reply.remove_keyboard:
        markup = ReplyKeyboardRemove()
    return RenderedReply(text, markup)
