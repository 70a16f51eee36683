"""A whole loan application through the conversation, in English and in Chinese."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from conversations import phrases, questions
from conversations.effects import (
    AttachDocument,
    RecordConsent,
    SaveAnswer,
    SetLocale,
    StartDraft,
    SubmitApplication,
)
from conversations.events import ButtonPress, ContactShared, DocumentAccepted, Start, Text
from conversations.memory import InMemoryChat
from conversations.progress import PROGRESS, TOTAL_STEPS, step_of
from conversations.replies import Masked, Message, Money, Reply

TODAY = date(2026, 11, 27)

ENGLISH_INPUTS = [
    ("company_name", Text("<b>Acme</b> Trading (Hangzhou) Co., Ltd.")),
    ("credit_code", Text("91350100m000100y43")),
    ("industry", ("ind", "technology")),
    ("years_in_operation", Text("7 years")),
    ("employees", Text("25")),
    ("annual_revenue", Text("¥3,000,000")),
    ("owner_name", Text("Zhang Wei")),
    ("owner_id_number", Text("330106 19800101 1235")),
    ("phone", ContactShared("+8613812345678", is_own=True)),
    ("amount", Text("300,000")),
    ("term_months", Text("36")),
    ("purpose", ("pur", "equipment")),
    ("repayment_method", ("rep", "equal_principal")),
    ("security_type", ("sec", "guarantor")),
    ("security_details", Text("  Li Na,   business partner  ")),
]

ENGLISH_SAVED = {
    "company_name": "<b>Acme</b> Trading (Hangzhou) Co., Ltd.",
    "credit_code": "91350100M000100Y43",
    "industry": "technology",
    "years_in_operation": 7,
    "employees": 25,
    "annual_revenue": Decimal("3000000.00"),
    "owner_name": "Zhang Wei",
    "owner_id_number": "330106198001011235",
    "phone": "13812345678",
    "amount": Decimal("300000.00"),
    "term_months": 36,
    "purpose": "equipment",
    "repayment_method": "equal_principal",
    "security_type": "guarantor",
    "security_details": "Li Na, business partner",
}

CHINESE_INPUTS = [
    ("company_name", Text("杭州示例科技有限公司")),
    ("credit_code", Text("9135 0100 M000 100Y43")),
    ("industry", ("ind", "manufacturing")),
    ("years_in_operation", Text("三年")),
    ("employees", Text("十二人")),
    ("annual_revenue", Text("５００万元")),
    ("owner_name", Text("张伟")),
    ("owner_id_number", Text("110105194912310 02X")),
    ("phone", ContactShared("8613912345678", is_own=True)),
    ("amount", Text("３０万")),
    ("term_months", Text("1年半")),
    ("purpose", ("pur", "working_capital")),
    ("repayment_method", ("rep", "interest_only")),
    ("security_type", ("sec", "none")),
]

CHINESE_SAVED = {
    "company_name": "杭州示例科技有限公司",
    "credit_code": "91350100M000100Y43",
    "industry": "manufacturing",
    "years_in_operation": 3,
    "employees": 12,
    "annual_revenue": Decimal("5000000.00"),
    "owner_name": "张伟",
    "owner_id_number": "11010519491231002X",
    "phone": "13912345678",
    "amount": Decimal("300000.00"),
    "term_months": 18,
    "purpose": "working_capital",
    "repayment_method": "interest_only",
    "security_type": "none",
}


def nested(line: Message, name: str) -> str:
    """The message id of a Message-valued parameter."""
    value = line.params[name]
    assert isinstance(value, Message)
    return value.msgid


def question(replies: tuple[Reply, ...]) -> Reply:
    """The reply that carries the progress line (the question being asked)."""
    found = [reply for reply in replies if any(line.msgid == PROGRESS for line in reply.lines)]
    assert len(found) == 1, [line.msgid for reply in replies for line in reply.lines]
    return found[0]


def assert_progress(replies: tuple[Reply, ...], state: str) -> None:
    line = next(line for line in question(replies).lines if line.msgid == PROGRESS)
    step_total = step_of(state)
    assert step_total is not None
    step, total = step_total
    assert line.params["step"] == step
    assert line.params["total"] == total == TOTAL_STEPS
    sections = ("Language", "Consent", "Company", "Owner", "Loan", "Documents", "Summary")
    assert nested(line, "section") == sections[step - 1]
    assert line.params["bar"] == "▰" * step + "▱" * (TOTAL_STEPS - step)


def give(applicant: InMemoryChat, answer: object) -> tuple[Reply, ...]:
    if isinstance(answer, tuple):
        return applicant.press_value(*answer)
    assert isinstance(answer, Text | ContactShared)
    return applicant.send(answer)


def run_application(
    applicant: InMemoryChat,
    locale: str,
    inputs: list[tuple[str, object]],
) -> None:
    replies = applicant.send(Start())
    assert replies[0].lines[0].msgid == phrases.GREETING
    assert_progress(replies, "language")
    assert applicant.state == "language"

    replies = applicant.send(ButtonPress(f"lang:{locale}"))
    assert applicant.applied == [SetLocale(locale)]
    assert applicant.state == "consent"
    assert_progress(replies, "consent")
    notice = question(replies).lines[1]
    assert notice.msgid == questions.CONSENT_NOTICE
    assert notice.params == {"version": questions.CONSENT_VERSION}

    replies = applicant.press(questions.AGREE)
    assert applicant.applied[1:] == [StartDraft(), RecordConsent(questions.CONSENT_VERSION)]

    for state, answer in inputs:
        assert applicant.state == state
        assert_progress(replies, state)
        before = len(applicant.applied)
        replies = give(applicant, answer)
        saved = applicant.applied[before:]
        assert saved and all(isinstance(effect, SaveAnswer) for effect in saved), state
        assert applicant.state != state

    assert applicant.state == "documents"
    assert_progress(replies, "documents")


def upload_all(applicant: InMemoryChat, kinds: list[str]) -> None:
    for kind in kinds:
        replies = applicant.press_value("doc", kind)
        assert applicant.state == "document_upload"
        assert_progress(replies, "document_upload")
        replies = applicant.send(DocumentAccepted(kind, f"{kind}.pdf"))
        assert replies[0].lines[0].msgid == phrases.DOCUMENT_RECEIVED
        assert applicant.state == "documents"


def saved_answers(applicant: InMemoryChat) -> dict[str, object]:
    return {
        effect.field: effect.value for effect in applicant.applied if isinstance(effect, SaveAnswer)
    }


def test_a_complete_application_in_english() -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language="en-US")
    run_application(applicant, "en", ENGLISH_INPUTS)
    required = [
        "tax_certificate",
        "business_licence",
        "owner_id",
        "financial_statements",
        "bank_statements",
    ]
    upload_all(applicant, required)

    replies = applicant.press(questions.CONTINUE_TO_SUMMARY)
    assert applicant.state == "summary"
    assert_progress(replies, "summary")
    summary = question(replies)
    shown = {
        nested(line, "field"): line.params["value"]
        for line in summary.lines
        if line.msgid == "{field}: {value}"
    }
    assert shown["Owner's resident ID number"] == Masked("330106********1235")
    assert shown["Mobile phone"] == Masked("138****5678")
    assert shown["Loan amount"] == Money(Decimal("300000.00"))
    assert shown["Annual revenue"] == Money(Decimal("3000000.00"))
    assert shown["Company name"] == "<b>Acme</b> Trading (Hangzhou) Co., Ltd."
    assert shown["Security details"] == "Li Na, business partner"
    assert "330106198001011235" not in repr(summary)
    assert "13812345678" not in repr(summary)

    replies = applicant.press(questions.SUBMIT)
    assert saved_answers(applicant) == ENGLISH_SAVED
    assert [e for e in applicant.applied if isinstance(e, AttachDocument)] == [
        AttachDocument(kind) for kind in required
    ]
    assert applicant.applied.count(SubmitApplication()) == 1
    assert applicant.state == "idle"
    assert replies[-1].lines[0].msgid == phrases.SUBMITTED
    assert replies[-1].lines[0].params == {"reference": "SME-2026-000001"}
    assert replies[-1].lines[1].msgid == phrases.WHAT_NEXT
    assert applicant.submitted_answers == [ENGLISH_SAVED]


def test_a_complete_application_in_chinese() -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language="zh-hans")
    first = applicant.send(Start())
    ticked = first[0].buttons[0][0]
    assert ticked.data == "lang:zh_Hans"
    assert ticked.label.msgid == questions.CHOSEN_LANGUAGE

    applicant = InMemoryChat(today=TODAY, telegram_language="zh-hans")
    run_application(applicant, "zh_Hans", CHINESE_INPUTS)
    checklist = question(applicant.last)
    states = [
        (nested(line, "document"), nested(line, "state"))
        for line in checklist.lines
        if line.msgid == "{document}: {state}"
    ]
    assert states[-1] == ("Collateral papers", "optional")
    assert all(state == "required" for _, state in states[:-1])

    upload_all(
        applicant,
        [
            "business_licence",
            "owner_id",
            "financial_statements",
            "bank_statements",
            "tax_certificate",
        ],
    )
    applicant.press(questions.CONTINUE_TO_SUMMARY)
    summary = question(applicant.last)
    fields = [nested(line, "field") for line in summary.lines if line.msgid == "{field}: {value}"]
    assert "Security details" not in fields
    assert len(fields) == len(CHINESE_SAVED)

    replies = applicant.press(questions.SUBMIT)
    assert saved_answers(applicant) == CHINESE_SAVED
    assert applicant.locale == "zh_Hans"
    assert applicant.consent_version == questions.CONSENT_VERSION
    assert replies[-1].lines[0].params == {"reference": "SME-2026-000001"}
    assert applicant.state == "idle"
    assert not applicant.has_draft
