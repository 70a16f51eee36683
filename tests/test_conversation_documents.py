"""The documents step: checklist, uploads in any order, replacements, refusals, stray files."""

from __future__ import annotations

from datetime import date

import pytest

from conversations import display, phrases, questions
from conversations.effects import AttachDocument
from conversations.events import (
    DOCUMENT_REFUSAL_REASONS,
    DocumentAccepted,
    DocumentRefused,
    FileWithoutRequest,
    Text,
)
from conversations.flow import expected_document
from conversations.memory import InMemoryChat
from conversations.replies import Message, Reply

TODAY = date(2026, 11, 27)
REQUIRED = [
    "business_licence",
    "owner_id",
    "financial_statements",
    "bank_statements",
    "tax_certificate",
]


def at_documents(security: str = "none") -> InMemoryChat:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.advance_to("security_type")
    applicant.press_value("sec", security)
    applicant.advance_to("documents")
    return applicant


def checklist(reply: Reply) -> dict[str, str]:
    """document type label → state label, from the checklist lines."""
    result = {}
    for line in reply.lines:
        if line.msgid == display.CHECKLIST_LINE:
            document, state = line.params["document"], line.params["state"]
            assert isinstance(document, Message) and isinstance(state, Message)
            result[document.msgid] = state.msgid
    return result


def upload(applicant: InMemoryChat, kind: str) -> tuple[Reply, ...]:
    applicant.press_value("doc", kind)
    assert expected_document(applicant.snapshot()) == kind
    return applicant.send(DocumentAccepted(kind, None))


def test_the_checklist_shows_required_optional_and_received() -> None:
    applicant = at_documents("collateral")
    (reply,) = applicant.last
    assert checklist(reply) == {
        "Business licence": "required",
        "Owner's ID card": "required",
        "Last year's financial statements": "required",
        "Bank statements (last six months)": "required",
        "Tax certificate": "required",
        "Collateral papers": "required",
    }
    (reply,) = upload(applicant, "collateral_papers")
    assert reply.lines[0] == Message(
        phrases.DOCUMENT_RECEIVED, {"document": Message("Collateral papers")}
    )
    assert checklist(reply)["Collateral papers"] == display.RECEIVED
    labels = {
        button.data.rsplit(":", 1)[1]: button.label for row in reply.buttons for button in row
    }
    assert labels["collateral_papers"] == Message(
        display.RECEIVED_BUTTON, {"document": Message("Collateral papers")}
    )
    assert labels["owner_id"] == Message("Owner's ID card")
    assert labels["done"] == Message(questions.CONTINUE_TO_SUMMARY)


def test_without_collateral_its_papers_are_optional() -> None:
    applicant = at_documents("guarantor")
    assert checklist(applicant.last[0])["Collateral papers"] == "optional"


def test_uploads_in_any_order_then_continue() -> None:
    applicant = at_documents()
    for kind in reversed(REQUIRED):
        upload(applicant, kind)
    applicant.press(questions.CONTINUE_TO_SUMMARY)
    assert applicant.state == "summary"
    assert [e for e in applicant.applied if isinstance(e, AttachDocument)] == [
        AttachDocument(kind) for kind in reversed(REQUIRED)
    ]


def test_choosing_a_received_document_again_replaces_it() -> None:
    applicant = at_documents()
    upload(applicant, "owner_id")
    (reply,) = upload(applicant, "owner_id")
    assert applicant.applied[-2:] == [AttachDocument("owner_id"), AttachDocument("owner_id")]
    assert checklist(reply)["Owner's ID card"] == display.RECEIVED


def test_continue_is_refused_with_the_list_of_missing_documents() -> None:
    applicant = at_documents()
    upload(applicant, "business_licence")
    upload(applicant, "tax_certificate")
    applied = len(applicant.applied)
    (reply,) = applicant.press(questions.CONTINUE_TO_SUMMARY)
    assert applicant.state == "documents"
    assert len(applicant.applied) == applied
    assert reply.lines[0].msgid == phrases.DOCUMENTS_MISSING
    missing = [
        line.params["document"] for line in reply.lines if line.msgid == display.MISSING_LINE
    ]
    assert missing == [
        Message("Owner's ID card"),
        Message("Last year's financial statements"),
        Message("Bank statements (last six months)"),
    ]


