"""The applicant conversation's API for the Telegram adapter: one event in, one outcome out.

`handle` is pure and deterministic: the same snapshot and event always give the same
outcome, and nothing is read from the clock, the network or the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from conversations import display, machine
from conversations.buttons import info_answer_button_data, info_upload_button_data
from conversations.chat import ApplicantChat
from conversations.events import Event
from conversations.info_requests import info_request_reply
from conversations.progress import step_of
from conversations.questions import CONSENT_VERSION
from conversations.snapshot import ApplicationInfo, InfoRequest, Outcome, Snapshot
from lending.products import DocumentType, ProductLimits

__all__ = [
    "CONSENT_VERSION",
    "STATES",
    "ApplicationInfo",
    "ExpectedUpload",
    "InfoRequest",
    "Outcome",
    "Snapshot",
    "expected_document",
    "expected_upload",
    "handle",
    "info_answer_button_data",
    "info_request_reply",
    "info_upload_button_data",
    "step_of",
]

STATES = machine.STATES
LIMITS = ProductLimits()


def handle(snapshot: Snapshot, event: Event) -> Outcome:
    """Apply one event to one chat: the state to store, effects to apply, replies to send."""
    chat = ApplicantChat(snapshot, LIMITS)
    machine.place(chat, _starting_state(snapshot))
    chat.handle(event)
    return Outcome(
        state=chat.state,
        context=chat.context,
        effects=tuple(chat.effects),
        replies=tuple(chat.replies),
    )


@dataclass(frozen=True)
class ExpectedUpload:
    """The document being asked for, and where it goes: the draft, or the open application
    (answering an officer's request for information)."""

    doc_type: str
    target: Literal["draft", "open_application"]


def expected_upload(snapshot: Snapshot) -> ExpectedUpload | None:
    """The document being asked for now and its destination (download it), or None (do not)."""
    if snapshot.state == "document_upload" and snapshot.has_draft:
        target: Literal["draft", "open_application"] = "draft"
    elif snapshot.state == "info_upload" and snapshot.info_request is not None:
        target = "open_application"
    else:
        return None
    kind = display.choice(DocumentType, str(snapshot.context.get("doc_type", "")))
    return ExpectedUpload(kind.value, target) if kind is not None else None


def expected_document(snapshot: Snapshot) -> str | None:
    """The document type being asked for now (download the file), or None (do not)."""
    expected = expected_upload(snapshot)
    return expected.doc_type if expected is not None else None


def _starting_state(snapshot: Snapshot) -> str:
    """The stored state, repaired when it cannot be right any more.

    A state this version does not know, a draft step without a draft (discarded or
    submitted elsewhere), or an info step whose request is no longer open (answered, or the
    application decided meanwhile) restarts from "idle", where /apply picks up any draft again
    and typed text still reaches the officer.
    """
    state = snapshot.state
    if state not in machine.STATES:
        known = snapshot.locale is not None or snapshot.has_draft or snapshot.applications
        return "idle" if known else "new"
    if state in (*machine.DRAFT_STATES, "confirm_cancel") and not snapshot.has_draft:
        return "idle"
    request = snapshot.info_request
    if state == "info_upload" and request is None:
        return "idle"
    if state == "info_answer" and (request is None or not request.question):
        return "idle"
    return state
