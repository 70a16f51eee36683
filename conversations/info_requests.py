"""An officer's request for information as the applicant sees it: notice, reminders, buttons.

One place for the wording: the bot renders the outbox's "info_request" notice with
`info_request_reply`, and the conversation shows the same list and buttons while the request
stays open (idle, /status, after each upload). The buttons lead straight to the upload of one
document or to answering the question (`conversations.buttons.info_*_button_data`).
"""

from __future__ import annotations

from collections.abc import Sequence

from conversations import display
from conversations.buttons import info_answer_button_data, info_upload_button_data
from conversations.replies import Button, Message, Reply
from conversations.snapshot import InfoRequest
from lending.products import DocumentType
from locales import N_

NOTICE = N_("A loan officer needs more information for your application {reference}.")
WAITING = N_("Your application {reference} is waiting for information from you.")
PLEASE_SEND = N_("Please send:")
STILL_NEEDED = N_("Still needed:")
OFFICER_ASKS = N_("The loan officer asks: {question}")
HOW_TO_SEND = N_("Tap a document below to send it as a PDF file or a photo.")
HOW_TO_ANSWER = N_("Tap “Answer the question” to reply.")
NOTHING_NEEDED = N_("Nothing more is needed from you for now.")
SEND_BUTTON = N_("📎 Send: {document}")
ANSWER_BUTTON = N_("✍️ Answer the question")

Details = tuple[tuple[Message, ...], tuple[tuple[Button, ...], ...]]


def info_request_reply(reference: str, documents: Sequence[str], question: str | None) -> Reply:
    """The notice of a new request: what is asked for, with a button per way to answer.

    `documents` are DocumentType values as in the outbox payload; a value this version does
    not know is left out rather than failing the delivery.
    """
    lines, buttons = request_details(documents, question, heading=PLEASE_SEND)
    return Reply((Message(NOTICE, {"reference": reference}), *lines), buttons)


def open_request_details(request: InfoRequest) -> Details:
    """What the open request still waits for, under a heading naming the application."""
    lines, buttons = request_details(request.documents_missing, request.question)
    return (Message(WAITING, {"reference": request.reference}), *lines), buttons


def request_details(
    documents: Sequence[str], question: str | None, *, heading: str = STILL_NEEDED
) -> Details:
    """The documents under `heading`, the question, how to answer; and the buttons for it."""
    kinds = [
        kind
        for kind in (display.choice(DocumentType, value) for value in documents)
        if isinstance(kind, DocumentType)
    ]
    lines: list[Message] = []
    rows: list[tuple[Button, ...]] = []
    if kinds:
        lines.append(Message(heading))
        for kind in kinds:
            name = display.document_label(kind)
            lines.append(Message(display.MISSING_LINE, {"document": name}))
            send = Message(SEND_BUTTON, {"document": name})
            rows.append((Button(send, info_upload_button_data(kind.value)),))
    if question:
        lines.append(Message(OFFICER_ASKS, {"question": question}))
        rows.append((Button(Message(ANSWER_BUTTON), info_answer_button_data()),))
    if kinds:
        lines.append(Message(HOW_TO_SEND))
    if question:
        lines.append(Message(HOW_TO_ANSWER))
    if not lines:
        lines.append(Message(NOTHING_NEEDED))
    return tuple(lines), tuple(rows)
