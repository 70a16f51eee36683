"""The audit viewer (auditors and administrators): the trail filtered by officer,
application, action and date, newest first in keyset pages; the chain's status on request;
and a streamed CSV export, itself audited as "audit.exported".

Filters travel in the query string: they hold ids, action names and dates, never personal
data. Pages are read in read-only units of work; the queries are storage.audit_queries'.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from urllib.parse import urlencode

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice import keys
from backoffice.rendering import render
from backoffice.sessions import SignedIn
from locales import N_
from storage.audit import ChainReport, canonical_json, record, verify_chain
from storage.audit_queries import AuditFilter, export_csv, list_events
from storage.models import Application, AuditEvent, Officer

_REFERENCE = re.compile(r"SME-\d{4}-\d{6,}")
_ACTION = re.compile(r"[a-z_]{1,32}(?:\.[a-z_]{1,32}){0,3}")
_FILTER_FIELDS = ("officer", "application", "action", "since", "until")


@dataclass(frozen=True)
class AuditQuery:
    """The viewer's filters as the officer typed them, and what they mean for the query.

    `problem` (a message id) names a filter that could not be understood; `matches_nothing`
    is set when the application filter names no application.
    """

    values: dict[str, str]
    flt: AuditFilter
    problem: str | None = None
    matches_nothing: bool = False

    def query_string(self, **extra: str) -> str:
        kept = {name: value for name, value in self.values.items() if value}
        return urlencode(kept | extra)


def _signed_in(request: web.Request) -> SignedIn:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    return signed_in


def _day(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


async def _application_id(session: AsyncSession, value: str) -> int | None:
    """The application named by its id or its reference; None when there is none."""
    if (number := _whole_number(value)) is not None:
        return number
    reference = value.upper()
    if not _REFERENCE.fullmatch(reference):
        return None
    found = await session.scalar(select(Application.id).where(Application.reference == reference))
    return int(found) if found is not None else None


async def _audit_query(
    request: web.Request, session: AsyncSession, params: Mapping[str, str]
) -> AuditQuery:
    """Read the filters; anything not understood is named, never passed on to the query."""
    values = {name: params.get(name, "").strip()[:64] for name in _FILTER_FIELDS}
    zone = request.app[keys.SETTINGS].timezone
    problem = None
    officer_id = None
    if values["officer"]:
        officer_id = _whole_number(values["officer"])
        if officer_id is None:
            problem = N_("Choose an officer from the list.")
    application_id = None
    if values["application"]:
        # An unknown application still filters: on id 0, which no application has.
        application_id = await _application_id(session, values["application"]) or 0
    action = values["action"] or None
    if action is not None and not _ACTION.fullmatch(action):
        problem, action = N_("Choose an action from the list."), None
    bounds: dict[str, datetime | None] = {"since": None, "until": None}
    for name, day_offset in (("since", 0), ("until", 1)):
        if not values[name]:
            continue
        day = _day(values[name])
        if day is None:
            problem = N_("Write dates as YYYY-MM-DD.")
            continue
        # Business days in the business time zone: "until 3 March" includes all of it.
        bounds[name] = datetime.combine(day + timedelta(days=day_offset), time(), tzinfo=zone)
    flt = AuditFilter(
        actor_type="officer" if officer_id is not None else None,
        actor_id=str(officer_id) if officer_id is not None else None,
        subject_type="application" if application_id is not None else None,
        subject_id=str(application_id) if application_id is not None else None,
        action=action,
        since=bounds["since"],
        until=bounds["until"],
    )
    return AuditQuery(values, flt, problem, matches_nothing=application_id == 0)


def _whole_number(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None


def _before(params: Mapping[str, str]) -> int | None:
    return _whole_number(params.get("before", ""))


async def _page(request: web.Request, *, chain: ChainReport | None) -> web.StreamResponse:
    _signed_in(request)
    params = request.query
    async with request.app[keys.DATABASE].reading() as session:
        query = await _audit_query(request, session, params)
        page = await list_events(session, query.flt, before_seq=_before(params))
        officers = list(
            (
                await session.execute(
                    select(Officer.id, Officer.username, Officer.display_name).order_by(
                        Officer.username
                    )
                )
            ).all()
        )
        actions = list(
            (
                await session.scalars(
                    select(AuditEvent.action).distinct().order_by(AuditEvent.action)
                )
            ).all()
        )
    names = {str(officer.id): officer.display_name for officer in officers}
    return render(
        request,
        "audit.html",
        {
            "query": query,
            "page": page,
            "officers": officers,
            "officer_names": names,
            "actions": actions,
            "chain": chain,
            "details_text": _details_text,
            "first_page": _before(params) is None,
        },
        status=400 if query.problem else 200,
    )


def _details_text(details: object) -> str:
    return canonical_json(details).decode("utf-8") if details else ""


async def show_audit_trail(request: web.Request) -> web.StreamResponse:
    """The trail, newest first, narrowed by the filters of the query string."""
    return await _page(request, chain=None)


async def verify_audit_chain(request: web.Request) -> web.StreamResponse:
    """Recompute the whole hash chain and show whether it is intact (this takes a while)."""
    return await _page(request, chain=await verify_chain(request.app[keys.DATABASE]))


async def export_audit_trail(request: web.Request) -> web.StreamResponse:
    """The filtered trail as CSV, streamed; the export is audited before the first byte."""
    officer = _signed_in(request)
    database = request.app[keys.DATABASE]
    async with database.reading() as session:
        query = await _audit_query(request, session, request.query)
    if query.problem:
        raise web.HTTPBadRequest
    details: dict[str, object] = {"role": officer.role.value, **query.flt.as_details()}
    now = request[keys.NOW]
    async with database.unit_of_work() as session:
        await record(
            session,
            actor_type="officer",
            actor_id=str(officer.officer_id),
            action="audit.exported",
            subject_type="audit",
            details=details,
            now=now,
        )
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": (
                f'attachment; filename="audit-{now.strftime("%Y%m%d-%H%M%S")}.csv"'
            ),
        }
    )
    await response.prepare(request)
    async for chunk in export_csv(database, query.flt):
        await response.write(chunk)
    await response.write_eof()
    return response
