"""Typed answers: every refusal re-asks with a reason and an example; edits and language."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest

from conversations import display, phrases, questions, validation
from conversations.effects import SaveAnswer, SetLocale
from conversations.events import ButtonPress, Command, ContactShared, Text
from conversations.memory import InMemoryChat
from conversations.progress import PROGRESS
from conversations.replies import Masked, Message, Money, Reply, Value
from lending.amounts import MAX_ANNUAL_REVENUE
from lending.products import ProductLimits

TODAY = date(2026, 11, 27)
GIVES_AN_EXAMPLE = re.compile(r"for example|for instance|e\.g\.|\bas in\b", re.IGNORECASE)

REFUSED = [
    ("company_name", "A"),
    ("company_name", "12345"),
    ("company_name", "Acme\u202eCo"),
    ("credit_code", "91350100M000100Y44"),
    ("credit_code", "9135010"),
    ("credit_code", "91350100M000100IO3"),
    ("years_in_operation", "many"),
    ("years_in_operation", "-1"),
    ("years_in_operation", "500"),
    ("employees", "2.5"),
    ("employees", "a dozen"),
    ("annual_revenue", "lots"),
    ("annual_revenue", "3万5千"),
    ("annual_revenue", "-5万"),
    ("annual_revenue", "-5"),
    ("annual_revenue", "20000亿"),
    ("owner_name", "Z"),
    ("owner_name", "张伟2"),
    ("owner_id_number", "110105194912310021"),
    ("owner_id_number", "110105491231002"),
    ("owner_id_number", "110105202602300021"),
    ("amount", "5000"),
    ("amount", "1亿"),
    ("amount", "thirty thousand"),
    ("amount", "300,00"),
    ("term_months", "1"),
    ("term_months", "100"),
    ("term_months", "soon"),
    ("term_months", "1.3年"),
    ("security_details", "ab"),
]


QUESTION_OF = {
    **{state: prompt.question for state, prompt in questions.TEXT_PROMPTS.items()},
    "amount": questions.AMOUNT_QUESTION,
    "term_months": questions.TERM_QUESTION,
    "security_details": questions.COLLATERAL_QUESTION,
}


def at(state: str, security: str = "collateral") -> InMemoryChat:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.send(Command("apply"))
    for _ in range(40):
        if applicant.state == state:
            return applicant
        if applicant.state == "security_type":
            applicant.press_value("sec", security)
        else:
            applicant.answer_current()
    raise AssertionError(f"never reached {state}")


def lines_of(reply: Reply) -> list[str]:
    return [line.msgid for line in reply.lines]


def english(value: Value) -> str:
    """A value as the English renderer would show it, near enough to type it back."""
    if isinstance(value, Message):
        return value.msgid.format(**{name: english(v) for name, v in value.params.items()})
    if isinstance(value, Money):
        return format(value.amount, "f")
    return str(value)


def assert_unchanged(applicant: InMemoryChat, state: str, applied: int, token: object) -> None:
    assert applicant.state == state
    assert len(applicant.applied) == applied
    assert applicant.context["q"] == token


@pytest.mark.parametrize(("state", "text"), REFUSED)
def test_a_refused_answer_is_asked_again_with_a_reason_and_an_example(
    state: str, text: str
) -> None:
    applicant = at(state)
    applied, token = len(applicant.applied), applicant.context["q"]
    (reply,) = applicant.send(Text(text))
    assert_unchanged(applicant, state, applied, token)
    reason, example, progress, asked = reply.lines[:4]
    assert reason.msgid not in (validation.EXAMPLE_LINE, PROGRESS)
    assert example.msgid == validation.EXAMPLE_LINE
    assert progress.msgid == PROGRESS
    # The same question follows, without repeating its own example under it.
    assert asked.msgid == QUESTION_OF[state]
    assert questions.EXAMPLE not in lines_of(reply)
    # One example in all: the reason does not give one of its own ...
    assert lines_of(reply).count(validation.EXAMPLE_LINE) == 1
    assert not GIVES_AN_EXAMPLE.search(reason.msgid), reason.msgid
    # ... and the one shown is an answer this same question accepts.
    shown = english(example.params["example"])
    assert validation.parse_answer(state, shown, today=TODAY, limits=ProductLimits())


def test_revenue_has_its_own_refusals_and_accepts_zero() -> None:
    applicant = at("annual_revenue")
    (negative,) = applicant.send(Text("-5"))
    assert "revenue" in negative.lines[0].msgid
    assert "borrow" not in negative.lines[0].msgid
    (huge,) = applicant.send(Text("20000亿"))
    assert "loan" not in huge.lines[0].msgid
    assert huge.lines[0].params == {"maximum": Money(MAX_ANNUAL_REVENUE)}
    assert huge.lines[1] == Message(validation.EXAMPLE_LINE, {"example": "300万"})
    assert applicant.state == "annual_revenue"
    applicant.send(Text("0元"))
    assert applicant.applied[-1] == SaveAnswer("annual_revenue", Decimal("0.00"))
    assert applicant.state == "owner_name"


def test_the_term_question_and_its_refusals_show_a_term_as_the_example() -> None:
    applicant = at("term_months")
    term = Message(display.MONTHS, {"months": 12})
    assert Message(questions.EXAMPLE, {"example": term}) in applicant.last[-1].lines
    (reply,) = applicant.send(Text("1.3年"))
    assert reply.lines[1] == Message(validation.EXAMPLE_LINE, {"example": term})


def test_refusal_values_are_numbers_and_money_for_the_renderer() -> None:
    applicant = at("amount")
    (reply,) = applicant.send(Text("5000"))
    reason = reply.lines[0]
    assert reason.params["minimum"] == Money(Decimal("10000"))
    applicant = at("term_months")
    (reply,) = applicant.send(Text("2"))
    assert reply.lines[0].params["minimum"] == 3


@pytest.mark.parametrize("state", ["company_name", "owner_name", "security_details", "amount"])
def test_a_ten_thousand_character_answer_is_too_long_and_nothing_is_saved(state: str) -> None:
    applicant = at(state)
    applied, token = len(applicant.applied), applicant.context["q"]
    (reply,) = applicant.send(Text("年" * 10_000))
    assert_unchanged(applicant, state, applied, token)
    assert reply.lines[0] == Message(
        validation.TOO_LONG, {"length": 10_000, "maximum": validation.MAX_ANSWER_LENGTH}
    )


def test_html_in_a_company_name_is_kept_as_plain_user_data() -> None:
    applicant = at("company_name")
    applicant.send(Text("<script>alert(1)</script> 有限公司"))
    assert applicant.applied[-1] == SaveAnswer("company_name", "<script>alert(1)</script> 有限公司")
    assert applicant.state == "credit_code"


def test_a_typed_phone_number_is_refused() -> None:
    applicant = at("phone")
    applied, token = len(applicant.applied), applicant.context["q"]
    (reply,) = applicant.send(Text("13812345678"))
    assert_unchanged(applicant, "phone", applied, token)
    assert reply.lines[0].msgid == phrases.TAP_CONTACT
    assert reply.contact_keyboard == Message(questions.SHARE_PHONE)


def test_someone_elses_contact_is_refused() -> None:
    applicant = at("phone")
    applied, token = len(applicant.applied), applicant.context["q"]
    (reply,) = applicant.send(ContactShared("+8613912345678", is_own=False))
    assert_unchanged(applicant, "phone", applied, token)
    assert reply.lines[0].msgid == phrases.SOMEONE_ELSES
    assert reply.contact_keyboard is not None


@pytest.mark.parametrize("phone", ["+1 202 555 0100", "+86 10 6552 9988", "12345"])
def test_an_own_contact_that_is_not_a_mainland_mobile_is_refused(phone: str) -> None:
    applicant = at("phone")
    applied, token = len(applicant.applied), applicant.context["q"]
    (reply,) = applicant.send(ContactShared(phone, is_own=True))
    assert_unchanged(applicant, "phone", applied, token)
    assert reply.lines[1].msgid == validation.EXAMPLE_LINE
    assert reply.contact_keyboard is not None


def test_the_shared_phone_is_saved_and_the_contact_keyboard_removed() -> None:
    applicant = at("phone")
    thanks, following = applicant.send(ContactShared("+86 139 1234 5678", is_own=True))
    assert applicant.applied[-1] == SaveAnswer("phone", "13912345678")
    assert thanks.remove_keyboard
    assert thanks.lines[0].params == {"phone": Masked("139****5678")}
    assert following.contact_keyboard is None
    assert applicant.state == "amount"


def edit(applicant: InMemoryChat, field: str) -> tuple[Reply, ...]:
    applicant.press(questions.EDIT_ANSWER)
    assert applicant.state == "edit_choice"
    return applicant.press_value("edit", field)


@pytest.mark.parametrize(
    ("field", "answer", "saved"),
    [
        ("amount", Text("50万"), Decimal("500000.00")),
        ("company_name", Text("宁波新名称贸易有限公司"), "宁波新名称贸易有限公司"),
        ("industry", ("ind", "services"), "services"),
        ("phone", ContactShared("13700001111", is_own=True), "13700001111"),
        ("term_months", Text("2年"), 24),
    ],
)
def test_editing_an_answer_from_the_summary_returns_to_the_summary(
    field: str, answer: object, saved: object
) -> None:
    applicant = at("summary")
    replies = edit(applicant, field)
    assert applicant.state == field
    current = [line for line in replies[0].lines if line.msgid == questions.CURRENT_ANSWER]
    assert len(current) == 1
    if isinstance(answer, tuple):
        applicant.press_value(*answer)
    else:
        assert isinstance(answer, Text | ContactShared)
        applicant.send(answer)
    assert applicant.state == "summary"
    assert applicant.answers[field] == saved
    assert "editing" not in applicant.context


def test_a_refused_edit_stays_on_the_question_in_edit_mode() -> None:
    applicant = at("summary")
    edit(applicant, "credit_code")
    applicant.send(Text("bad"))
    assert applicant.state == "credit_code"
    applicant.send(Text("91350100M000100Y43"))
    assert applicant.state == "summary"


def test_edit_menu_back_returns_to_the_summary_without_effects() -> None:
    applicant = at("summary")
    applied = len(applicant.applied)
    applicant.press(questions.EDIT_ANSWER)
    applicant.press(questions.BACK_TO_SUMMARY)
    assert applicant.state == "summary"
    assert len(applicant.applied) == applied


def test_changing_security_to_none_clears_the_details() -> None:
    applicant = at("summary")
    assert "security_details" in applicant.answers
    edit(applicant, "security_type")
    applicant.press_value("sec", "none")
    assert applicant.applied[-2:] == [
        SaveAnswer("security_type", "none"),
        SaveAnswer("security_details", ""),
    ]
    assert applicant.state == "summary"
    applicant.press(questions.EDIT_ANSWER)
    offered = [button.data.rsplit(":", 1)[1] for button in applicant.buttons()]
    assert "security_details" not in offered


def test_changing_security_to_a_guarantor_asks_for_details_then_returns() -> None:
    applicant = at("summary", security="none")
    edit(applicant, "security_type")
    applicant.press_value("sec", "guarantor")
    assert applicant.state == "security_details"
    assert any(line.msgid == questions.GUARANTOR_QUESTION for line in applicant.last[0].lines)
    applicant.send(Text("Li Na, business partner"))
    assert applicant.state == "summary"
    assert applicant.answers["security_details"] == "Li Na, business partner"


def test_switching_language_midway_keeps_answers_and_asks_the_same_question() -> None:
    applicant = at("industry")
    answers, token = dict(applicant.answers), applicant.context["q"]
    (chooser,) = applicant.send(Command("language"))
    assert applicant.state == "industry"
    assert [button.data for row in chooser.buttons for button in row] == [
        "lang:en",
        "lang:zh_Hans",
    ]
    (reply,) = applicant.send(ButtonPress("lang:zh_Hans"))
    assert applicant.applied[-1] == SetLocale("zh_Hans")
    assert applicant.state == "industry"
    assert applicant.answers == answers
    assert applicant.context["q"] == token
    assert lines_of(reply)[0] == phrases.LANGUAGE_CHANGED
    assert questions.CHOICE_QUESTIONS["industry"][0] in lines_of(reply)
    # The question's buttons from before the switch still answer it.
    applicant.press_value("ind", "agriculture")
    assert applicant.answers["industry"] == "agriculture"
    assert applicant.state == "years_in_operation"


def test_choosing_the_current_language_again_has_no_effect() -> None:
    applicant = at("owner_name")
    applied = len(applicant.applied)
    applicant.send(ButtonPress("lang:en"))
    assert len(applicant.applied) == applied
    assert applicant.state == "owner_name"
