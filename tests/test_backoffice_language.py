"""The back-office's language: per officer, switched by a form, applied to every page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.database import Database
from tests.test_backoffice_harness import (
    Browser,
    Clock,
    add_application,
    add_officer,
    audit_actions,
    cipher,
    load_officer,
    make_client,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def browser(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Browser:
    return Browser(await make_client(aiohttp_client, database, clock, data_dir))


async def test_language_choice_is_stored_audited_and_used(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.open_session(database, officer, clock)
    assert '<html lang="en">' in (await browser.get("/")).text

    switched = await browser.post(
        "/preferences/language", {"locale": "zh_Hans", "next": "/?mine=1"}
    )

    assert switched.status == 303 and switched.location == "/?mine=1"
    assert (await load_officer(database, officer.id)).locale == "zh_Hans"
    assert '<html lang="zh-Hans">' in (await browser.get("/")).text
    assert "officer.locale_changed" in await audit_actions(database)


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
async def test_language_switch_does_not_redirect_off_site(
    browser: Browser, database: Database, clock: Clock, target: str
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.open_session(database, officer, clock)
    await browser.get("/")

    page = await browser.post("/preferences/language", {"locale": "en", "next": target})

    assert page.status == 303 and page.location == "/"


async def test_unknown_language_is_refused(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.open_session(database, officer, clock)
    await browser.get("/")

    page = await browser.post("/preferences/language", {"locale": "../../etc/passwd"})

    assert page.status == 400
    assert (await load_officer(database, officer.id)).locale == "en"


async def test_sign_in_page_follows_the_browser_language(browser: Browser) -> None:
    chinese = await browser.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    english = await browser.get("/login", headers={"Accept-Language": "en-GB"})
    assert '<html lang="zh-Hans">' in chinese.text
    assert '<html lang="en">' in english.text


async def test_submitted_reads_as_a_status_or_as_a_time_by_where_it_stands(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    application_id = await add_application(database, company="Minjiang Tea Co.")
    await browser.open_session(database, officer, clock)
    await browser.post("/preferences/language", {"locale": "zh_Hans", "next": "/"})

    queue = (await browser.get("/")).text
    page = (await browser.get(f"/applications/{application_id}")).text

    assert "<th>提交时间</th>" in queue
    assert "已提交" in queue, "the submitted application's status"
    assert "提交时间" in page
