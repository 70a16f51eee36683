"""Buttons: stale and unknown presses change nothing, a double press acts once, data is short."""

from __future__ import annotations

from datetime import date

import pytest

from conversations import phrases, questions
from conversations.buttons import parse_press, question_data
from conversations.effects import SaveAnswer
from conversations.events import ButtonPress, Command, Start
from conversations.memory import InMemoryChat
from conversations.replies import Button, Message

TODAY = date(2026, 11, 27)


def at(state: str) -> InMemoryChat:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.advance_to(state)
    return applicant


def assert_polite_and_unchanged(applicant: InMemoryChat, data: str) -> None:
    state, context, applied = applicant.state, dict(applicant.context), len(applicant.applied)
    (reply,) = applicant.send(ButtonPress(data))
    assert reply.lines[0].msgid == phrases.STALE
    assert applicant.state == state
    assert applicant.context == context
    assert len(applicant.applied) == applied


def test_a_button_from_an_earlier_message_is_answered_politely() -> None:
    applicant = at("consent")
    agree = next(b.data for b in applicant.buttons() if b.label.msgid == questions.AGREE)
    applicant.press_value("consent", "yes")
    applicant.advance_to("industry")
    assert_polite_and_unchanged(applicant, agree)
    # The polite answer shows the current question with its live buttons.
    assert any(
        button.data.startswith(f"q{applicant.context['q']}:ind:") for button in applicant.buttons()
    )


def test_a_double_press_acts_once() -> None:
    applicant = at("industry")
    data = next(b.data for b in applicant.buttons() if b.data.endswith(":ind:construction"))
    applicant.send(ButtonPress(data))
    assert applicant.state == "years_in_operation"
    assert_polite_and_unchanged(applicant, data)
    assert applicant.applied.count(SaveAnswer("industry", "construction")) == 1


def test_a_double_press_on_submit_submits_once() -> None:
    applicant = at("summary")
    data = next(b.data for b in applicant.buttons() if b.label.msgid == questions.SUBMIT)
    applicant.send(ButtonPress(data))
    assert applicant.state == "idle"
    state, applied = applicant.state, len(applicant.applied)
    applicant.send(ButtonPress(data))
    assert (applicant.state, len(applicant.applied)) == (state, applied)
    assert len(applicant.applications) == 1


def test_a_double_press_on_agree_starts_one_draft() -> None:
    applicant = at("consent")
    data = next(b.data for b in applicant.buttons() if b.label.msgid == questions.AGREE)
    applicant.send(ButtonPress(data))
    assert_polite_and_unchanged(applicant, data)


@pytest.mark.parametrize(
    "data",
    [
        "",
        "garbage",
        "q:ind:manufacturing",
        "q999999:ind:manufacturing",
        "{token}:ind:manufacturing",
        "q{token}:ind:spaceships",
        "q{token}:pur:working_capital",
        "q{token}:zzz:yes",
        "q{token}:ind:manufacturing:extra",
        "q{token}:ind:MANUFACTURING",
        "lang:fr",
        "lang:",
        "x" * 64,
    ],
)
def test_unknown_callback_data_is_answered_politely(data: str) -> None:
    applicant = at("industry")
    assert_polite_and_unchanged(applicant, data.replace("{token}", str(applicant.context["q"])))


def test_a_stale_press_while_idle_points_to_the_commands() -> None:
    applicant = at("summary")
    edit = next(b.data for b in applicant.buttons() if b.label.msgid == questions.EDIT_ANSWER)
    applicant.press(questions.SUBMIT)
    (reply,) = applicant.send(ButtonPress(edit))
    assert [line.msgid for line in reply.lines] == [phrases.STALE, questions.IDLE_OPEN]


def test_language_buttons_stay_valid_on_old_messages() -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.send(Start())
    old_chinese = "lang:zh_Hans"
    applicant.advance_to("employees")
    (reply,) = applicant.send(ButtonPress(old_chinese))
    assert applicant.locale == "zh_Hans"
    assert applicant.state == "employees"
    assert reply.lines[0].msgid == phrases.LANGUAGE_CHANGED


def test_callback_data_is_checked_against_telegrams_limit() -> None:
    with pytest.raises(ValueError, match="64 bytes"):
        question_data(1, "doc", "x" * 60)
    with pytest.raises(ValueError, match="64 bytes"):
        Button(Message(questions.SUBMIT), "é" * 33)


def test_question_data_round_trips() -> None:
    press = parse_press(question_data(123, "doc", "financial_statements"))
    assert press is not None
    assert (press.token, press.kind, press.value) == (123, "doc", "financial_statements")


def every_state_reached_with_all_buttons() -> list[InMemoryChat]:
    chats = []
    for state in ("language", "consent", "industry", "documents", "summary", "edit_choice"):
        applicant = InMemoryChat(today=TODAY, telegram_language="zh-CN")
        if state == "edit_choice":
            applicant.advance_to("summary")
            applicant.press(questions.EDIT_ANSWER)
        else:
            applicant.advance_to(state)
        chats.append(applicant)
    return chats


def test_every_button_of_the_full_flow_fits_in_64_bytes_with_a_huge_token() -> None:
    for applicant in every_state_reached_with_all_buttons():
        applicant.context["q"] = 10**11  # a chat that has asked a hundred billion questions
        applicant.send(Command("help"))
        assert applicant.buttons() or applicant.state == "language"
        for button in applicant.buttons():
            assert len(button.data.encode()) <= 64, button.data
