"""The audit viewer: filters, newest-first keyset pages, chain status and the audited export."""

from __future__ import annotations

import codecs
import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from storage.audit import record
from storage.database import Database
from storage.models import Application, AuditEvent
from tests.test_backoffice_harness import (
    Browser,
    Clock,
    OfficerFacts,
    add_application,
    add_officer,
    audit_events,
    cipher,
    make_client,
)

# Asia/Shanghai is UTC+8: 15:00 UTC on 1 March is 23:00 there, 17:00 UTC is 01:00 on 2 March.
LATE_ON_THE_FIRST = datetime(2026, 3, 1, 15, 0, tzinfo=UTC)
EARLY_ON_THE_SECOND = datetime(2026, 3, 1, 17, 0, tzinfo=UTC)
_SEQ = re.compile(r'<td class="number">(\d+)</td>')
_NEXT = re.compile(r'<a href="(/audit\?[^"]*before=\d+[^"]*)">')


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Any:
    return await make_client(aiohttp_client, database, clock, data_dir)


async def signed_in(client: Any, database: Database, clock: Clock, who: OfficerFacts) -> Browser:
    browser = Browser(client)
    await browser.open_session(database, who, clock)
    return browser


async def auditor(client: Any, database: Database, clock: Clock) -> Browser:
    facts = await add_officer(database, cipher(), username="sun.audit", role="auditor")
    return await signed_in(client, database, clock, facts)


async def seed(database: Database, events: list[dict[str, Any]]) -> None:
    async with database.unit_of_work() as session:
        for event in events:
            await record(session, **({"actor_id": None} | event))


def table_rows(page_text: str) -> list[list[str]]:
    """The audit table's rows as plain text cells (seq, time, actor, action, subject, ...)."""
    rows = re.findall(r"<tr>\s*(<td class=\"number\">.*?)</tr>", page_text, re.S)
    return [
        [
            " ".join(html.unescape(re.sub(r"<[^>]+>", "", cell)).split())
            for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        ]
        for row in rows
    ]


def seqs(page_text: str) -> list[int]:
    return [int(seq) for seq in _SEQ.findall(page_text)]