def test_the_upload_request_names_the_document_and_offers_a_way_back() -> None:
    applicant = at_documents()
    (reply,) = applicant.press_value("doc", "bank_statements")
    assert (
        Message(questions.SEND_DOCUMENT, {"document": Message("Bank statements (last six months)")})
        in reply.lines
    )
    applicant.send(Text("here it comes"))
    assert applicant.last[0].lines[0].msgid == phrases.SEND_FILE_NOT_TEXT
    assert applicant.state == "document_upload"
    applicant.press(questions.BACK_TO_CHECKLIST)
    assert applicant.state == "documents"
    assert expected_document(applicant.snapshot()) is None


@pytest.mark.parametrize(
    ("reason", "phrase"),
    [
        ("too_big", "20 MB"),
        ("wrong_type", "PDF, JPEG or PNG"),
        ("image_too_large", "pixels"),
        ("unreadable", "could not read"),
        ("duplicate", "already received this exact file"),
        ("something_new", "could not accept"),
    ],
)
def test_a_refused_document_is_explained_and_the_checklist_shown(reason: str, phrase: str) -> None:
    applicant = at_documents()
    applicant.press_value("doc", "owner_id")
    applied = len(applicant.applied)
    (reply,) = applicant.send(DocumentRefused(reason))
    assert phrase in reply.lines[0].msgid
    assert applicant.state == "documents"
    assert len(applicant.applied) == applied
    assert checklist(reply)["Owner's ID card"] == "required"


def test_every_refusal_reason_has_its_own_explanation() -> None:
    assert set(phrases.REFUSALS) == set(DOCUMENT_REFUSAL_REASONS)
    assert len(set(phrases.REFUSALS.values())) == len(phrases.REFUSALS)


@pytest.mark.parametrize("state", ["company_name", "phone", "summary"])
def test_a_file_outside_the_documents_step_changes_nothing(state: str) -> None:
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    applicant.advance_to(state)
    assert expected_document(applicant.snapshot()) is None
    context, applied = dict(applicant.context), len(applicant.applied)
    (reply,) = applicant.send(FileWithoutRequest())
    assert reply.lines[0].msgid == phrases.NOT_EXPECTING_FILE
    assert (applicant.state, applicant.context, len(applicant.applied)) == (state, context, applied)


def test_a_file_before_choosing_its_type_asks_to_choose_first() -> None:
    applicant = at_documents()
    (reply,) = applicant.send(FileWithoutRequest())
    assert reply.lines[0].msgid == phrases.CHOOSE_DOCUMENT_FIRST
    assert reply.buttons
    assert applicant.state == "documents"


def test_an_accepted_document_outside_the_upload_step_is_not_attached() -> None:
    applicant = at_documents()
    applied = len(applicant.applied)
    applicant.send(DocumentAccepted("owner_id", "id.jpg"))
    assert len(applicant.applied) == applied
    assert applicant.last[0].lines[0].msgid == phrases.NOT_EXPECTING_FILE


def test_submitting_after_security_becomes_collateral_asks_for_its_papers() -> None:
    applicant = at_documents()
    for kind in REQUIRED:
        upload(applicant, kind)
    applicant.press(questions.CONTINUE_TO_SUMMARY)
    applicant.press(questions.EDIT_ANSWER)
    applicant.press_value("edit", "security_type")
    applicant.press_value("sec", "collateral")
    applicant.send(Text("Warehouse in Ningbo, about 150万"))
    assert applicant.state == "summary"
    applied = len(applicant.applied)
    (reply,) = applicant.press(questions.SUBMIT)
    assert len(applicant.applied) == applied
    assert applicant.state == "documents"
    assert reply.lines[:2] == (
        Message(phrases.DOCUMENTS_MISSING),
        Message(display.MISSING_LINE, {"document": Message("Collateral papers")}),
    )
    upload(applicant, "collateral_papers")
    applicant.press(questions.CONTINUE_TO_SUMMARY)
    applicant.press(questions.SUBMIT)
    assert applicant.state == "idle"
    assert len(applicant.applications) == 1
