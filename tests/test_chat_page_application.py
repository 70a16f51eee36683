"""A person completes a whole loan application in the sandbox chat page: Debian's chromium
(through Playwright) against the real loan bot, as in sandbox mode, with the phone shared by
the contact button and the documents uploaded through the page's file pickers."""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Browser, Page, expect
from sqlalchemy import select

from bot.sandbox import BotApiEmulator
from storage.applications import Drafts, document_record
from storage.database import Database
from storage.models import Application, Document
from tests.bot_harness import running_loanbot

CREDIT_CODE = "91350100M000100Y43"
ID_NUMBER = "11010519491231002X"
PHONE = "+8613800138000"


def write_pdf(path: Path, marker: bytes) -> Path:
    path.write_bytes(b"%PDF-1.4\n1 0 obj<<>>endobj\n%" + marker + b"\ntrailer<<>>\n%%EOF\n")
    return path


def write_png(path: Path, colour: str) -> Path:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    path.write_bytes(buffer.getvalue())
    return path


class ChatPage:
    """The applicant's side of the page: type, press, share, upload; wait for the bot.

    Each action waits for a new bot message (earlier ones may say the same thing, e.g.
    "Received") and then for the newest one to contain the expected answer.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.bot_texts = page.locator(".from-bot .text")

    async def answered(self, action: Callable[[], Awaitable[None]], answer: str) -> None:
        before = await self.bot_texts.count()
        await action()
        await expect(self.bot_texts.nth(before)).to_be_visible()
        await expect(self.bot_texts.last).to_contain_text(answer)

    async def type(self, text: str, answer: str) -> None:
        async def send() -> None:
            await self.page.fill("#text", text)
            await self.page.press("#text", "Enter")

        await self.answered(send, answer)

    async def press(self, label: str, answer: str) -> None:
        """Press the newest inline button whose label contains `label`."""
        button = self.page.locator(".from-bot .inline-button", has_text=label).last
        await self.answered(button.click, answer)

    async def share_phone(self, answer: str) -> None:
        await self.answered(self.page.locator("#reply-keyboard button.contact").click, answer)

    async def upload(self, choice: str, picker: str, file: Path) -> None:
        await self.press(choice, "PDF file or a photo")
        await self.answered(partial(self.page.set_input_files, picker, file), "Received")


@pytest.mark.browser
@pytest.mark.parametrize("database", ["sqlite"], indirect=True)
async def test_a_person_completes_a_loan_application_in_the_chat_page(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
    chromium: Browser,
    tmp_path: Path,
) -> None:
    licence = write_pdf(tmp_path / "licence.pdf", b"licence")
    statements = write_pdf(tmp_path / "statements.pdf", b"statements")
    bank = write_pdf(tmp_path / "bank.pdf", b"bank")
    id_card = write_png(tmp_path / "id-card.png", "blue")
    tax = write_png(tmp_path / "tax.png", "green")

    async with running_loanbot(emulator, database, data_dir) as bot:
        page = await chromium.new_page(viewport={"width": 390, "height": 844}, locale="en-GB")
        await page.goto(f"{emulator.url}/chat")
        await page.fill("#setup-name", "Wei")
        await page.select_option("#setup-language", "en")
        await page.fill("#setup-phone", PHONE)
        await page.click("#setup-submit")
        chat = ChatPage(page)

        await page.click("#start-button")
        await expect(chat.bot_texts.last).to_contain_text("Which language")
        await chat.press("English", "Privacy notice")
        await chat.press("I agree", "registered name")
        await chat.type("Fuzhou Tea & Co. Ltd", "credit code")
        await chat.type(CREDIT_CODE[:-1] + "0", "not valid")
        await chat.type(CREDIT_CODE, "Which industry")
        await chat.press("Manufacturing", "full years")
        await chat.type("8", "How many employees")
        await chat.type("25", "revenue last year")
        await chat.type("500万", "full name of the owner")
        await chat.type("张伟", "resident ID number")
        await chat.type(ID_NUMBER, "share the owner's mobile phone")
        await chat.share_phone("How much")
        await expect(page.locator(".from-bot .text", has_text="138****8000 saved")).to_have_count(1)
        await expect(page.locator("#reply-keyboard")).to_be_hidden()
        await chat.type("¥30万元", "how many months")
        await chat.type("24个月", "use the loan for")
        await chat.press("Working capital", "repay")
        await chat.press("Equal monthly instalments", "security")
        await chat.press("No security", "Step 6/7")

        await chat.upload("Business licence", "#file-input", licence)
        await chat.upload("Owner's ID card", "#photo-input", id_card)
        await chat.upload("financial statements", "#file-input", statements)
        await chat.upload("Bank statements", "#file-input", bank)
        await chat.upload("Tax certificate", "#file-input", tax)
        await expect(page.locator(".from-user .document")).to_have_count(4)
        await expect(page.locator(".from-user .photo")).to_have_count(1)

        await chat.press("Continue to summary", "138****8000")
        await expect(chat.bot_texts.last).to_contain_text("110105********002X")
        await chat.press("Submit application", "SME-")
        page_text = await page.locator("#messages").inner_text()

    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
        answers = Drafts(bot.cipher).answers(application)
        documents = (await session.scalars(select(Document))).all()
    assert application.status == "submitted"
    assert application.reference is not None and application.reference.startswith("SME-")
    assert application.reference in page_text
    assert answers["company_name"] == "Fuzhou Tea & Co. Ltd"
    assert answers["owner_id_number"] == ID_NUMBER
    assert answers["phone"] == "13800138000"
    assert answers["amount"] == Decimal("300000.00")
    assert sorted(d.doc_type for d in documents) == [
        "bank_statements",
        "business_licence",
        "financial_statements",
        "owner_id",
        "tax_certificate",
    ]
    assert sorted(d.content_type for d in documents).count("image/png") == 2
    stored = next(d for d in documents if d.doc_type == "business_licence")
    assert await bot.vault.read_all(stored.storage_name, document_record(application.id)) == (
        licence.read_bytes()
    )
