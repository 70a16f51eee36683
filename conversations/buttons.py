"""Callback data for the conversation's buttons: short, tagged with the question they belong to.

Every button except a language choice carries `q<token>:<kind>:<value>`, where the token is
a per-chat counter raised each time a new question is asked. A press whose token is not the
current one comes from an older message and is answered politely without effect; a double
press is the same case, since the first press already moved the token on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.replies import MAX_CALLBACK_DATA_BYTES

LANGUAGE_PREFIX = "lang:"

_PRESS = re.compile(r"q(?P<token>[0-9]{1,12}):(?P<kind>[a-z]{1,12}):(?P<value>[a-z0-9_]{1,40})")


@dataclass(frozen=True)
class Press:
    """A parsed question button: which question (`token`), what kind of choice, which value."""

    token: int
    kind: str
    value: str


def question_data(token: int, kind: str, value: str) -> str:
    """The callback data of a button that belongs to question `token`."""
    data = f"q{token}:{kind}:{value}"
    if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
        raise ValueError("callback data longer than Telegram's 64 bytes")
    return data


def language_data(locale: str) -> str:
    """Language buttons carry no token: choosing a language is welcome at any point."""
    return LANGUAGE_PREFIX + locale


def parse_language(data: str) -> str | None:
    return data[len(LANGUAGE_PREFIX) :] if data.startswith(LANGUAGE_PREFIX) else None


def parse_press(data: str) -> Press | None:
    """The question button `data` encodes, or None for anything else (forged, truncated...)."""
    match = _PRESS.fullmatch(data)
    if match is None:
        return None
    return Press(int(match["token"]), match["kind"], match["value"])
