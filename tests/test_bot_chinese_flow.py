"""A whole application in Simplified Chinese through the real bot, as a phone user sees it."""

from __future__ import annotations

import re
from pathlib import Path

from sqlalchemy import select

from bot.sandbox import BotApiEmulator
from locales import gettext_for
from storage import applications
from storage.database import Database
from storage.models import Application
from tests.bot_harness import running_loanbot, text_of
from tests.test_bot_application_flow import (
    CREDIT_CODE,
    ID_NUMBER,
    PDF,
    button_starting,
    press,
    send,
)

CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(message: str) -> str:
    translated = gettext_for("zh_Hans", message)
    assert translated != message, f"untranslated: {message}"
    return translated


async def test_complete_application_in_chinese(
    emulator: BotApiEmulator, database: Database, data_dir: Path
) -> None:
    async with running_loanbot(emulator, database, data_dir) as bot:
        user = emulator.user(8001, first_name="李", language_code="zh-hans")
        answer = await bot.say(user, lambda: user.command("/start"))
        answer = await press(bot, user, button_starting(answer, "✓ 简体中文"))
        assert zh("I agree") in answer[-1].button_labels
        answer = await press(bot, user, zh("I agree"))
        assert zh("What is your company's registered name, as on the business licence?") in text_of(
            answer
        )
        for reply in (
            "福州茶叶有限公司",
            CREDIT_CODE,
        ):
            answer = await send(bot, user, reply)
        answer = await press(bot, user, zh("Manufacturing"))
        for reply in ("八年", "二十五人", "500万元"):
            answer = await send(bot, user, reply)
        for reply in ("张伟", ID_NUMBER):
            answer = await send(bot, user, reply)
        answer = await bot.say(user, lambda: user.share_contact("+86 138 0013 8000"))
        answer = await send(bot, user, "30万")
        answer = await send(bot, user, "2年")
        answer = await press(bot, user, zh("Working capital"))
        answer = await press(bot, user, zh("Equal monthly instalments (principal and interest)"))
        answer = await press(bot, user, zh("No security (unsecured)"))
        for label in (
            "Business licence",
            "Owner's ID card",
            "Last year's financial statements",
            "Bank statements (last six months)",
            "Tax certificate",
        ):
            answer = await press(bot, user, button_starting(answer, zh(label)))
            answer = await bot.say(
                user, lambda label=label: user.send_document(PDF + label.encode(), "a.pdf")
            )
        answer = await press(bot, user, zh("Continue to summary"))
        summary = text_of(answer)
        assert "¥300,000.00" in summary and "110105********002X" in summary
        answer = await press(bot, user, zh("Submit application"))
        assert "SME-" in text_of(answer)
        every_text = "\n".join(m.text or "" for m in user.history)
        assert CJK.search(every_text)
        assert "Step " not in every_text, "no English progress line slipped through"
    async with database.unit_of_work() as session:
        application = (await session.scalars(select(Application))).one()
        answers = applications.Drafts(bot.cipher).answers(application)
    assert application.status == "submitted" and application.locale == "zh_Hans"
    assert answers["company_name"] == "福州茶叶有限公司"
    assert answers["years_in_operation"] == 8 and answers["employees"] == 25
    assert answers["term_months"] == 24
