"""The sandbox web chat page: a real browser (Debian's chromium through Playwright) playing
the applicant against the real PTB bot, plus the page's security headers and API guards."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import aiohttp
import pytest
from playwright.async_api import Browser, FilePayload, Page, expect

from bot.sandbox import BotApiEmulator
from tests.sandbox_helpers import StartApplication, build_demo_bot


async def open_chat(chromium: Browser, emulator: BotApiEmulator) -> Page:
    page = await chromium.new_page(viewport={"width": 390, "height": 844}, locale="zh-CN")
    await page.goto(f"{emulator.url}/chat")
    await page.fill("#setup-name", "李明")
    await page.select_option("#setup-language", "zh-hans")
    await page.click("#setup-submit")
    return page


async def say(page: Page, text: str) -> None:
    await page.fill("#text", text)
    await page.press("#text", "Enter")


@pytest.mark.browser
async def test_a_person_chats_with_the_bot_in_chinese(
    emulator: BotApiEmulator,
    ptb_application: StartApplication,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    await ptb_application(build_demo_bot)
    page = await open_chat(chromium, emulator)
    bot_texts = page.locator(".from-bot .text")

    await expect(page.locator("#start-button")).to_have_text("开始")
    await say(page, "你好，我想申请贷款")
    await expect(bot_texts.last).to_have_text("你好，我想申请贷款")

    await say(page, "/buttons")
    agree = page.get_by_role("button", name="同意", exact=True)
    await expect(agree).to_be_visible()
    screenshot = tmp_path / "chat.png"
    await page.screenshot(path=str(screenshot), full_page=True)
    assert screenshot.stat().st_size > 0
    assert await agree.text_content() == "同意"
    question = page.locator(".from-bot", has=agree)
    question_id = await question.get_attribute("data-message-id")

    await agree.click()
    edited = page.locator(f'[data-message-id="{question_id}"]')
    await expect(edited.locator(".text")).to_have_text("Chosen: agree")
    await expect(edited.locator("strong")).to_have_text("Chosen:")
    await expect(edited.locator(".edited")).to_have_text("已编辑")
    await expect(page.locator("#toast")).to_have_text("pressed agree")
    await expect(agree).to_have_count(0)
    assert await page.evaluate("document.documentElement.lang") == "zh-Hans"


@pytest.mark.browser
async def test_contact_button_and_file_upload_work_from_the_page(
    emulator: BotApiEmulator, ptb_application: StartApplication, chromium: Browser
) -> None:
    await ptb_application(build_demo_bot)
    page = await open_chat(chromium, emulator)
    await expect(page.locator("#start-button")).to_be_visible()
    user_id = await page.evaluate("JSON.parse(localStorage.getItem('sandbox.session')).user_id")

    await say(page, "/contact")
    share = page.locator("#reply-keyboard button", has_text="Share my phone")
    await share.click()
    await expect(page.locator(".from-bot .text").last).to_have_text(
        f"contact user_id={user_id} phone=+8613800138000"
    )
    await expect(page.locator("#reply-keyboard")).to_be_hidden()

    licence = FilePayload(name="licence.pdf", mimeType="application/pdf", buffer=b"%PDF-1.7 test")
    await page.set_input_files("#file-input", files=[licence])
    await expect(page.locator(".from-bot .document").last).to_have_text("📄 echo-licence.pdf")
    await expect(page.locator(".from-user .document").last).to_have_text("📄 licence.pdf")


class _ScriptAudit(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.inline_scripts = 0
        self.scripts_with_src: list[str] = []
        self.handler_attributes: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handler_attributes += [name for name, _ in attrs if name.lower().startswith("on")]
        if tag == "script":
            source = dict(attrs).get("src")
            if source:
                self.scripts_with_src.append(source)
            else:
                self.inline_scripts += 1


async def test_the_page_has_no_inline_script_and_a_strict_csp(emulator: BotApiEmulator) -> None:
    async with aiohttp.ClientSession() as session, session.get(f"{emulator.url}/chat") as response:
        html = await response.text()
        headers = response.headers

    audit = _ScriptAudit()
    audit.feed(html)

    assert response.status == 200
    assert audit.inline_scripts == 0
    assert audit.scripts_with_src == ["/sandbox/static/chat.js"]
    assert audit.handler_attributes == []
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert (
        "Noto Sans CJK SC"
        in (Path(__file__).parents[1] / "bot/sandbox/static/chat.css").read_text()
    )


async def test_the_page_api_refuses_cross_site_requests(emulator: BotApiEmulator) -> None:
    user = emulator.user(7)
    url = f"{emulator.url}/sandbox/api/send"
    async with aiohttp.ClientSession() as session:
        foreign = await session.post(
            url, json={"user_id": 7, "text": "hi"}, headers={"Origin": "http://evil.example"}
        )
        as_form = await session.post(url, data={"user_id": "7", "text": "hi"})
        unknown = await session.post(url, json={"user_id": 8, "text": "hi"})
        accepted = await session.post(
            url, json={"user_id": 7, "text": "hi"}, headers={"Origin": emulator.url}
        )

    assert (foreign.status, as_form.status, unknown.status, accepted.status) == (403, 415, 404, 200)
    assert emulator.world.updates.pending_count == 1
    assert user.history == []


async def test_the_page_serves_files_only_to_their_own_chat(emulator: BotApiEmulator) -> None:
    owner = emulator.user(7)
    emulator.user(8)
    await owner.send_document(b"%PDF-private", file_name="id-card.pdf")
    file_id = emulator.world.chats[7].events[-1].message.attachment.file_id  # type: ignore[union-attr]
    url = f"{emulator.url}/sandbox/api/files/{file_id}"

    async with aiohttp.ClientSession() as session:
        own = await session.get(url, params={"user_id": "7"})
        own_body = await own.read()
        other = await session.get(url, params={"user_id": "8"})

    assert own.status == 200 and own_body == b"%PDF-private"
    assert own.headers["Content-Disposition"] == 'attachment; filename="id-card.pdf"'
    assert other.status == 404


async def test_events_report_messages_in_order_with_the_reply_keyboard(
    emulator: BotApiEmulator,
) -> None:
    async with aiohttp.ClientSession() as session:
        started = await session.post(
            f"{emulator.url}/sandbox/api/session",
            json={"first_name": "Ann", "language_code": "en"},
        )
        user_id = (await started.json())["user_id"]
        await session.post(
            f"{emulator.url}/sandbox/api/send", json={"user_id": user_id, "text": "hi"}
        )
        events = await session.get(
            f"{emulator.url}/sandbox/api/events", params={"user_id": str(user_id), "after": "0"}
        )
        body = await events.json()

    assert [e["message"]["text"] for e in body["events"]] == ["hi"]
    assert body["cursor"] == 1
    assert body["reply_keyboard"] is None
    assert emulator.known_user(user_id) is not None
