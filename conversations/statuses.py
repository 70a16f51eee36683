"""How /status names each application status and what the applicant can expect next."""

from __future__ import annotations

from collections.abc import Sequence

from conversations.info_requests import open_request_details
from conversations.replies import Message, Money, Reply
from conversations.snapshot import ApplicationInfo, InfoRequest
from lending.workflow import Status, status_label
from locales import N_

# Applicants see the officers' names for a status except where their own view differs.
_APPLICANT_WORDING = {
    "approved": N_("Approved"),
    "accepted": N_("Offer accepted"),
    "active": N_("Loan active"),
    "rejected": N_("Not approved"),
}
STATUS_LABELS = {status.value: status_label(status) for status in Status} | _APPLICANT_WORDING

NEXT_STEPS = {
    "draft": N_("Answer the remaining questions and submit it: send /apply to continue."),
    "submitted": N_("A loan officer will start reviewing it, usually within 2 working days."),
    "under_review": N_(
        "A loan officer is reviewing it; you will get a message here if anything is needed."
    ),
    "info_requested": N_("Please answer the loan officer's request for information here."),
    "pending_approval": N_("It has been recommended and is waiting for an approver's decision."),
    "approved": N_("We will contact you here about the offer and the contract."),
    "accepted": N_("The loan will be paid out once the contract is signed."),
    "active": N_("Repay each instalment on time; a reminder comes here before each due date."),
    "rejected": N_("You may apply again when your circumstances change: send /apply."),
    "closed": N_("Nothing more to do here. Send /apply for a new application."),
    "withdrawn": N_("Nothing more to do here. Send /apply for a new application."),
    "repaid": N_("The loan is fully repaid. Thank you!"),
    "overdue": N_("Please pay the overdue instalment as soon as you can, or contact us here."),
}

NO_APPLICATIONS = N_("You have no applications yet. Send /apply to start one.")
HEADER = N_("Your applications:")
APPLICATION = N_("Application {reference} — {status}")
DRAFT = N_("Draft application — not submitted yet")
AMOUNT = N_("Amount: {amount}")
SUBMITTED_ON = N_("Submitted on {date}")
NEXT_STEP = N_("Next step: {next_step}")
UNKNOWN_STATUS = N_("Status: {status}")
UNKNOWN_NEXT_STEP = N_("We will message you here when anything changes.")


def status_reply(
    applications: Sequence[ApplicationInfo],
    *,
    has_draft: bool,
    info_request: InfoRequest | None = None,
) -> Reply:
    """Each application's reference, status and next step; a line for an unlisted draft.

    An open request for information follows, with its upload and answer buttons.
    """
    listed = list(applications)
    if has_draft and not any(info.status == "draft" for info in listed):
        listed.append(ApplicationInfo(None, "draft", None, None))
    if not listed and info_request is None:
        return Reply((Message(NO_APPLICATIONS),))
    lines = [Message(HEADER)]
    for info in listed:
        lines.extend(_describe(info))
    if info_request is None:
        return Reply(tuple(lines))
    request_lines, buttons = open_request_details(info_request)
    return Reply((*lines, *request_lines), buttons)


def _describe(info: ApplicationInfo) -> list[Message]:
    label = STATUS_LABELS.get(info.status)
    status = Message(label) if label else Message(UNKNOWN_STATUS, {"status": info.status})
    if info.reference is None:
        lines = [Message(DRAFT)]
    else:
        lines = [Message(APPLICATION, {"reference": info.reference, "status": status})]
    if info.amount is not None:
        lines.append(Message(AMOUNT, {"amount": Money(info.amount)}))
    if info.submitted_at is not None:
        lines.append(Message(SUBMITTED_ON, {"date": info.submitted_at.date()}))
    next_step = NEXT_STEPS.get(info.status, UNKNOWN_NEXT_STEP)
    lines.append(Message(NEXT_STEP, {"next_step": Message(next_step)}))
    return lines
