"""An officer's request for information, and the thread: notice buttons, uploads, answers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal

import pytest

from conversations import info_requests, phrases, questions, statuses
from conversations.buttons import (
    InfoPress,
    info_answer_button_data,
    info_upload_button_data,
    parse_info,
    parse_press,
)
from conversations.effects import (
    MAX_MESSAGE_LENGTH,
    AttachInfoDocument,
    ReplyToOfficer,
    SaveAnswer,
)
from conversations.events import (
    DOCUMENT_REFUSAL_REASONS,
    ButtonPress,
    Command,
    DocumentAccepted,
    DocumentRefused,
    FileWithoutRequest,
    Start,
    Text,
)
from conversations.flow import (
    ApplicationInfo,
    ExpectedUpload,
    InfoRequest,
    expected_document,
    expected_upload,
    handle,
)
from conversations.memory import InMemoryChat
from conversations.replies import Button, Message, Reply, messages_in
from lending.products import DocumentType
from tests.test_conversation_machine import marked_message_ids

TODAY = date(2026, 11, 27)
REFERENCE = "SME-2026-000001"
QUESTION = "Why did revenue fall in the third quarter?"
LICENCE = Message("Business licence")
TAX = Message("Tax certificate")


def submitted() -> InMemoryChat:
    """A chat whose application is with the officers; no draft."""
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.advance_to("summary")
    applicant.press(questions.SUBMIT)
    assert applicant.state == "idle"
    return applicant


def asked(
    documents: tuple[str, ...] = ("business_licence", "tax_certificate"),
    question: str | None = QUESTION,
) -> InMemoryChat:
    applicant = submitted()
    applicant.officer_requests(documents, question)
    return applicant


def drafting_beside_an_open_application(state: str = "amount") -> InMemoryChat:
    """A draft in progress at `state` while another application is with the officers."""
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.advance_to(state)
    applicant.applications.append(
        ApplicationInfo(REFERENCE, "under_review", datetime(2026, 11, 20, 10, 0), Decimal("300000"))
    )
    return applicant


def msgids(replies: tuple[Reply, ...]) -> list[str]:
    return [line.msgid for reply in replies for line in reply.lines]


def data_of(replies: tuple[Reply, ...]) -> list[str]:
    return [button.data for reply in replies for row in reply.buttons for button in row]


def chat_state(applicant: InMemoryChat) -> tuple[object, ...]:
    return (
        applicant.state,
        dict(applicant.context),
        dict(applicant.answers),
        len(applicant.applied),
    )


# --- button data -------------------------------------------------------------------------


def test_info_button_data_fits_telegrams_limit_and_round_trips() -> None:
    for kind in DocumentType:
        data = info_upload_button_data(kind.value)
        assert len(data.encode()) <= 64
        parsed = parse_info(data)
        assert parsed is not None and parsed.doc_type == kind.value
        # Never mistaken for a question button, whose token would make it stale.
        assert parse_press(data) is None
    answer = info_answer_button_data()
    assert len(answer.encode()) <= 64
    assert parse_info(answer) == InfoPress(None)
    assert len({info_upload_button_data(k.value) for k in DocumentType} | {answer}) == 7


@pytest.mark.parametrize("doc_type", ["", "Business", "../etc", "x" * 41, "é"])
def test_info_button_data_refuses_what_is_not_a_document_type(doc_type: str) -> None:
    with pytest.raises(ValueError, match="document type"):
        info_upload_button_data(doc_type)


@pytest.mark.parametrize(
    "data", ["info:", "info:doc:", "info:answer:x", "info:doc:A", "info:doc:a b", "info:other"]
)
def test_malformed_info_data_is_not_an_info_press(data: str) -> None:
    assert parse_info(data) is None


# --- the notice --------------------------------------------------------------------------


def test_the_notice_names_the_application_lists_the_request_and_offers_buttons() -> None:
    reply = info_requests.info_request_reply(
        REFERENCE, ["business_licence", "tax_certificate"], QUESTION
    )
    assert reply.lines == (
        Message(info_requests.NOTICE, {"reference": REFERENCE}),
        Message(info_requests.PLEASE_SEND),
        Message("• {document}", {"document": LICENCE}),
        Message("• {document}", {"document": TAX}),
        Message(info_requests.OFFICER_ASKS, {"question": QUESTION}),
        Message(info_requests.HOW_TO_SEND),
        Message(info_requests.HOW_TO_ANSWER),
    )
    assert reply.buttons == (
        (
            Button(
                Message(info_requests.SEND_BUTTON, {"document": LICENCE}),
                "info:doc:business_licence",
            ),
        ),
        (
            Button(
                Message(info_requests.SEND_BUTTON, {"document": TAX}), "info:doc:tax_certificate"
            ),
        ),
        (Button(Message(info_requests.ANSWER_BUTTON), "info:answer"),),
    )
    marked = marked_message_ids()
    assert all(message.msgid in marked for message in messages_in(reply))


def test_a_question_only_notice_has_just_the_answer_button() -> None:
    reply = info_requests.info_request_reply(REFERENCE, [], QUESTION)
    assert data_of((reply,)) == ["info:answer"]
    assert info_requests.PLEASE_SEND not in msgids((reply,))


def test_a_document_type_this_version_does_not_know_is_left_out_of_the_notice() -> None:
    reply = info_requests.info_request_reply(REFERENCE, ["passport", "owner_id"], None)
    assert data_of((reply,)) == ["info:doc:owner_id"]


# --- uploads for a request ---------------------------------------------------------------


def test_an_upload_button_leads_straight_to_that_upload_without_a_draft() -> None:
    applicant = asked()
    assert not applicant.has_draft
    (reply,) = applicant.send(ButtonPress(info_upload_button_data("tax_certificate")))
    assert applicant.state == "info_upload"
    assert applicant.context["doc_type"] == "tax_certificate"
    assert reply.lines == (
        Message(questions.INFO_SEND_DOCUMENT, {"document": TAX, "reference": REFERENCE}),
    )
    assert [b.label.msgid for row in reply.buttons for b in row] == [questions.NOT_NOW]
    snapshot = applicant.snapshot()
    assert expected_document(snapshot) == "tax_certificate"
    assert expected_upload(snapshot) == ExpectedUpload("tax_certificate", "open_application")
    assert not any(isinstance(e, AttachInfoDocument | ReplyToOfficer) for e in applicant.applied)


def test_uploads_report_what_is_still_needed_then_thank_the_applicant() -> None:
    applicant = asked()
    applied = len(applicant.applied)
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    (reply,) = applicant.send(DocumentAccepted("business_licence", "licence.pdf"))
    assert applicant.applied[-1] == AttachInfoDocument("business_licence")
    assert applicant.state == "idle"
    assert reply.lines[:3] == (
        Message(phrases.INFO_RECEIVED, {"document": LICENCE, "reference": REFERENCE}),
        Message(info_requests.STILL_NEEDED),
        Message("• {document}", {"document": TAX}),
    )
    assert data_of((reply,)) == ["info:doc:tax_certificate", "info:answer"]
    # The next snapshot shows what is still missing.
    request = applicant.snapshot().info_request
    assert request == InfoRequest(REFERENCE, ("tax_certificate",), QUESTION)

    applicant.send(ButtonPress(data_of((reply,))[0]))
    (reply,) = applicant.send(DocumentAccepted("tax_certificate", None))
    assert applicant.applied[-1] == AttachInfoDocument("tax_certificate")
    assert reply.lines == (
        Message(phrases.INFO_RECEIVED, {"document": TAX, "reference": REFERENCE}),
        Message(phrases.INFO_COMPLETE),
    )
    assert reply.buttons == ()
    assert applicant.snapshot().info_request is None
    assert applicant.applications[0].status == "under_review"
    # Nothing went to a draft.
    assert applicant.applied[applied:] == [
        AttachInfoDocument("business_licence"),
        AttachInfoDocument("tax_certificate"),
    ]


@pytest.mark.parametrize("reason", [*DOCUMENT_REFUSAL_REASONS, "something_new"])
def test_a_refused_info_upload_is_explained_and_the_request_shown_again(reason: str) -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    applied = len(applicant.applied)
    (reply,) = applicant.send(DocumentRefused(reason))
    assert reply.lines[0].msgid == phrases.REFUSALS.get(reason, phrases.REFUSED_OTHER)
    assert len(applicant.applied) == applied
    assert applicant.state == "idle"
    assert expected_document(applicant.snapshot()) is None
    assert Message(info_requests.WAITING, {"reference": REFERENCE}) in reply.lines
    assert data_of((reply,)) == [
        "info:doc:business_licence",
        "info:doc:tax_certificate",
        "info:answer",
    ]
    assert applicant.snapshot().info_request == InfoRequest(
        REFERENCE, ("business_licence", "tax_certificate"), QUESTION
    )


def test_choosing_another_document_while_uploading_switches_to_it() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    applicant.send(ButtonPress(info_upload_button_data("tax_certificate")))
    assert applicant.state == "info_upload"
    assert expected_document(applicant.snapshot()) == "tax_certificate"


def test_text_while_uploading_asks_for_the_file() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    before = chat_state(applicant)
    (reply,) = applicant.send(Text("I will send it tomorrow"))
    assert reply.lines[0].msgid == phrases.INFO_SEND_FILE_NOT_TEXT
    assert chat_state(applicant) == before


@pytest.mark.parametrize("leave", ["not_now", "cancel"])
def test_not_now_and_cancel_leave_the_upload_and_show_the_request(leave: str) -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    applied = len(applicant.applied)
    if leave == "not_now":
        (reply,) = applicant.press(questions.NOT_NOW)
    else:
        (reply,) = applicant.send(Command("cancel"))
    assert applicant.state == "idle"
    assert len(applicant.applied) == applied
    assert "doc_type" not in applicant.context
    assert reply.lines[0] == Message(info_requests.WAITING, {"reference": REFERENCE})
    assert "info:doc:business_licence" in data_of((reply,))


def test_a_file_sent_without_pressing_a_button_asks_to_choose_the_document() -> None:
    applicant = asked()
    before = chat_state(applicant)
    (reply,) = applicant.send(FileWithoutRequest())
    assert reply.lines[0].msgid == phrases.CHOOSE_DOCUMENT_FIRST
    assert "info:doc:tax_certificate" in data_of((reply,))
    assert chat_state(applicant) == before


def test_a_button_for_a_document_already_sent_again_says_so() -> None:
    applicant = asked()
    notice = applicant.last
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    applicant.send(DocumentAccepted("business_licence", None))
    before = chat_state(applicant)
    (reply,) = applicant.send(ButtonPress(data_of(notice)[0]))
    assert reply.lines[0] == Message(
        phrases.INFO_NOT_NEEDED, {"document": LICENCE, "reference": REFERENCE}
    )
    assert chat_state(applicant) == before


# --- stale info buttons ------------------------------------------------------------------


@pytest.mark.parametrize("button", [0, 2])
def test_info_buttons_are_stale_once_the_request_is_answered(button: int) -> None:
    applicant = asked()
    notice = applicant.last
    for kind in ("business_licence", "tax_certificate"):
        applicant.send(ButtonPress(info_upload_button_data(kind)))
        applicant.send(DocumentAccepted(kind, None))
    assert applicant.snapshot().info_request is None
    before = chat_state(applicant)
    (reply,) = applicant.send(ButtonPress(data_of(notice)[button]))
    assert reply.lines[0].msgid == phrases.STALE
    assert reply.lines[1] == Message(questions.IDLE_OPEN, {"reference": REFERENCE})
    assert chat_state(applicant) == before


@pytest.mark.parametrize("data", ["info:doc:owner_id", "info:answer", "info:doc:passport"])
def test_info_buttons_without_an_open_request_are_stale_during_a_draft(data: str) -> None:
    applicant = drafting_beside_an_open_application("employees")
    assert applicant.snapshot().info_request is None
    before = chat_state(applicant)
    (reply,) = applicant.send(ButtonPress(data))
    assert msgids((reply,))[:2] == [phrases.STALE, "Step {step}/{total} · {section}\n{bar}"]
    assert questions.TEXT_PROMPTS["employees"].question in msgids((reply,))
    assert chat_state(applicant) == before


def test_an_info_button_in_a_chat_never_seen_greets() -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    (reply,) = applicant.send(ButtonPress("info:answer"))
    assert reply.lines[0].msgid == phrases.GREETING
    assert applicant.state == "language"


def test_the_answer_button_of_a_request_without_a_question_is_stale() -> None:
    applicant = asked(question=None)
    before = chat_state(applicant)
    (reply,) = applicant.send(ButtonPress(info_answer_button_data()))
    assert reply.lines[0].msgid == phrases.STALE
    assert chat_state(applicant) == before


def test_a_request_closed_meanwhile_sends_the_chat_back_to_idle() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    closed = replace(applicant.snapshot(), info_request=None)
    assert expected_document(closed) is None
    outcome = handle(closed, FileWithoutRequest())
    assert outcome.state == "idle"
    assert outcome.effects == ()
    assert outcome.replies[0].lines[0].msgid == phrases.NOT_EXPECTING_FILE


# --- answering the question, and the thread -----------------------------------------------


def test_answer_the_question_button_then_the_typed_answer_goes_to_the_officer() -> None:
    applicant = asked(documents=(), question=QUESTION)
    (reply,) = applicant.send(ButtonPress(info_answer_button_data()))
    assert applicant.state == "info_answer"
    assert reply.lines == (
        Message(info_requests.OFFICER_ASKS, {"question": QUESTION}),
        Message(questions.INFO_TYPE_ANSWER, {"maximum": MAX_MESSAGE_LENGTH}),
    )
    (reply,) = applicant.send(Text("  The main customer paid late.  "))
    assert applicant.applied[-1] == ReplyToOfficer("The main customer paid late.")
    assert reply.lines == (Message(phrases.SENT_TO_OFFICER),)
    assert applicant.state == "idle"
    assert applicant.thread == ["The main customer paid late."]
    assert applicant.applications[0].status == "under_review"


def test_typing_while_idle_answers_the_open_question() -> None:
    applicant = asked()
    (reply,) = applicant.send(Text("Seasonal orders dropped."))
    assert applicant.applied[-1] == ReplyToOfficer("Seasonal orders dropped.")
    assert reply.lines[0] == Message(phrases.SENT_TO_OFFICER)
    # The documents are still wanted, one tap away.
    assert data_of((reply,)) == ["info:doc:business_licence", "info:doc:tax_certificate"]
    assert applicant.state == "idle"


def test_typing_while_idle_without_a_request_goes_to_the_thread() -> None:
    applicant = submitted()
    applied = len(applicant.applied)
    (reply,) = applicant.send(Text("When will I hear from you?"))
    assert applicant.applied[applied:] == [ReplyToOfficer("When will I hear from you?")]
    assert reply.lines == (Message(phrases.PASSED_TO_OFFICER, {"reference": REFERENCE}),)
    assert applicant.state == "idle"
    assert applicant.thread == ["When will I hear from you?"]


def test_typing_while_idle_without_an_open_application_only_shows_the_commands() -> None:
    applicant = submitted()
    applicant.applications[0] = replace(applicant.applications[0], status="rejected")
    before = chat_state(applicant)
    (reply,) = applicant.send(Text("Why?"))
    assert reply.lines == (Message(questions.IDLE),)
    assert chat_state(applicant) == before


@pytest.mark.parametrize("where", ["thread", "idle_question", "info_answer"])
def test_a_message_too_long_for_the_officer_is_refused(where: str) -> None:
    applicant = submitted() if where == "thread" else asked()
    if where == "info_answer":
        applicant.send(ButtonPress(info_answer_button_data()))
    before = chat_state(applicant)
    text = "x" * (MAX_MESSAGE_LENGTH + 1)
    (reply,) = applicant.send(Text(text))
    assert reply.lines[0] == Message(
        phrases.MESSAGE_TOO_LONG,
        {"length": MAX_MESSAGE_LENGTH + 1, "maximum": MAX_MESSAGE_LENGTH},
    )
    assert chat_state(applicant) == before
    applicant.send(Text("y" * MAX_MESSAGE_LENGTH))
    assert applicant.applied[-1] == ReplyToOfficer("y" * MAX_MESSAGE_LENGTH)


def test_a_blank_answer_is_not_sent() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_answer_button_data()))
    before = chat_state(applicant)
    (reply,) = applicant.send(Text("   "))
    assert questions.INFO_TYPE_ANSWER in msgids((reply,))
    assert chat_state(applicant) == before


def test_an_answer_typed_after_the_request_closed_still_reaches_the_officer() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_answer_button_data()))
    closed = replace(applicant.snapshot(), info_request=None)
    outcome = handle(closed, Text("Here is my answer."))
    assert outcome.effects == (ReplyToOfficer("Here is my answer."),)
    assert outcome.state == "idle"
    assert outcome.replies[0].lines[0] == Message(
        phrases.PASSED_TO_OFFICER, {"reference": REFERENCE}
    )


def test_the_thread_message_hides_its_text_in_reprs() -> None:
    assert "13905712468" not in repr(ReplyToOfficer("call me on 13905712468"))
    request = InfoRequest(REFERENCE, (), "Is 330106198001011235 your ID number?")
    assert "330106198001011235" not in repr(request)


# --- a draft in progress is never touched --------------------------------------------------


def test_text_during_a_draft_still_answers_its_questions() -> None:
    applicant = drafting_beside_an_open_application("amount")
    applicant.officer_requests(("owner_id",), QUESTION)
    applicant.send(Text("30万"))
    assert applicant.applied[-1] == SaveAnswer("amount", Decimal("300000.00"))
    assert applicant.state == "term_months"
    assert applicant.thread == []


def test_an_info_upload_during_a_draft_keeps_it_and_apply_resumes_it() -> None:
    applicant = drafting_beside_an_open_application("owner_id_number")
    answers = dict(applicant.answers)
    applicant.officer_requests(("owner_id",), None)
    applicant.send(ButtonPress(info_upload_button_data("owner_id")))
    assert applicant.state == "info_upload"
    assert expected_upload(applicant.snapshot()) == ExpectedUpload("owner_id", "open_application")
    (reply,) = applicant.send(DocumentAccepted("owner_id", None))
    assert applicant.applied[-1] == AttachInfoDocument("owner_id")
    assert reply.lines[-1] == Message(questions.DRAFT_KEPT)
    assert applicant.state == "idle"
    assert applicant.answers == answers
    assert applicant.documents == set()
    assert applicant.has_draft
    # While idle the draft is mentioned; /apply picks it up where it stopped.
    (reply,) = applicant.send(Start())
    assert reply.lines[-1] == Message(questions.DRAFT_KEPT)
    applicant.send(Command("apply"))
    assert applicant.state == "owner_id_number"
    assert msgids(applicant.last)[0] == phrases.ALREADY_DRAFTING
    assert applicant.answers == answers


def test_not_now_during_a_draft_says_the_draft_is_kept() -> None:
    applicant = drafting_beside_an_open_application("purpose")
    applicant.officer_requests((), QUESTION)
    applicant.send(ButtonPress(info_answer_button_data()))
    (reply,) = applicant.press(questions.NOT_NOW)
    assert reply.lines[-1] == Message(questions.DRAFT_KEPT)
    assert applicant.state == "idle"


def test_apply_from_an_info_step_without_a_draft_keeps_the_step() -> None:
    applicant = asked()
    applicant.send(ButtonPress(info_upload_button_data("tax_certificate")))
    one_open, again = applicant.send(Command("apply"))
    assert one_open.lines[0] == Message(phrases.ONE_OPEN, {"reference": REFERENCE})
    assert again.lines[0].msgid == questions.INFO_SEND_DOCUMENT
    assert applicant.state == "info_upload"


# --- /status -----------------------------------------------------------------------------


def test_status_shows_the_open_request_with_its_buttons() -> None:
    applicant = asked()
    (reply,) = applicant.send(Command("status"))
    lines = reply.lines
    assert lines[0].msgid == statuses.HEADER
    assert lines[1] == Message(
        statuses.APPLICATION,
        {"reference": REFERENCE, "status": Message(statuses.STATUS_LABELS["info_requested"])},
    )
    waiting = lines.index(Message(info_requests.WAITING, {"reference": REFERENCE}))
    assert lines[waiting + 1 : waiting + 5] == (
        Message(info_requests.STILL_NEEDED),
        Message("• {document}", {"document": LICENCE}),
        Message("• {document}", {"document": TAX}),
        Message(info_requests.OFFICER_ASKS, {"question": QUESTION}),
    )
    assert data_of((reply,)) == [
        "info:doc:business_licence",
        "info:doc:tax_certificate",
        "info:answer",
    ]


def test_status_during_a_draft_shows_the_request_then_asks_the_question_again() -> None:
    applicant = drafting_beside_an_open_application("employees")
    applicant.officer_requests(("tax_certificate",), None)
    status, again = applicant.send(Command("status"))
    assert Message(info_requests.WAITING, {"reference": REFERENCE}) in status.lines
    assert data_of((status,)) == ["info:doc:tax_certificate"]
    assert questions.TEXT_PROMPTS["employees"].question in msgids((again,))
    assert applicant.state == "employees"


def test_status_without_a_request_has_no_info_buttons() -> None:
    applicant = submitted()
    (reply,) = applicant.send(Command("status"))
    assert data_of((reply,)) == []


# --- wording -------------------------------------------------------------------------------


def test_every_message_of_the_request_paths_is_marked_for_translation() -> None:
    applicant = asked()
    seen = list(applicant.last)
    seen += applicant.send(Command("status"))
    seen += applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    seen += applicant.send(Text("soon"))
    seen += applicant.send(DocumentRefused("too_big"))
    seen += applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    seen += applicant.send(DocumentAccepted("business_licence", None))
    seen += applicant.send(ButtonPress(info_answer_button_data()))
    seen += applicant.send(Text("x" * 2001))
    seen += applicant.send(Text("An answer"))
    seen += applicant.send(ButtonPress(info_upload_button_data("business_licence")))
    seen += applicant.send(ButtonPress(info_upload_button_data("tax_certificate")))
    seen += applicant.send(DocumentAccepted("tax_certificate", None))
    seen += applicant.send(Text("Thanks"))
    seen += applicant.send(ButtonPress(info_answer_button_data()))
    found = {message.msgid for reply in seen for message in messages_in(reply)}
    assert found - marked_message_ids() == set()
    for msgid in (
        phrases.INFO_RECEIVED,
        phrases.INFO_COMPLETE,
        phrases.INFO_NOT_NEEDED,
        phrases.SENT_TO_OFFICER,
        phrases.PASSED_TO_OFFICER,
        phrases.MESSAGE_TOO_LONG,
        phrases.STALE,
    ):
        assert msgid in found, msgid
