"""The application page's forms: open, request information, message, recommend, approve,
reject, disburse. Each reads the fields it names, calls one `storage.casework` service and
answers with a redirect back to the page, or with the page and the reason for a refusal.

The route table lets only the roles that could ever take a step reach its handler; the
workflow (lending/workflow.py, through storage/casework.py) then decides whether this
officer may take it on this application now. A refusal changes nothing; one about who is asking
(four eyes, role, the approver-only limit) is audited.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice import keys
from backoffice.forms import FormData, read_form, redirect, text
from backoffice.sessions import SignedIn
from backoffice.views.applications import render_case_page
from lending.products import DocumentType
from lending.workflow import Trigger
from storage import casework
from storage.audit import record
from storage.casework import FORBIDDEN_CODES, MAX_TEXT_LENGTH, DecisionError
from storage.fields import FieldCipher

# One more than allowed, so an over-long text is refused rather than silently cut.
_TEXT_FIELD_LENGTH = MAX_TEXT_LENGTH + 1
# The code of a refusal that is about the application's state rather than the input.
_CONFLICT_CODES = frozenset({"illegal_transition", "documents_missing", "not_open"})

Change = Callable[[AsyncSession, FieldCipher, int, int], Awaitable[object]]


def _signed_in(request: web.Request) -> SignedIn:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    return signed_in


def _cipher(request: web.Request) -> FieldCipher:
    cipher = request.app[keys.FIELD_CIPHER]
    if cipher is None:
        raise web.HTTPServiceUnavailable
    return cipher


async def _act(
    request: web.Request, action: str, change: Change, entered: Mapping[str, str]
) -> web.StreamResponse:
    """Run one change in its own unit of work; on success go back to the page."""
    officer = _signed_in(request)
    cipher = _cipher(request)
    application_id = int(request.match_info["application_id"])
    try:
        async with request.app[keys.DATABASE].unit_of_work() as session:
            await change(session, cipher, application_id, officer.officer_id)
    except DecisionError as refused:
        return await _refused(request, officer, action, refused, entered)
    request.app[keys.STATUS_COUNTER].invalidate()
    return redirect(f"/applications/{application_id}")


async def _refused(
    request: web.Request,
    officer: SignedIn,
    action: str,
    refused: DecisionError,
    entered: Mapping[str, str],
) -> web.StreamResponse:
    if refused.code == "not_found":
        raise web.HTTPNotFound
    if refused.code in FORBIDDEN_CODES:
        # The change was rolled back; the attempt itself is kept.
        async with request.app[keys.DATABASE].unit_of_work() as session:
            await record(
                session,
                actor_type="officer",
                actor_id=str(officer.officer_id),
                action="application.decision_refused",
                subject_type="application",
                subject_id=request.match_info["application_id"],
                details={"action": action, "code": refused.code, "role": officer.role.value},
                now=request[keys.NOW],
            )
        status = 403
    elif refused.code in _CONFLICT_CODES:
        status = 409
    else:
        status = 400
    return await render_case_page(request, error=refused.message, status=status, entered=entered)


async def _fire(
    request: web.Request, trigger: Trigger, *, reason: str | None
) -> web.StreamResponse:
    limit = request.app[keys.SETTINGS].approver_required_above
    now = request[keys.NOW]

    async def change(
        session: AsyncSession, _cipher: FieldCipher, application_id: int, officer_id: int
    ) -> object:
        return await casework.apply_decision(
            session,
            application_id=application_id,
            officer_id=officer_id,
            trigger=trigger,
            approver_required_above=limit,
            reason=reason,
            now=now,
        )

    return await _act(request, trigger.value, change, {"reason": reason or ""})


async def open_application(request: web.Request) -> web.StreamResponse:
    """Start the review and assign the application to the signed-in officer."""
    return await _fire(request, Trigger.OPEN, reason=None)


async def recommend(request: web.Request) -> web.StreamResponse:
    """Recommend for approval (every required document must be in)."""
    return await _fire(request, Trigger.RECOMMEND, reason=None)


async def approve(request: web.Request) -> web.StreamResponse:
    """Approve: never by the recommender; above the limit, approvers only."""
    return await _fire(request, Trigger.APPROVE, reason=None)


async def disburse(request: web.Request) -> web.StreamResponse:
    """Record the pay-out of an accepted offer."""
    return await _fire(request, Trigger.DISBURSE, reason=None)


async def reject(request: web.Request) -> web.StreamResponse:
    """Reject, with the reason the applicant will read."""
    form = await read_form(request)
    return await _fire(
        request, Trigger.REJECT, reason=text(form, "reason", max_length=_TEXT_FIELD_LENGTH)
    )


def _document_choices(form: FormData) -> list[str]:
    # Unknown values reach the service, which refuses them; the count is bounded by the
    # number of document types so a flood of fields costs nothing.
    return [value for value in form.getall("documents", []) if isinstance(value, str)][
        : len(DocumentType) + 1
    ]


async def request_information(request: web.Request) -> web.StreamResponse:
    """Ask the applicant for missing documents and/or an answer to a question."""
    form = await read_form(request)
    documents = _document_choices(form)
    question = text(form, "question", max_length=_TEXT_FIELD_LENGTH)
    now = request[keys.NOW]

    async def change(
        session: AsyncSession, cipher: FieldCipher, application_id: int, officer_id: int
    ) -> object:
        return await casework.request_information(
            session,
            cipher,
            application_id=application_id,
            officer_id=officer_id,
            documents=documents,
            question=question,
            now=now,
        )

    return await _act(request, Trigger.REQUEST_INFO.value, change, {"question": question})


async def message_applicant(request: web.Request) -> web.StreamResponse:
    """Send the applicant a message in chat; it joins the application's thread."""
    form = await read_form(request)
    body = text(form, "message", max_length=_TEXT_FIELD_LENGTH)
    now = request[keys.NOW]

    async def change(
        session: AsyncSession, cipher: FieldCipher, application_id: int, officer_id: int
    ) -> object:
        return await casework.message_applicant(
            session,
            cipher,
            application_id=application_id,
            officer_id=officer_id,
            body=body,
            now=now,
        )

    return await _act(request, "message", change, {"message": body})
