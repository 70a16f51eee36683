"""What can happen in an applicant's chat, as the Telegram adapter reports it to the flow."""

from __future__ import annotations

from dataclasses import dataclass

COMMANDS = ("apply", "status", "language", "help", "cancel")

DOCUMENT_REFUSAL_REASONS = ("too_big", "wrong_type", "image_too_large", "unreadable", "duplicate")


@dataclass(frozen=True)
class Start:
    """/start: greet a newcomer or resume where the applicant left off."""


@dataclass(frozen=True)
class Command:
    """A slash command other than /start; `name` is one of COMMANDS, without the slash."""

    name: str


@dataclass(frozen=True)
class Text:
    """A typed message."""

    text: str


@dataclass(frozen=True)
class ButtonPress:
    """An inline button was pressed; `data` is its callback data."""

    data: str


@dataclass(frozen=True)
class ContactShared:
    """A contact card; `is_own` when its user id is the sender's (Telegram's contact button)."""

    phone: str
    is_own: bool


@dataclass(frozen=True)
class Unsupported:
    """A kind of message the conversation cannot read: sticker, voice, location, video, ..."""

    kind: str


@dataclass(frozen=True)
class DocumentAccepted:
    """The adapter stored an uploaded file of `doc_type` in the vault."""

    doc_type: str
    file_name: str | None


@dataclass(frozen=True)
class DocumentRefused:
    """The adapter refused an upload; `reason` is one of DOCUMENT_REFUSAL_REASONS."""

    reason: str


@dataclass(frozen=True)
class FileWithoutRequest:
    """A file arrived while no document type was being asked for; it was not downloaded."""


@dataclass(frozen=True)
class SubmissionRecorded:
    """The adapter submitted the draft and assigned it `reference`."""

    reference: str


Event = (
    Start
    | Command
    | Text
    | ButtonPress
    | ContactShared
    | Unsupported
    | DocumentAccepted
    | DocumentRefused
    | FileWithoutRequest
    | SubmissionRecorded
)
