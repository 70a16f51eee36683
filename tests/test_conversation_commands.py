"""Commands and stray input: /start, /apply, /status, /help, /cancel, unsupported messages."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from conversations import phrases, questions, statuses
from conversations.effects import DiscardDraft, RecordConsent, StartDraft
from conversations.events import ButtonPress, Command, ContactShared, Start, Text, Unsupported
from conversations.flow import ApplicationInfo, handle
from conversations.memory import InMemoryChat
from conversations.progress import PROGRESS
from conversations.replies import Message, Money

TODAY = date(2026, 11, 27)


def at(state: str, telegram_language: str | None = "en") -> InMemoryChat:
    applicant = InMemoryChat(today=TODAY, telegram_language=telegram_language)
    applicant.advance_to(state)
    return applicant


def msgids(applicant: InMemoryChat) -> list[str]:
    return [line.msgid for reply in applicant.last for line in reply.lines]


@pytest.mark.parametrize(
    ("telegram_language", "ticked"),
    [
        ("zh-CN", "zh_Hans"),
        ("zh-hans", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("en-GB", "en"),
        (None, "en"),
    ],
)
def test_start_greets_a_newcomer_and_offers_both_languages(
    telegram_language: str | None, ticked: str
) -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language=telegram_language)
    (reply,) = applicant.send(Start())
    assert reply.lines[0].msgid == phrases.GREETING
    assert applicant.state == "language"
    assert applicant.applied == []
    (row,) = reply.buttons
    assert row[0].data == f"lang:{ticked}"
    assert row[0].label.msgid == questions.CHOSEN_LANGUAGE
    assert row[1].label.msgid == questions.OTHER_LANGUAGE


def test_start_resumes_where_the_applicant_left_off() -> None:
    applicant = at("owner_id_number")
    context, applied = dict(applicant.context), len(applicant.applied)
    (reply,) = applicant.send(Start())
    assert reply.lines[0].msgid == phrases.WELCOME_BACK
    assert reply.lines[1].msgid == PROGRESS
    assert questions.TEXT_PROMPTS["owner_id_number"].question in msgids(applicant)
    assert (applicant.state, applicant.context, len(applicant.applied)) == (
        "owner_id_number",
        context,
        applied,
    )


def test_resuming_the_phone_question_shows_the_contact_keyboard_again() -> None:
    applicant = at("phone")
    (reply,) = applicant.send(Start())
    assert reply.contact_keyboard == Message(questions.SHARE_PHONE)


def test_apply_as_the_first_message_greets_and_asks_the_language() -> None:
    applicant = InMemoryChat(today=TODAY)
    applicant.send(Command("apply"))
    assert applicant.state == "language"


def test_apply_with_a_draft_continues_it() -> None:
    applicant = at("amount")
    applied = len(applicant.applied)
    applicant.send(Command("apply"))
    assert msgids(applicant)[0] == phrases.ALREADY_DRAFTING
    assert applicant.state == "amount"
    assert len(applicant.applied) == applied


def test_one_open_application_at_a_time() -> None:
    applicant = at("summary")
    applicant.press(questions.SUBMIT)
    applied = len(applicant.applied)
    (reply,) = applicant.send(Command("apply"))
    assert reply.lines[0] == Message(phrases.ONE_OPEN, {"reference": "SME-2026-000001"})
    assert applicant.state == "idle"
    assert len(applicant.applied) == applied


def test_a_new_application_after_a_final_decision_asks_consent_again() -> None:
    applicant = at("summary")
    applicant.press(questions.SUBMIT)
    submitted = applicant.applications[0]
    applicant.applications[0] = ApplicationInfo(
        submitted.reference, "rejected", submitted.submitted_at, submitted.amount
    )
    applicant.send(Command("apply"))
    assert applicant.state == "consent"
    applied = len(applicant.applied)
    applicant.press(questions.AGREE)
    assert applicant.applied[applied:] == [StartDraft(), RecordConsent(questions.CONSENT_VERSION)]
    assert applicant.state == "company_name"


def test_the_submit_button_respects_one_open_application() -> None:
    applicant = at("summary")
    submit = next(b.data for b in applicant.buttons() if b.label.msgid == questions.SUBMIT)
    snapshot = replace(applicant.snapshot(), open_application_reference="SME-2026-000007")
    outcome = handle(snapshot, ButtonPress(submit))
    assert outcome.effects == ()
    assert outcome.state == "summary"
    assert outcome.replies[0].lines[0].params == {"reference": "SME-2026-000007"}


def test_status_lists_each_application_with_its_next_step() -> None:
    applicant = at("term_months")
    applicant.applications = [
        ApplicationInfo(
            "SME-2026-000003", "approved", datetime(2026, 10, 2, 9, 0), Decimal("500000")
        ),
        ApplicationInfo("SME-2025-000120", "rejected", datetime(2025, 3, 1, 16, 0), None),
        ApplicationInfo("SME-2024-000008", "repaid", None, Decimal("120000.50")),
    ]
    context, applied = dict(applicant.context), len(applicant.applied)
    status, again = applicant.send(Command("status"))
    assert (applicant.state, applicant.context, len(applicant.applied)) == (
        "term_months",
        context,
        applied,
    )
    lines = status.lines
    assert lines[0].msgid == statuses.HEADER
    assert lines[1] == Message(
        statuses.APPLICATION,
        {"reference": "SME-2026-000003", "status": Message(statuses.STATUS_LABELS["approved"])},
    )
    assert lines[2].params == {"amount": Money(Decimal("500000"))}
    assert lines[3].params == {"date": date(2026, 10, 2)}
    assert lines[4].params == {"next_step": Message(statuses.NEXT_STEPS["approved"])}
    assert lines[6].msgid == statuses.SUBMITTED_ON
    assert lines[7].params == {"next_step": Message(statuses.NEXT_STEPS["rejected"])}
    # The draft being written is listed too, and the question is asked again afterwards.
    assert lines[-2].msgid == statuses.DRAFT
    assert lines[-1].params == {"next_step": Message(statuses.NEXT_STEPS["draft"])}
    assert again.lines[0].msgid == PROGRESS


def test_status_without_applications() -> None:
    applicant = InMemoryChat(today=TODAY)
    (reply,) = applicant.send(Command("status"))
    assert reply.lines == (Message(statuses.NO_APPLICATIONS),)
    assert applicant.state == "new"


def test_every_lending_status_has_a_label_and_a_next_step() -> None:
    every = {
        "draft", "submitted", "under_review", "info_requested", "pending_approval", "approved",
        "accepted", "active", "rejected", "closed", "withdrawn", "repaid", "overdue",
    }  # fmt: skip
    assert set(statuses.STATUS_LABELS) == every == set(statuses.NEXT_STEPS)


def test_an_unknown_status_is_shown_without_failing() -> None:
    reply = statuses.status_reply(
        [ApplicationInfo("SME-2026-000009", "archived", None, None)], has_draft=False
    )
    assert reply.lines[1].params["status"] == Message(
        statuses.UNKNOWN_STATUS, {"status": "archived"}
    )


def test_help_explains_the_commands_and_asks_the_question_again() -> None:
    applicant = at("purpose")
    help_reply, again = applicant.send(Command("help"))
    assert help_reply.lines == (Message(phrases.HELP),)
    assert applicant.state == "purpose"
    assert again.buttons


def test_cancel_asks_first_and_no_keeps_everything() -> None:
    applicant = at("employees")
    answers = dict(applicant.answers)
    applicant.send(Command("cancel"))
    assert applicant.state == "confirm_cancel"
    assert msgids(applicant) == [questions.DISCARD_QUESTION]
    applied = len(applicant.applied)
    applicant.press(questions.KEEP)
    assert applicant.state == "employees"
    assert applicant.answers == answers
    assert len(applicant.applied) == applied
    assert "resume" not in applicant.context


def test_cancel_then_yes_discards_the_draft() -> None:
    applicant = at("phone")
    applicant.send(Command("cancel"))
    (reply,) = applicant.press(questions.DISCARD)
    assert applicant.applied[-1] == DiscardDraft()
    assert applicant.state == "idle"
    assert reply.lines == (Message(phrases.DISCARDED),)
    assert reply.remove_keyboard
    assert not applicant.has_draft
    applicant.send(Command("apply"))
    assert applicant.state == "consent"


def test_cancel_from_the_documents_step_returns_to_the_upload_request() -> None:
    applicant = at("documents")
    applicant.press_value("doc", "owner_id")
    applicant.send(Command("cancel"))
    applicant.press(questions.KEEP)
    assert applicant.state == "document_upload"
    assert applicant.context["doc_type"] == "owner_id"


def test_cancel_without_a_draft() -> None:
    applicant = at("consent")
    applicant.send(Command("cancel"))
    assert msgids(applicant)[0] == phrases.NO_DRAFT
    assert applicant.state == "consent"
    assert applicant.applied == [applicant.applied[0]]  # only the language choice


def test_text_while_confirming_cancel_asks_for_a_button() -> None:
    applicant = at("amount")
    applicant.send(Command("cancel"))
    applicant.send(Text("yes"))
    assert applicant.state == "confirm_cancel"
    assert msgids(applicant)[0] == phrases.CHOOSE_BUTTON


@pytest.mark.parametrize("kind", ["sticker", "voice", "location", "video", "poll", "dice"])
@pytest.mark.parametrize("state", ["credit_code", "industry", "phone", "summary", "idle"])
def test_unsupported_messages_get_an_answer_and_change_nothing(kind: str, state: str) -> None:
    applicant = at("summary")
    if state == "idle":
        applicant.press(questions.SUBMIT)
    else:
        applicant.state = state
    context, answers, applied = (
        dict(applicant.context),
        dict(applicant.answers),
        len(applicant.applied),
    )
    (reply,) = applicant.send(Unsupported(kind))
    assert reply.lines[0].msgid == phrases.UNSUPPORTED
    assert len(reply.lines) > 1
    assert (applicant.state, applicant.context, applicant.answers, len(applicant.applied)) == (
        state,
        context,
        answers,
        applied,
    )


def test_text_during_a_buttons_only_question() -> None:
    applicant = at("repayment_method")
    (reply,) = applicant.send(Text("等额本息"))
    assert reply.lines[0].msgid == phrases.CHOOSE_BUTTON
    assert applicant.state == "repayment_method"
    assert len(reply.buttons) == 3


def test_a_contact_outside_the_phone_question_changes_nothing() -> None:
    applicant = at("amount")
    applied = len(applicant.applied)
    applicant.send(ContactShared("13812345678", is_own=True))
    assert msgids(applicant)[0] == phrases.NOT_ASKING_PHONE
    assert len(applicant.applied) == applied


def test_declining_consent_explains_and_offers_to_read_again() -> None:
    applicant = at("consent")
    applicant.press(questions.DISAGREE)
    assert applicant.state == "consent_declined"
    assert questions.CONSENT_DECLINED in msgids(applicant)
    assert len(applicant.applied) == 1
    applicant.press(questions.READ_AGAIN)
    assert applicant.state == "consent"
    applicant.press(questions.AGREE)
    assert applicant.state == "company_name"


def test_an_unknown_stored_state_is_repaired_instead_of_failing() -> None:
    applicant = at("amount")
    applicant.state = "state_from_a_future_version"
    applicant.send(Command("apply"))
    assert applicant.state == "amount"
    assert msgids(applicant)[0] == phrases.ALREADY_DRAFTING
