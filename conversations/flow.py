"""The applicant conversation's API for the Telegram adapter: one event in, one outcome out.

`handle` is pure and deterministic: the same snapshot and event always give the same
outcome, and nothing is read from the clock, the network or the disk.
"""

from __future__ import annotations

from conversations import display, machine
from conversations.chat import ApplicantChat
from conversations.events import Event
from conversations.progress import step_of
from conversations.questions import CONSENT_VERSION
from conversations.snapshot import ApplicationInfo, Outcome, Snapshot
from lending.products import DocumentType, ProductLimits

__all__ = [
    "CONSENT_VERSION",
    "STATES",
    "ApplicationInfo",
    "Outcome",
    "Snapshot",
    "expected_document",
    "handle",
    "step_of",
]

STATES = machine.STATES
LIMITS = ProductLimits()


def handle(snapshot: Snapshot, event: Event) -> Outcome:
    """Apply one event to one chat: the state to store, effects to apply, replies to send."""
    chat = ApplicantChat(snapshot, LIMITS)
    with machine.attached(chat, _starting_state(snapshot)):
        chat.handle(event)
        state = chat.state
    return Outcome(
        state=state,
        context=chat.context,
        effects=tuple(chat.effects),
        replies=tuple(chat.replies),
    )


def expected_document(snapshot: Snapshot) -> str | None:
    """The document type being asked for now (download the file), or None (do not)."""
    if snapshot.state != "document_upload" or not snapshot.has_draft:
        return None
    kind = display.choice(DocumentType, str(snapshot.context.get("doc_type", "")))
    return kind.value if kind is not None else None


def _starting_state(snapshot: Snapshot) -> str:
    """The stored state, repaired when it cannot be right any more.

    A state this version does not know, or a draft step without a draft (discarded or
    submitted elsewhere), restarts from "idle", where /apply picks up any draft again.
    """
    state = snapshot.state
    if state not in machine.STATES:
        known = snapshot.locale is not None or snapshot.has_draft or snapshot.applications
        return "idle" if known else "new"
    if state in (*machine.DRAFT_STATES, "confirm_cancel") and not snapshot.has_draft:
        return "idle"
    return state
