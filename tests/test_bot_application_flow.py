"""End to end through the emulator with the real Application: a whole application in chat."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from PIL import Image
from sqlalchemy import func, select

from bot.sandbox import BotApiEmulator, BotMessage, ScriptedUser
from storage import applications
from storage.audit import verify_chain
from storage.database import Database
from storage.models import Application, AuditEvent, Document
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
CREDIT_CODE = "91350100M000100Y43"
ID_NUMBER = "11010519491231002X"
PHONE = "+8613800138000"


def png_bytes(colour: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buffer, format="PNG")
    return buffer.getvalue()


def button_starting(messages: list[BotMessage], prefix: str) -> str:
    for message in reversed(messages):
        for label in message.button_labels:
            if label.startswith(prefix):
                return label
    raise AssertionError(f"no button starting {prefix!r} in {[m.button_labels for m in messages]}")


async def press(bot: LoanBotHarness, user: ScriptedUser, label: str) -> list[BotMessage]:
    return await bot.say(user, lambda: user.press(label))


async def send(bot: LoanBotHarness, user: ScriptedUser, text: str) -> list[BotMessage]:
    return await bot.say(user, lambda: user.send_text(text))


async def answer_up_to_documents(
    bot: LoanBotHarness, user: ScriptedUser, company: str = "Fuzhou <b>Tea</b> & Co. Ltd"
) -> list[BotMessage]:
    """English answers from /start to the documents checklist; returns the last answer."""
    answer = await bot.say(user, lambda: user.command("/start"))
    answer = await press(bot, user, button_starting(answer, "✓ English"))
    assert "Privacy notice" in text_of(answer)
    answer = await press(bot, user, "I agree")
    assert "Step 3/7" in text_of(answer)
    answer = await send(bot, user, company)
    answer = await send(bot, user, CREDIT_CODE)
    answer = await press(bot, user, "Manufacturing")
    answer = await send(bot, user, "8")
    answer = await send(bot, user, "25人")
    answer = await send(bot, user, "500万")
    assert "Step 4/7" in text_of(answer)
    answer = await send(bot, user, "张伟")
    answer = await send(bot, user, ID_NUMBER)
    assert answer[-1].contact_buttons, "the phone question offers the contact button"
    answer = await bot.say(user, lambda: user.share_contact(PHONE))
    assert "Step 5/7" in text_of(answer)
    answer = await send(bot, user, "¥30万元")
    answer = await send(bot, user, "24个月")
    answer = await press(bot, user, "Working capital")
    answer = await press(bot, user, "Equal monthly instalments (principal and interest)")
    answer = await press(bot, user, "No security (unsecured)")
    assert "Step 6/7" in text_of(answer)
    return answer


async def upload_required_documents(
    bot: LoanBotHarness, user: ScriptedUser, answer: list[BotMessage]
) -> list[BotMessage]:
    uploads = {
        "Business licence": lambda: user.send_document(PDF, "licence.pdf"),
        "Owner's ID card": lambda: user.send_photo(png_bytes("blue")),
        "Last year's financial statements": lambda: user.send_document(PDF + b"fs", "fs.pdf"),
        "Bank statements": lambda: user.send_document(PDF + b"bank", "bank.pdf"),
        "Tax certificate": lambda: user.send_photo(png_bytes("green")),
    }
    for label, upload in uploads.items():
        answer = await press(bot, user, button_starting(answer, label))
        assert "PDF file or a photo" in text_of(answer)
        answer = await bot.say(user, upload)
        assert "Received" in text_of(answer), text_of(answer)
    return answer


async def test_complete_application_in_english(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(1001, first_name="Wei", language_code="en")
        answer = await answer_up_to_documents(bot, user)
        answer = await upload_required_documents(bot, user, answer)
        answer = await press(bot, user, "Continue to summary")
        summary = text_of(answer)
        raw = "\n".join(m.raw_text or "" for m in answer)
        assert "Fuzhou <b>Tea</b> & Co. Ltd" in summary, "HTML in a name is shown as typed"
        assert "Fuzhou &lt;b&gt;Tea&lt;/b&gt; &amp; Co. Ltd" in raw, "and sent escaped"
        assert "110105********002X" in summary and ID_NUMBER not in summary
        assert "138****8000" in summary and "13800138000" not in summary
        answer = await press(bot, user, "Submit application")
        assert "SME-20" in text_of(answer)

    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
        answers = applications.Drafts(bot.cipher).answers(application)
        documents = (await session.scalars(select(Document))).all()
        actions = (await session.scalars(select(AuditEvent.action))).all()
    assert application.status == "submitted"
    assert application.reference is not None and application.reference in text_of(answer)
    assert answers["company_name"] == "Fuzhou <b>Tea</b> & Co. Ltd"
    assert answers["owner_id_number"] == ID_NUMBER
    assert answers["phone"] == "13800138000"
    assert answers["amount"] == Decimal("300000.00")
    assert answers["annual_revenue"] == Decimal("5000000.00")
    assert answers["term_months"] == 24
    assert application.consent_version and application.consent_at is not None
    assert len(documents) == 5
    stored = await bot.vault.read_all(
        next(d for d in documents if d.doc_type == "business_licence").storage_name,
        applications.document_record(application.id),
    )
    assert stored == PDF
    assert actions.count("document.received") == 5
    assert "application.submitted" in actions and "consent.recorded" in actions
    assert (await verify_chain(database)).ok


async def test_redelivered_update_has_one_effect(
    emulator: BotApiEmulator,
    database: Database,
    data_dir: Path,
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(1002, language_code="en")
        answer = await bot.say(user, lambda: user.command("/start"))
        answer = await press(bot, user, button_starting(answer, "✓ English"))
        answer = await press(bot, user, "I agree")
        update_id = await user.send_text("Redelivery Trading Ltd")
        await bot.wait_processed(update_id)
        first = bot.new_messages(user)
        assert "credit code" in text_of(first).lower()
        async with database.unit_of_work() as session:
            events_before = await session.scalar(select(func.count(AuditEvent.seq)))
        await emulator.redeliver(update_id)
        follow_up = await send(bot, user, CREDIT_CODE)
        assert "industry" in text_of(follow_up).lower(), "the redelivered name was not re-applied"
        async with database.unit_of_work() as session:
            application = (await session.scalars(select(Application))).one()
            events_after = await session.scalar(select(func.count(AuditEvent.seq)))
        assert application.company_name == "Redelivery Trading Ltd"
        assert application.credit_code == CREDIT_CODE
        assert events_after == events_before
