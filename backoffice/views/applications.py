"""The application page: answers masked by default, an audited reveal, documents, the
thread with the applicant, and the decisions the reader may take.

Every read of personal data is audited: opening the page, revealing the ID and phone (with
the reason given), and each document download. The page is read in a read-only unit of work
and its audit event written in a short one, shared with the events of concurrent reads
(`backoffice.audit_writer`); nothing is shown unless that event has committed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Mapping
from contextlib import aclosing

from aiohttp import web

from backoffice import keys
from backoffice.access import MESSENGERS, UNMASKERS
from backoffice.casefile import (
    Reader,
    document_label,
    find_application,
    find_document,
    load_case_file,
)
from backoffice.forms import read_form, text
from backoffice.rendering import render
from backoffice.sessions import SignedIn
from lending.products import DocumentType
from lending.workflow import TERMINAL_STATUSES, Status, Trigger, status_label, trigger_label
from locales import N_
from storage.applications import document_record
from storage.casework import MAX_TEXT_LENGTH
from storage.fields import FieldCipher
from storage.vault import DocumentNotFoundError, VaultError

log = logging.getLogger(__name__)

MAX_REASON_LENGTH = 500
# Only types the upload check lets in are served under their own type; anything else is
# sent as opaque bytes so a browser never renders it.
SERVED_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def _safe_name(doc_type: str) -> str:
    return re.sub(r"[^a-z0-9_]", "", doc_type.lower())[:40] or "document"


def _officer(request: web.Request) -> SignedIn:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    return signed_in


def _cipher(request: web.Request) -> FieldCipher:
    cipher = request.app[keys.FIELD_CIPHER]
    if cipher is None:
        raise web.HTTPServiceUnavailable
    return cipher


def _status_name(value: str | None) -> str:
    """The message id naming a stored status (the value itself if unknown)."""
    try:
        return status_label(Status(value or ""))
    except ValueError:
        return value or ""


def _trigger_name(value: str) -> str:
    return trigger_label(Trigger(value))


def _application_id(request: web.Request) -> int:
    return int(request.match_info["application_id"])


async def render_case_page(
    request: web.Request,
    *,
    reveal_reason: str | None = None,
    error: str | None = None,
    status: int = 200,
    entered: Mapping[str, str] | None = None,
) -> web.StreamResponse:
    """The application page, its read audited; `error` (a message id) explains a refusal and
    `entered` gives back what the officer typed into the refused form."""
    officer = _officer(request)
    cipher = _cipher(request)
    application_id = _application_id(request)
    reveal = reveal_reason is not None and error is None
    reader = Reader(
        officer_id=officer.officer_id,
        role=officer.role,
        approver_required_above=request.app[keys.SETTINGS].approver_required_above,
    )
    database = request.app[keys.DATABASE]
    details: dict[str, object] = {"role": officer.role.value}
    if reveal:
        details["reason"] = reveal_reason
    # Read without the write lock; only the audit event is written, batched with the events
    # of concurrent reads (group commit), while the case file is read. Nothing is shown
    # unless it has committed.
    audited: Awaitable[None] | None = None
    try:
        async with database.reading() as session:
            application = await find_application(session, application_id)
            if application is None:
                raise web.HTTPNotFound
            # Raises ValueError for a reveal reason that itself holds an ID or phone number.
            audited = request.app[keys.AUDIT_WRITER].submit(
                actor_type="officer",
                actor_id=str(officer.officer_id),
                action="application.personal_data_revealed" if reveal else "application.viewed",
                subject_type="application",
                subject_id=str(application_id),
                details=details,
                now=request[keys.NOW],
            )
            case = await load_case_file(session, cipher, application, reveal=reveal, reader=reader)
    finally:
        if audited is not None:
            await audited
    return render(
        request,
        "application.html",
        {
            "case": case,
            "status_label": status_label,
            "status_name": _status_name,
            "trigger_label": _trigger_name,
            "document_label": document_label,
            "document_types": list(DocumentType),
            "approver_required_above": reader.approver_required_above,
            "revealed": reveal,
            "can_reveal": officer.role in UNMASKERS,
            "can_message": officer.role in MESSENGERS and case.status not in TERMINAL_STATUSES,
            "max_text_length": MAX_TEXT_LENGTH,
            "error": error,
            "entered": dict(entered or {}),
        },
        status=400 if error and status == 200 else status,
    )


async def show_application(request: web.Request) -> web.StreamResponse:
    """Every answer, with the ID number and phone masked."""
    return await render_case_page(request)


async def reveal_personal_data(request: web.Request) -> web.StreamResponse:
    """Show the unmasked ID number and phone once, for a reason that goes into the audit."""
    form = await read_form(request)
    reason = " ".join(text(form, "reason", max_length=MAX_REASON_LENGTH).split())
    if not reason:
        return await render_case_page(request, error=N_("Give the reason for seeing this data."))
    try:
        return await render_case_page(request, reveal_reason=reason)
    except ValueError:
        # The audit refuses a reason that itself holds an ID or phone number.
        return await render_case_page(
            request, error=N_("The reason must not contain an ID or phone number.")
        )


async def download_document(request: web.Request) -> web.StreamResponse:
    """Stream a document out of the vault as an attachment; the download is audited first."""
    officer = _officer(request)
    vault = request.app[keys.VAULT]
    if vault is None:
        raise web.HTTPServiceUnavailable
    application_id = _application_id(request)
    document_id = int(request.match_info["document_id"])
    async with request.app[keys.DATABASE].reading() as session:
        document = await find_document(session, application_id, document_id)
    if document is None:
        raise web.HTTPNotFound
    await request.app[keys.AUDIT_WRITER].submit(
        actor_type="officer",
        actor_id=str(officer.officer_id),
        action="document.downloaded",
        subject_type="application",
        subject_id=str(application_id),
        details={"document_id": document.id, "doc_type": document.doc_type},
        now=request[keys.NOW],
    )
    content_type = document.content_type if document.content_type in SERVED_TYPES else ""
    extension = SERVED_TYPES.get(content_type, "bin")
    filename = f"{_safe_name(document.doc_type)}-{document.id}.{extension}"
    async with aclosing(
        vault.open(document.storage_name, document_record(application_id))
    ) as chunks:
        # The first chunk is read before answering, so a missing or damaged file is a clean
        # error page rather than a cut-off download.
        try:
            first = await anext(chunks, b"")
        except DocumentNotFoundError:
            raise web.HTTPNotFound from None
        except VaultError:
            log.exception("document %s could not be decrypted", document.id)
            raise web.HTTPInternalServerError from None
        response = web.StreamResponse(
            headers={
                "Content-Type": content_type or "application/octet-stream",
                "Content-Disposition": f'attachment; filename="{filename}"',
            }
        )
        await response.prepare(request)
        await response.write(first)
        async for chunk in chunks:
            await response.write(chunk)
    await response.write_eof()
    return response
