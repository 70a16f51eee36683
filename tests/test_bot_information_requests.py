"""An officer asks for more, the applicant answers in chat, the application returns to review."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from bot.outbox_dispatcher import OutboxDispatcher
from bot.pacing import Pacer
from bot.sandbox import BotApiEmulator, ScriptedUser
from lending.workflow import Trigger
from storage import casework
from storage.audit import verify_chain
from storage.database import Database
from storage.models import Application, ApplicationMessage, Document, Officer
from tests.bot_harness import LoanBotHarness, running_loanbot, text_of
from tests.test_bot_application_flow import (
    PDF,
    answer_up_to_documents,
    press,
    send,
    upload_required_documents,
)


async def _submitted(bot: LoanBotHarness, user: ScriptedUser) -> int:
    answer = await answer_up_to_documents(bot, user)
    await upload_required_documents(bot, user, answer)
    await press(bot, user, "Continue to summary")
    await press(bot, user, "Submit application")
    async with bot.database.unit_of_work() as session:
        return int((await session.scalars(select(Application.id))).one())


async def _officer(database: Database) -> int:
    async with database.unit_of_work() as session:
        officer = Officer(username="wang", display_name="Wang", role="officer", password_hash="x")
        session.add(officer)
        await session.flush()
        return officer.id


async def _deliver(bot: LoanBotHarness) -> None:
    dispatcher = OutboxDispatcher(
        bot.database,
        bot.application.bot,
        cipher=bot.cipher,
        pacer=Pacer(per_second=1000, per_chat_interval=0),
    )
    await dispatcher.deliver_due()


async def test_requested_document_uploaded_in_chat_returns_the_case_to_review(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(5001, language_code="en")
        application_id = await _submitted(bot, user)
        officer_id = await _officer(database)
        now = datetime.now(UTC)
        async with database.unit_of_work() as session:
            await casework.apply_decision(
                session, application_id=application_id, officer_id=officer_id,
                trigger=Trigger.OPEN, approver_required_above=Decimal("1000000"), now=now,
            )  # fmt: skip
            await casework.request_information(
                session, bot.cipher, application_id=application_id, officer_id=officer_id,
                documents=["tax_certificate"], question="Is 13800138000 still your number?",
                now=now,
            )  # fmt: skip
        bot.new_messages(user)
        await _deliver(bot)
        notices = [m for m in user.history if "more information" in (m.text or "")]
        assert notices, [m.text for m in user.history[-3:]]
        notice = notices[-1]
        assert "Is 13800138000 still your number?" in (notice.text or "")
        assert any("Tax certificate" in label for label in notice.button_labels)

        label = next(label for label in notice.button_labels if "Tax certificate" in label)
        answer = await bot.say(user, lambda: user.press_on(notice.message_id, label))
        assert "PDF file or a photo" in text_of(answer)
        answer = await bot.say(user, lambda: user.send_document(PDF + b"tax-2025", "tax.pdf"))
        assert answer, "the upload is acknowledged"
        answer = await send(bot, user, "Yes, it is.")
        assert "loan officer" in text_of(answer)

    async with database.unit_of_work() as session:
        application = await session.get(Application, application_id)
        documents = (
            await session.scalars(select(Document).where(Document.application_id == application_id))
        ).all()
        incoming = (
            await session.scalars(
                select(ApplicationMessage).where(ApplicationMessage.direction == "in")
            )
        ).all()
        texts = [casework.message_text(bot.cipher, m) for m in incoming]
    assert application is not None and application.status == "under_review"
    tax = [d for d in documents if d.doc_type == "tax_certificate"]
    assert [d.replaced_at is None for d in tax].count(True) == 1 and len(tax) == 2
    assert "Yes, it is." in texts
    assert (await verify_chain(database)).ok


async def test_officer_message_reaches_the_applicant_decrypted(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(5002, language_code="en")
        application_id = await _submitted(bot, user)
        officer_id = await _officer(database)
        now = datetime.now(UTC)
        async with database.unit_of_work() as session:
            await casework.message_applicant(
                session, bot.cipher, application_id=application_id, officer_id=officer_id,
                body="Please call us <tomorrow> & bring the originals.", now=now,
            )  # fmt: skip
        bot.new_messages(user)
        await _deliver(bot)
        message = user.history[-1]
    assert "Please call us <tomorrow> & bring the originals." in (message.text or "")
    assert "&lt;tomorrow&gt;" in (message.raw_text or "")
