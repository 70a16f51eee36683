"""One loan from chat to approval, end to end: the real bot on the emulator, the back-office
on a real port driven by Debian's chromium, and the outbox dispatcher between them.

The applicant applies in chat; an officer signs in (one-time password, TOTP, new password),
opens the application from the queue and asks for a replacement tax certificate with a
question; the applicant presses the notice's button and uploads it; the officer sees it in
the timeline, downloads it and recommends; an approver, in a second browser context,
approves; the applicant reads the news in chat. The audit chain verifies and names every step.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from aiohttp import web
from playwright.async_api import Browser, BrowserContext, Page, expect
from sqlalchemy import select

from backoffice import accounts, second_factor
from backoffice.app import create_app
from bot.outbox_dispatcher import OutboxDispatcher
from bot.pacing import Pacer
from bot.sandbox import BotApiEmulator, BotMessage
from lending.workflow import Status, status_label
from settings import Settings
from storage.audit import verify_chain
from storage.database import Database
from storage.models import Application, AuditEvent, Document
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of
from tests.test_bot_application_flow import (
    PDF,
    answer_up_to_documents,
    press,
    upload_required_documents,
)

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a long passphrase of my own 2026"
TAX_CERTIFICATE = PDF + b"tax-certificate-2025"
QUESTION = "Is the 2025 tax certificate the latest one you have?"


@dataclass(frozen=True)
class Account:
    """An officer made by `accounts.create_officer`, with what its owner was handed."""

    id: int
    username: str
    one_time_password: str = field(repr=False)
    secret: bytes = field(repr=False)

    def current_code(self) -> str:
        return second_factor.code_for_counter(
            self.secret, second_factor.counter_at(datetime.now(UTC))
        )


async def create_account(bot: LoanBotHarness, username: str, role: str) -> Account:
    async with bot.database.unit_of_work() as session:
        made = await accounts.create_officer(
            session, bot.cipher, username=username, display_name=username.title(), role=role
        )
    # The provisioning URI is what the officer scans into an authenticator app.
    secret = parse_qs(urlparse(made.provisioning_uri).query)["secret"][0]
    return Account(
        made.officer.id, username, made.one_time_password, second_factor.decode_secret(secret)
    )


@asynccontextmanager
async def serving_backoffice(bot: LoanBotHarness, data_dir: Path) -> AsyncIterator[str]:
    """The back-office on 127.0.0.1 and a free port, sharing the bot's keys; yields its URL.

    Chromium counts http://127.0.0.1 as a secure origin, so the `__Host-` Secure cookies are
    kept exactly as on HTTPS (as in test_backoffice_browser.py).
    """
    app = create_app(
        settings=Settings(data_dir=data_dir, database_url=str(bot.database.url)),
        database=bot.database,
        field_cipher=bot.cipher,
        vault=bot.vault,
    )
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def first_sign_in(context: BrowserContext, base: str, account: Account) -> Page:
    """Password, then TOTP with the first-sign-in password change, through the forms."""
    page = await context.new_page()
    await page.goto(base + "/login")
    await page.fill("input[name=username]", account.username)
    await page.fill("input[name=password]", account.one_time_password)
    await page.click("form[action='/login'] button")
    await page.wait_for_url(base + "/login/totp")
    await page.fill("input[name=code]", account.current_code())
    await page.fill("input[name=new_password]", NEW_PASSWORD)
    await page.fill("input[name=new_password_confirmation]", NEW_PASSWORD)
    await page.click("form[action='/login/totp'] button")
    await page.wait_for_url(base + "/")
    return page


async def deliver(bot: LoanBotHarness) -> None:
    dispatcher = OutboxDispatcher(
        bot.database,
        bot.application.bot,
        cipher=bot.cipher,
        pacer=Pacer(per_second=1000, per_chat_interval=0),
    )
    await dispatcher.deliver_due()


async def status_is(page: Page, status: Status) -> None:
    await expect(page.locator("h1 + p .tag")).to_have_text(status_label(status))


def containing(messages: list[BotMessage], text: str) -> BotMessage:
    found = [m for m in messages if text in (m.text or "")]
    assert found, f"no message containing {text!r} in {[m.text for m in messages]}"
    return found[-1]


async def active_tax_certificate(database: Database, application_id: int) -> Document:
    async with database.unit_of_work() as session:
        return (
            await session.scalars(
                select(Document).where(
                    Document.application_id == application_id,
                    Document.doc_type == "tax_certificate",
                    Document.replaced_at.is_(None),
                )
            )
        ).one()


async def audit_trail(database: Database) -> list[AuditEvent]:
    async with database.unit_of_work() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())


async def test_loan_from_chat_to_approval_through_the_back_office(
    emulator: BotApiEmulator, database: Database, data_dir: Path, chromium: Browser
) -> None:
    async with (
        running_loanbot(emulator, database, data_dir) as bot,
        serving_backoffice(bot, data_dir) as base,
    ):
        # The applicant applies in chat.
        user = emulator.user(7001, first_name="Wei", language_code="en")
        answer = await answer_up_to_documents(bot, user)
        answer = await upload_required_documents(bot, user, answer)
        await press(bot, user, "Continue to summary")
        answer = await press(bot, user, "Submit application")
        async with database.unit_of_work() as session:
            application = (await session.scalars(select(Application))).one()
        reference = application.reference
        assert reference is not None and reference in text_of(answer)
        application_id = application.id
        case_url = f"{base}/applications/{application_id}"

        officer = await create_account(bot, "li.na", "officer")
        approver = await create_account(bot, "zhao.min", "approver")

        # The officer finds it in the queue, opens it and asks for a new tax certificate.
        officer_context = await chromium.new_context(accept_downloads=True)
        page = await first_sign_in(officer_context, base, officer)
        await page.get_by_role("link", name=reference).click()
        await page.wait_for_url(case_url)
        await status_is(page, Status.SUBMITTED)
        await page.get_by_role("button", name="Open and assign to me").click()
        await status_is(page, Status.UNDER_REVIEW)
        request_form = page.locator("form[action$='/request-information']")
        await request_form.locator("input[name=documents][value=tax_certificate]").check()
        await request_form.locator("textarea[name=question]").fill(QUESTION)
        await request_form.get_by_role("button", name="Send the request").click()
        await status_is(page, Status.INFO_REQUESTED)
        await expect(page.locator("section.panel").first).to_contain_text(QUESTION)

        # The applicant reads the notice, presses its button and uploads the certificate.
        bot.new_messages(user)
        await deliver(bot)
        notice = containing(bot.new_messages(user), "more information")
        assert reference in (notice.text or "") and QUESTION in (notice.text or "")
        label = next(label for label in notice.button_labels if "Tax certificate" in label)
        answer = await bot.say(user, lambda: user.press_on(notice.message_id, label))
        assert "PDF file or a photo" in text_of(answer)
        answer = await bot.say(user, lambda: user.send_document(TAX_CERTIFICATE, "tax.pdf"))
        assert answer, "the upload is acknowledged"

        # The officer reloads, sees the new copy, downloads it and recommends.
        await page.reload()
        await status_is(page, Status.UNDER_REVIEW)
        timeline = page.locator("#timeline")
        await expect(timeline).to_contain_text("replaced by a later copy")
        await expect(timeline).to_contain_text(QUESTION)
        await expect(
            timeline.locator("tr", has_text="Document received: Tax certificate")
        ).to_have_count(2)
        tax = await active_tax_certificate(database, application_id)
        async with page.expect_download() as started:
            await page.click(f"a[href='/applications/{application_id}/documents/{tax.id}']")
        download = await started.value
        downloaded = await download.path()
        assert await asyncio.to_thread(Path(downloaded).read_bytes) == TAX_CERTIFICATE
        await page.get_by_role("button", name="Recommend for approval").click()
        await status_is(page, Status.PENDING_APPROVAL)

        # The approver, in a browser of their own, approves.
        approver_context = await chromium.new_context()
        approver_page = await first_sign_in(approver_context, base, approver)
        await approver_page.goto(case_url)
        await status_is(approver_page, Status.PENDING_APPROVAL)
        await approver_page.get_by_role("button", name="Approve", exact=True).click()
        await status_is(approver_page, Status.APPROVED)
        await approver_context.close()
        await officer_context.close()

        # The applicant hears the news in chat.
        await deliver(bot)
        news = containing(bot.new_messages(user), "has been approved")
        assert reference in (news.text or "")

    assert (await verify_chain(database)).ok
    events = await audit_trail(database)
    by_officer = {(e.actor_id, e.action) for e in events if e.actor_type == "officer"}
    for account in (officer, approver):
        for action in (
            "officer.password_accepted",
            "officer.signed_in",
            "officer.totp_confirmed",
            "officer.password_changed",
            "application.viewed",
        ):
            assert (str(account.id), action) in by_officer, (account.username, action)
    for action in (
        "application.open",
        "application.request_info",
        "document.downloaded",
        "application.recommend",
    ):
        assert (str(officer.id), action) in by_officer, action
    assert (str(approver.id), "application.approve") in by_officer

    case_actions = [
        e.action
        for e in events
        if e.subject_type == "application" and e.subject_id == str(application_id)
    ]
    after_request = case_actions[case_actions.index("application.request_info") :]
    assert (
        after_request.index("document.received")
        < after_request.index("application.info_answered")
        < after_request.index("document.downloaded")
        < after_request.index("application.recommend")
        < after_request.index("application.approve")
    )
    downloaded_event = next(e for e in events if e.action == "document.downloaded")
    assert downloaded_event.details["document_id"] == tax.id
