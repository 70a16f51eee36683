"""The review queue page: counts per status, filters, search and keyset paging.

Filters travel in the query string; a search travels in a POST body instead, so a phone or
ID number typed into the box never lands in a URL, a browser history or an access log.
"""

from __future__ import annotations

from collections.abc import Mapping

from aiohttp import web

from backoffice import keys
from backoffice.forms import read_form, text
from backoffice.queue import (
    AGE_CHOICES,
    MAX_SEARCH_LENGTH,
    Cursor,
    QueueFilters,
    queue_page,
    search_kind,
)
from backoffice.rendering import age_text, render, translate
from lending.workflow import Status, status_label


def _filters(values: Mapping[str, str], search: str = "") -> QueueFilters:
    """Filters from the submitted values; anything unknown is ignored, not trusted."""
    try:
        status = Status(values.get("status", ""))
    except ValueError:
        status = None
    age = values.get("age", "")
    older_than = int(age) if age.isdigit() and int(age) in AGE_CHOICES else None
    return QueueFilters(
        status=None if status is Status.DRAFT else status,
        assigned_to_me=values.get("mine") == "1",
        waiting_on_applicant=values.get("waiting") == "1",
        older_than_days=older_than,
        search=search,
    )


async def _queue(
    request: web.Request, filters: QueueFilters, cursor_text: str
) -> web.StreamResponse:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    now = request[keys.NOW]
    cursor = Cursor.decode(cursor_text) if cursor_text else None
    database = request.app[keys.DATABASE]
    counts = await request.app[keys.STATUS_COUNTER].counts(database)
    async with database.reading() as session:
        page = await queue_page(
            session,
            request.app[keys.FIELD_CIPHER],
            filters,
            officer_id=signed_in.officer_id,
            now=now,
            after=cursor,
        )
    kind = search_kind(filters.search) if filters.search.strip() else None
    if kind in ("phone", "id_number"):
        # Looking people up by personal data is itself a read of personal data; the
        # results are shown only once this is recorded.
        await request.app[keys.AUDIT_WRITER].submit(
            actor_type="officer",
            actor_id=str(signed_in.officer_id),
            action="application.searched",
            details={"by": kind, "results": len(page.rows)},
            now=now,
        )
    locale = request[keys.LOCALE]
    ages = {row.id: age_text(now - row.submitted_at, locale) for row in page.rows}
    return render(
        request,
        "queue.html",
        {
            "counts": counts,
            "filters": filters,
            "page": page,
            "ages": ages,
            "age_choices": AGE_CHOICES,
            "statuses": [status for status in Status if status is not Status.DRAFT],
            # Translated once per page rather than once per row.
            "status_names": {status: translate(request, status_label(status)) for status in Status},
            "first_page": cursor is None,
        },
    )


async def show_queue(request: web.Request) -> web.StreamResponse:
    """The queue with the filters of the query string."""
    return await _queue(request, _filters(request.query), request.query.get("after", ""))


async def search_queue(request: web.Request) -> web.StreamResponse:
    """The queue narrowed by a search entry sent in the request body."""
    form = await read_form(request)
    values = {
        name: text(form, name, max_length=32) for name in ("status", "mine", "waiting", "age")
    }
    search = text(form, "q", max_length=MAX_SEARCH_LENGTH)
    return await _queue(request, _filters(values, search), text(form, "after", max_length=48))
