"""The applicant conversation's states and transitions: one `transitions` Machine for all chats.

The machine is built once at import and never holds a chat: `flow.handle` puts the stored
state on a fresh per-event model and fires one or two triggers through `MACHINE.events`.
Entering a state asks its question, through the model's `ask_question` callback.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import pairwise
from typing import Any

from transitions import EventData, Machine

from conversations.effects import ANSWER_FIELDS

# The questions of the company, owner and loan sections, in the order they are asked; each
# state is named after the answer field it fills.
QUESTIONS = ANSWER_FIELDS

# States in which the applicant has a draft application on file.
DRAFT_STATES = (*QUESTIONS, "documents", "document_upload", "summary", "edit_choice")

# Answering an officer's request for information on the open application: one document's
# upload, or a typed answer. Entering them leaves any draft's answers as they are.
INFO_STATES = ("info_upload", "info_answer")

STATES = (
    "new",
    "language",
    "consent",
    "consent_declined",
    *DRAFT_STATES,
    "confirm_cancel",
    "submitting",
    "idle",
    *INFO_STATES,
)

# A request notice's buttons work wherever the chat is; "submitting" is settled before any
# event is handled, so no press ever finds the chat there.
ANYWHERE = tuple(state for state in STATES if state != "submitting")

# Fields whose question the summary offers to edit; "documents" reopens the checklist.
EDIT_TARGETS = (*QUESTIONS, "documents")


def _returns_to(state: str) -> Callable[[EventData], bool]:
    def condition(event: EventData) -> bool:
        return bool(getattr(event.model, "resume_state", None) == state)

    # Named so the generated diagram says where "No, continue" leads.
    condition.__name__ = f"was_at_{state}"
    return condition


def _question_transitions() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    following = {
        **dict(pairwise(QUESTIONS)),
        "security_type": "documents",
        "security_details": "documents",
    }
    for field in QUESTIONS:
        if field == "security_type":
            rows.append(
                {
                    "trigger": "answered",
                    "source": field,
                    "dest": "security_details",
                    "conditions": "needs_security_details",
                }
            )
        rows.append(
            {"trigger": "answered", "source": field, "dest": "summary", "conditions": "editing"}
        )
        rows.append({"trigger": "answered", "source": field, "dest": following[field]})
    return rows


TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "begin", "source": ["new", "idle", "consent_declined"], "dest": "language"},
    {"trigger": "language_chosen", "source": ["new", "language"], "dest": "consent"},
    {"trigger": "agree", "source": "consent", "dest": QUESTIONS[0]},
    {"trigger": "decline", "source": "consent", "dest": "consent_declined"},
    {"trigger": "reread", "source": "consent_declined", "dest": "consent"},
    {"trigger": "restart", "source": ["idle", "consent_declined"], "dest": "consent"},
    *_question_transitions(),
    {"trigger": "choose_document", "source": "documents", "dest": "document_upload"},
    {"trigger": "document_received", "source": "document_upload", "dest": "documents"},
    {"trigger": "document_refused", "source": "document_upload", "dest": "documents"},
    {"trigger": "back_to_checklist", "source": "document_upload", "dest": "documents"},
    {
        "trigger": "documents_done",
        "source": "documents",
        "dest": "summary",
        "conditions": "documents_complete",
    },
    {"trigger": "edit", "source": "summary", "dest": "edit_choice"},
    *(
        {"trigger": f"edit_{target}", "source": "edit_choice", "dest": target}
        for target in EDIT_TARGETS
    ),
    {"trigger": "back_to_summary", "source": "edit_choice", "dest": "summary"},
    {
        "trigger": "submit",
        "source": "summary",
        "dest": "documents",
        "unless": "documents_complete",
    },
    {"trigger": "submit", "source": "summary", "dest": "submitting"},
    {"trigger": "recorded", "source": "submitting", "dest": "idle"},
    {"trigger": "submission_lost", "source": "submitting", "dest": "summary"},
    {"trigger": "send_requested_document", "source": list(ANYWHERE), "dest": "info_upload"},
    {"trigger": "answer_officer", "source": list(ANYWHERE), "dest": "info_answer"},
    {"trigger": "info_document_received", "source": "info_upload", "dest": "idle"},
    {"trigger": "info_document_refused", "source": "info_upload", "dest": "idle"},
    {"trigger": "officer_answered", "source": "info_answer", "dest": "idle"},
    {"trigger": "info_back", "source": list(INFO_STATES), "dest": "idle"},
    {"trigger": "cancel", "source": list(DRAFT_STATES), "dest": "confirm_cancel"},
    {"trigger": "discard", "source": "confirm_cancel", "dest": "idle"},
    *(
        {
            "trigger": "keep",
            "source": "confirm_cancel",
            "dest": state,
            "conditions": _returns_to(state),
        }
        for state in DRAFT_STATES
    ),
]


# Models are never registered: firing an event needs nothing but the model's state attribute
# (callbacks and conditions are resolved by name on the model), while `add_model` would bind
# about a hundred and fifty convenience methods (`trigger`, `may_*`, `is_*`, one per trigger)
# to each event's model only to throw them away: half of an event's CPU, measured for B1.
MACHINE = Machine(
    model=None,
    states=list(STATES),
    transitions=TRANSITIONS,
    initial="new",
    auto_transitions=False,
    send_event=True,
    after_state_change="ask_question",
)


def place(model: object, state: str) -> None:
    """Put `model` in `state`, ready for `fire`; the shared machine is not changed."""
    MACHINE.set_state(state, model=model)


def fire(model: object, trigger: str) -> bool:
    """Fire `trigger` for `model`; False when no transition's conditions held."""
    return MACHINE.events[trigger].trigger(model)
