"""Callback data for the conversation's buttons: short, tagged with the question they belong to.

Every button except a language choice carries `q<token>:<kind>:<value>`, where the token is
a per-chat counter raised each time a new question is asked. A press whose token is not the
current one comes from an older message and is answered politely without effect; a double
press is the same case, since the first press already moved the token on.

The buttons of an officer's request for information (`info:doc:<type>`, `info:answer`) carry
no token: they sit on a notice the bot sends at any moment, and stay valid for as long as the
request is open, whatever the chat has asked since.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from conversations.replies import MAX_CALLBACK_DATA_BYTES

LANGUAGE_PREFIX = "lang:"
INFO_PREFIX = "info:"
_INFO_ANSWER = INFO_PREFIX + "answer"
_INFO_DOCUMENT = INFO_PREFIX + "doc:"

_PRESS = re.compile(r"q(?P<token>[0-9]{1,12}):(?P<kind>[a-z]{1,12}):(?P<value>[a-z0-9_]{1,40})")
_INFO_DOCUMENT_TYPE = re.compile(r"[a-z0-9_]{1,40}")


@dataclass(frozen=True)
class InfoPress:
    """A parsed information-request button: upload `doc_type`, or answer the question (None)."""

    doc_type: str | None


@dataclass(frozen=True)
class Press:
    """A parsed question button: which question (`token`), what kind of choice, which value."""

    token: int
    kind: str
    value: str


def question_data(token: int, kind: str, value: str) -> str:
    """The callback data of a button that belongs to question `token`."""
    return _checked(f"q{token}:{kind}:{value}")


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


def info_upload_button_data(doc_type: str) -> str:
    """The callback data of a request notice's button that leads to uploading `doc_type`."""
    if _INFO_DOCUMENT_TYPE.fullmatch(doc_type) is None:
        raise ValueError("not a document type")
    return _checked(_INFO_DOCUMENT + doc_type)


def info_answer_button_data() -> str:
    """The callback data of a request notice's "Answer the question" button."""
    return _INFO_ANSWER


def parse_info(data: str) -> InfoPress | None:
    """The information-request button `data` encodes, or None for anything else."""
    if data == _INFO_ANSWER:
        return InfoPress(None)
    if data.startswith(_INFO_DOCUMENT):
        doc_type = data[len(_INFO_DOCUMENT) :]
        if _INFO_DOCUMENT_TYPE.fullmatch(doc_type) is not None:
            return InfoPress(doc_type)
    return None


def _checked(data: str) -> str:
    if len(data.encode()) > MAX_CALLBACK_DATA_BYTES:
        raise ValueError("callback data longer than Telegram's 64 bytes")
    return data
