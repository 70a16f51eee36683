"""The review queue: counts, filters, keyset paging, and search through the blind index."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from backoffice.queue import PAGE_SIZE, Cursor
from storage.database import Database
from storage.models import Applicant, Application
from tests.test_backoffice_harness import (
    START,
    Browser,
    Clock,
    add_application,
    add_officer,
    audit_events,
    cipher,
    make_client,
)

_ROW_LINK = re.compile(r'href="/applications/(\d+)"')


def _listed(page_text: str) -> list[int]:
    return [int(found) for found in _ROW_LINK.findall(page_text)]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def officer_browser(
    aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path
) -> Browser:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    browser = Browser(await make_client(aiohttp_client, database, clock, data_dir))
    await browser.open_session(database, officer, clock)
    return browser


async def test_counts_per_status_and_status_filter(
    officer_browser: Browser, database: Database
) -> None:
    first = await add_application(database, company="Alpha Tea", status="submitted")
    second = await add_application(database, company="Beta Noodles", status="under_review")
    await add_application(database, company="Gamma Steel", status="under_review")
    page = await officer_browser.get("/")

    assert page.status == 200
    assert "Submitted: 1" in page.text and "Under review: 2" in page.text
    assert first in _listed(page.text) and second in _listed(page.text)
    only_submitted = await officer_browser.get("/?status=submitted")
    assert _listed(only_submitted.text) == [first]
    junk = await officer_browser.get("/?status=approved%27%20OR%201=1&age=abc&after=zzz")
    assert junk.status == 200 and len(_listed(junk.text)) == 3


async def test_filters_mine_waiting_and_age(officer_browser: Browser, database: Database) -> None:
    mine = await add_application(
        database, company="Mine Ltd", status="under_review", assigned_to=1, hours_ago=2
    )
    waiting = await add_application(
        database, company="Waiting Ltd", status="info_requested", hours_ago=100
    )
    await add_application(database, company="Fresh Ltd", status="submitted", hours_ago=1)

    assert _listed((await officer_browser.get("/?mine=1")).text) == [mine]
    assert _listed((await officer_browser.get("/?waiting=1")).text) == [waiting]
    assert _listed((await officer_browser.get("/?age=3")).text) == [waiting]


async def test_keyset_pages_cover_every_application_once_oldest_first(
    officer_browser: Browser, database: Database
) -> None:
    total = PAGE_SIZE * 2 + 7
    ids = [
        await add_application(database, company=f"Firm {n}", hours_ago=total - n // 2)
        for n in range(total)
    ]
    seen: list[int] = []
    url = "/"
    while True:
        page = await officer_browser.get(url)
        seen += _listed(page.text)
        found = re.search(r'href="(/\?after=[0-9.]+)"', page.text)
        if not found:
            break
        url = found.group(1)

    assert seen == ids  # oldest first; ties (same hour) broken by id
    assert len(set(seen)) == total


def test_cursor_round_trip_and_garbage() -> None:
    cursor = Cursor(START + timedelta(microseconds=123), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for garbage in ("", "1", "a.b", "1.2.3", "-1.2", "9" * 30 + ".1", "1e5.2"):
        assert Cursor.decode(garbage) is None


async def test_search_by_reference_company_phone_and_id_number(
    officer_browser: Browser, database: Database
) -> None:
    wanted = await add_application(
        database,
        company="Golden Dragon Trading",
        phone="13812345678",
        id_number="11010119900307123X",
    )
    await add_application(
        database, company="Silver Tiger", phone="13900001111", id_number="110101199003071234"
    )
    await officer_browser.get("/")
    reference = f"SME-{START.year}-{wanted:06d}"

    for entry in (
        reference,
        "golden drag",
        "138 1234 5678",
        "+8613812345678",
        "11010119900307123x",
    ):
        page = await officer_browser.post("/", {"q": entry})
        assert page.status == 200
        assert _listed(page.text) == [wanted], entry

    assert _listed((await officer_browser.post("/", {"q": "1381234567"})).text) == []
    assert _listed((await officer_browser.post("/", {"q": "%"})).text) == []
    events = [
        event for event in await audit_events(database) if event.action == "application.searched"
    ]
    assert [event.details["by"] for event in events] == ["phone", "phone", "id_number"]
    assert "13812345678" not in str([event.details for event in events])


async def test_html_in_applicant_data_is_escaped_in_the_queue(
    officer_browser: Browser, database: Database
) -> None:
    await add_application(database, company='<script>alert("x")</script>')
    page = await officer_browser.get("/")
    assert '<script>alert("x")' not in page.text
    assert "&lt;script&gt;" in page.text


async def test_queue_shows_no_drafts(officer_browser: Browser, database: Database) -> None:
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=5, chat_id=5)
        session.add(applicant)
        await session.flush()
        session.add(Application(applicant_id=applicant.id, status="draft", company_name="Draft Co"))
    page = await officer_browser.get("/")
    assert "Draft Co" not in page.text