async def test_filters_by_officer_application_action_and_business_day(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await auditor(client, database, clock)
    application_id = await add_application(database, company="Golden Dragon")
    other_id = await add_application(database, company="Other Firm")
    async with database.unit_of_work() as session:
        found = await session.get(Application, application_id)
        assert found is not None and found.reference is not None
        reference = found.reference
    base = {"subject_type": "application"}
    await seed(
        database,
        [
            {
                **base,
                "actor_type": "officer",
                "actor_id": "41",
                "action": "application.viewed",
                "subject_id": str(application_id),
                "now": LATE_ON_THE_FIRST,
            },
            {
                **base,
                "actor_type": "officer",
                "actor_id": "41",
                "action": "application.open",
                "subject_id": str(application_id),
                "now": EARLY_ON_THE_SECOND,
            },
            {
                **base,
                "actor_type": "applicant",
                "actor_id": "41",
                "action": "application.viewed",
                "subject_id": str(other_id),
                "now": EARLY_ON_THE_SECOND,
            },
            {
                **base,
                "actor_type": "officer",
                "actor_id": "42",
                "action": "application.viewed",
                "subject_id": str(other_id),
                "now": EARLY_ON_THE_SECOND,
            },
        ],
    )

    async def shown(query: str) -> list[tuple[str, str]]:
        page = await browser.get("/audit?" + query)
        assert page.status == 200, page.text
        return [(row[2], row[3]) for row in table_rows(page.text)]

    by_officer = await shown("officer=41")
    assert by_officer == [
        ("officer 41", "application.open"),
        ("officer 41", "application.viewed"),
    ]  # the applicant who is also "41" is not officer 41; newest first
    by_reference = await shown("application=" + reference.lower())
    assert [action for _, action in by_reference] == ["application.open", "application.viewed"]
    assert await shown(f"application={other_id}&action=application.viewed") == [
        ("officer 42", "application.viewed"),
        ("applicant 41", "application.viewed"),
    ]
    # 2 March in Shanghai starts at 16:00 UTC on 1 March.
    second = await shown("officer=41&since=2026-03-02&until=2026-03-02")
    assert second == [("officer 41", "application.open")]
    assert await shown("officer=41&until=2026-03-01") == [("officer 41", "application.viewed")]
    unknown = await browser.get("/audit?application=SME-2026-999999")
    assert "No application has that reference or number." in unknown.text
    assert seqs(unknown.text) == []


async def test_keyset_pages_walk_the_whole_trail_newest_first(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await auditor(client, database, clock)
    await seed(
        database,
        [
            {
                "actor_type": "system",
                "action": "test.tick",
                "details": {"n": n},
                "now": clock.now + timedelta(seconds=n),
            }
            for n in range(120)
        ],
    )
    seen: list[int] = []
    url = "/audit?action=test.tick"
    for _ in range(10):
        page = await browser.get(url)
        seen += seqs(page.text)
        found = _NEXT.search(page.text)
        if found is None:
            break
        url = html.unescape(found.group(1))
        assert "action=test.tick" in url  # the filter travels with the page
    assert len(seen) == 120
    assert seen == sorted(seen, reverse=True)


async def test_chain_status_says_intact_or_names_the_first_bad_event(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await auditor(client, database, clock)
    await seed(
        database,
        [{"actor_type": "system", "action": "test.tick", "now": clock.now} for _ in range(5)],
    )
    total = len(await audit_events(database))

    intact = await browser.get("/audit/chain")
    assert intact.status == 200
    assert f"The chain is intact: {total} events." in intact.text

    async with database.unit_of_work() as session:
        await session.execute(
            update(AuditEvent).where(AuditEvent.seq == 3).values(action="test.edited")
        )
    broken = await browser.get("/audit/chain")
    assert "The chain is broken at event #3" in broken.text
    assert "intact" not in broken.text


async def test_csv_export_is_streamed_filtered_and_itself_audited(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await auditor(client, database, clock)
    await seed(
        database,
        [
            {
                "actor_type": "officer",
                "actor_id": "41",
                "action": "application.viewed",
                "subject_type": "application",
                "subject_id": "5",
                "now": clock.now,
                "details": {"reason": '=HYPERLINK("http://evil")'},
            },
            {
                "actor_type": "officer",
                "actor_id": "42",
                "action": "application.viewed",
                "subject_type": "application",
                "subject_id": "5",
                "now": clock.now,
            },
        ],
    )
    async with browser.client.get(
        "/audit/export.csv?officer=41",
        headers={"Cookie": f"__Host-session={browser.cookies['__Host-session']}"},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert response.headers["Content-Disposition"].startswith('attachment; filename="audit-')
        assert response.headers["Cache-Control"] == "no-store"
        body = await response.read()

    rows = list(csv.reader(io.StringIO(body.removeprefix(codecs.BOM_UTF8).decode("utf-8"))))
    assert rows[0][:5] == ["seq", "occurred_at", "actor_type", "actor_id", "action"]
    assert [(row[3], row[4]) for row in rows[1:]] == [("41", "application.viewed")]
    assert rows[1][7] == '{"reason":"=HYPERLINK(\\"http://evil\\")"}'
    exported = (await audit_events(database))[-1]
    assert exported.action == "audit.exported"
    assert exported.details == {"role": "auditor", "actor_type": "officer", "actor_id": "41"}


@pytest.mark.parametrize(
    "query",
    ["officer=abc", "since=2026-13-01", "until=yesterday", "action=%3Cscript%3E"],
)
async def test_filters_that_make_no_sense_are_refused(
    client: Any, database: Database, clock: Clock, query: str
) -> None:
    browser = await auditor(client, database, clock)
    events_before = len(await audit_events(database))

    page = await browser.get("/audit?" + query)
    export = await browser.get("/audit/export.csv?" + query)

    assert page.status == 400 and "<script>" not in page.text
    assert export.status == 400
    assert len(await audit_events(database)) == events_before  # no export was recorded


async def test_html_in_event_details_is_escaped(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await auditor(client, database, clock)
    await seed(
        database,
        [
            {
                "actor_type": "officer",
                "actor_id": "1",
                "action": "application.reject",
                "details": {"reason": "<script>alert(1)</script>"},
                "now": clock.now,
            }
        ],
    )
    page = await browser.get("/audit")
    assert "<script>alert(1)" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


@pytest.mark.parametrize("role", ["officer", "approver"])
async def test_officers_and_approvers_do_not_read_the_audit_trail(
    client: Any, database: Database, clock: Clock, role: str
) -> None:
    facts = await add_officer(database, cipher(), username=f"as.{role}", role=role)
    browser = await signed_in(client, database, clock, facts)
    for path in ("/audit", "/audit/chain", "/audit/export.csv"):
        assert (await browser.get(path)).status == 403
    assert "audit.exported" not in [event.action for event in await audit_events(database)]


async def test_administrators_read_the_audit_trail(
    client: Any, database: Database, clock: Clock
) -> None:
    facts = await add_officer(database, cipher(), username="chen.admin", role="admin")
    browser = await signed_in(client, database, clock, facts)
    page = await browser.get("/audit")
    assert page.status == 200 and 'href="/audit"' in page.text
