"""Turn outbox payloads (status changes, officer messages) into translated chat messages."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from bot.rendering import Markup, render_reply
from conversations.info_requests import info_request_reply
from locales import N_, gettext_for
from storage.models import OutboxMessage

STATUS_CHANGED = "status_changed"
OFFICER_MESSAGE = "officer_message"
INFO_REQUEST = "info_request"

_STATUS_NOTICES = {
    "submitted": N_(
        "We have received your application {reference}. A loan officer will review it."
    ),
    "under_review": N_("Your application {reference} is now being reviewed by a loan officer."),
    "pending_approval": N_(
        "Your application {reference} has been recommended and is waiting for a final decision."
    ),
    "approved": N_(
        "Good news: your application {reference} has been approved. "
        "We will contact you about the contract."
    ),
    "rejected": N_(
        "We are sorry: your application {reference} was not approved this time. "
        "Reason given by the officer: {reason}"
    ),
    "accepted": N_("Thank you for accepting the offer for {reference}."),
    "active": N_("The loan {reference} has been paid out. Repayment reminders will follow here."),
    "closed": N_("The application {reference} is now closed."),
    "withdrawn": N_("Your application {reference} has been withdrawn."),
    "repaid": N_("The loan {reference} is fully repaid. Thank you!"),
    "overdue": N_(
        "A repayment for the loan {reference} is overdue. Please pay as soon as you can."
    ),
}
_UNKNOWN_STATUS = N_("The status of your application {reference} has changed.")
_OFFICER_MESSAGE = N_(
    "Message from your loan officer about {reference}:\n\n{body}\n\nYou can reply here in the chat."
)
_NO_REASON = N_("no reason was given")


@dataclass(frozen=True)
class RenderedNotice:
    text: str
    reply_markup: Markup | None = None


def thread_message_id(message: OutboxMessage) -> int | None:
    """The officer's message a notice carries by reference (its text is stored encrypted)."""
    value = message.payload.get("message_id")
    return value if isinstance(value, int) else None


def render_notice(message: OutboxMessage, locale: str, text: str | None = None) -> RenderedNotice:
    """The chat text for one outbox row, in the applicant's language, user data escaped.

    `text` is the decrypted officer's message or question the row names, if any.
    """
    payload = message.payload
    if message.kind == INFO_REQUEST:
        documents = payload.get("documents") or []
        reply = info_request_reply(
            str(payload.get("reference", "")),
            [str(d) for d in documents] if isinstance(documents, list) else [],
            text or None,
        )
        rendered = render_reply(reply, locale)
        return RenderedNotice(rendered.text, rendered.markup)
    reference = escape(str(payload.get("reference", "")))
    if message.kind == OFFICER_MESSAGE:
        body = escape(text or "")
        return RenderedNotice(
            gettext_for(locale, _OFFICER_MESSAGE).format(reference=reference, body=body)
        )
    template = _STATUS_NOTICES.get(str(payload.get("status")), _UNKNOWN_STATUS)
    reason = payload.get("reason")
    reason_text = escape(str(reason)) if reason else gettext_for(locale, _NO_REASON)
    return RenderedNotice(
        gettext_for(locale, template).format(reference=reference, reason=reason_text)
    )
