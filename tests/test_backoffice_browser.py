"""The pages in a real browser (Debian's chromium through Playwright), in both languages.

An officer signs in with password and TOTP through the forms, switches the back-office to
Chinese, and the queue and an application page are screenshotted and checked for their key
text; then the same in English. Only strings the Chinese catalog already translates are
asserted, so the test follows the catalog as it grows.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, Page

from lending.workflow import Status, status_label
from locales import gettext_for
from storage.audit import record
from storage.casework import record_applicant_reply
from storage.database import Database
from tests.test_backoffice_harness import (
    PASSWORD,
    Clock,
    OfficerFacts,
    add_application,
    add_officer,
    cipher,
    make_client,
)

pytestmark = pytest.mark.browser

# Key text of each page (English message ids); those the catalog translates are asserted.
QUEUE_TEXT = (
    "Review queue",
    "Search",
    "Reference",
    "Company",
    "Amount",
    "Assigned to me",
    "Waiting on applicant",
    status_label(Status.SUBMITTED),
    status_label(Status.UNDER_REVIEW),
)
APPLICATION_TEXT = (
    "Answers",
    "Documents",
    "Timeline",
    "Company name",
    "Mobile phone",
    "Applicant wrote",
    "Submitted by the applicant",
    "Open and assign to me",
    "Message the applicant",
)
MINIMUM_TRANSLATED = 3


@pytest.fixture
def clock() -> Clock:
    return Clock()


def translated(messages: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = [(message, gettext_for("zh_Hans", message)) for message in messages]
    found = [(english, chinese) for english, chinese in pairs if chinese != english]
    assert len(found) >= MINIMUM_TRANSLATED, f"too few translated: {[e for e, _ in found]}"
    return found


async def sign_in(page: Page, base: str, officer: OfficerFacts, clock: Clock) -> None:
    await page.goto(base + "/login")
    await page.fill("input[name=username]", officer.username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] button")
    await page.wait_for_url(base + "/login/totp")
    await page.fill("input[name=code]", officer.code(clock.now))
    await page.click("form[action='/login/totp'] button")
    await page.wait_for_url(base + "/")


async def shown(page: Page, screenshot: Path) -> str:
    """The page's visible text, after a full-page screenshot that must not be blank."""
    image = await page.screenshot(path=str(screenshot), full_page=True)
    assert image.startswith(b"\x89PNG") and len(image) > 10_000
    return await page.inner_text("body")


async def test_queue_and_application_pages_in_chinese_and_english(
    aiohttp_client: Any,
    database: Database,
    clock: Clock,
    data_dir: Path,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    client = await make_client(aiohttp_client, database, clock, data_dir)
    base = str(client.make_url("")).rstrip("/")
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    application_id = await add_application(
        database, company="杭州绿茶有限公司", phone="13812345678"
    )
    async with database.unit_of_work() as session:
        await record(
            session,
            actor_type="applicant",
            actor_id="1",
            action="application.submitted",
            subject_type="application",
            subject_id=str(application_id),
            now=clock.now,
        )
        await record_applicant_reply(
            session,
            cipher(),
            application_id=application_id,
            text="请问还需要什么材料？",
            document_type=None,
            now=clock.now,
        )
    page = await chromium.new_page(viewport={"width": 1280, "height": 900})
    await sign_in(page, base, officer, clock)

    await page.click("button[name=locale][value=zh_Hans]")
    await page.wait_for_url(base + "/")
    assert await page.get_attribute("html", "lang") == "zh-Hans"
    queue = await shown(page, tmp_path / "queue-zh.png")
    for english, chinese in translated(QUEUE_TEXT):
        assert chinese in queue, english
    assert "杭州绿茶有限公司" in queue

    await page.click(f"a[href='/applications/{application_id}']")
    await page.wait_for_url(f"{base}/applications/{application_id}")
    application = await shown(page, tmp_path / "application-zh.png")
    for english, chinese in translated(APPLICATION_TEXT):
        assert chinese in application, english
    assert "请问还需要什么材料？" in application
    assert "138****5678" in application and "13812345678" not in application

    await page.click("button[name=locale][value=en]")
    await page.wait_for_url(f"{base}/applications/{application_id}")
    assert await page.get_attribute("html", "lang") == "en"
    english_application = await shown(page, tmp_path / "application-en.png")
    for english in APPLICATION_TEXT:
        assert english in english_application
    await page.goto(base + "/")
    english_queue = await shown(page, tmp_path / "queue-en.png")
    for english in QUEUE_TEXT:
        assert english in english_queue
    await page.close()
