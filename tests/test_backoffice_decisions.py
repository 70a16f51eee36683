"""Decisions and messages through the application page, and the attacks on them.

Each form is posted the way a browser would (with the page's CSRF token) against the real app;
the workflow's refusals come back as the page with a clear message and change nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from lending.products import SecurityType, required_documents
from locales import gettext_for
from storage.casework import message_text, record_applicant_reply
from storage.database import Database
from storage.models import Application, ApplicationMessage, Document, OutboxMessage
from tests.test_backoffice_harness import (
    Browser,
    Clock,
    OfficerFacts,
    add_application,
    add_officer,
    audit_events,
    cipher,
    make_client,
)

PHONE = "13812345678"
# Settings' default approver_required_above is 1 000 000.
SMALL = Decimal("300000.00")
LARGE = Decimal("2000000.00")
FOUR_EYES = (
    "Four-eyes rule: the officer who recommended this application cannot decide on it. "
    "Another officer or an approver must decide."
)
ILLEGAL = "This action is not possible while the application has its current status."


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Any:
    return await make_client(aiohttp_client, database, clock, data_dir)


@dataclass
class Staff:
    officer: OfficerFacts
    colleague: OfficerFacts
    approver: OfficerFacts
    auditor: OfficerFacts
    admin: OfficerFacts


@pytest.fixture
async def staff(database: Database) -> Staff:
    async def make(username: str, role: str) -> OfficerFacts:
        return await add_officer(database, cipher(), username=username, role=role)

    return Staff(
        officer=await make("li.na", "officer"),
        colleague=await make("wang.wei", "officer"),
        approver=await make("zhao.min", "approver"),
        auditor=await make("sun.audit", "auditor"),
        admin=await make("chen.admin", "admin"),
    )


async def complete_application(
    database: Database, *, amount: Decimal = SMALL, documents: bool = True
) -> int:
    """A submitted application with an amount and (by default) every required document."""
    application_id = await add_application(database, company="Golden Dragon", phone=PHONE)
    async with database.unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application is not None
        application.amount = amount
        application.security_type = SecurityType.NONE.value
        for doc_type in required_documents(SecurityType.NONE) if documents else ():
            session.add(
                Document(
                    application_id=application_id,
                    doc_type=doc_type.value,
                    storage_name=f"{application_id}-{doc_type.value}",
                    content_type="application/pdf",
                    size=1000,
                    key_id="test-key",
                    created_at=application.submitted_at,
                )
            )
    return application_id


async def signed_in(client: Any, database: Database, clock: Clock, who: OfficerFacts) -> Browser:
    browser = Browser(client)
    await browser.open_session(database, who, clock)
    return browser


@dataclass(frozen=True)
class Snapshot:
    status: str
    recommended_by: int | None
    decided_by: int | None
    messages: int
    outbox: int


async def snapshot(database: Database, application_id: int) -> Snapshot:
    async with database.unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application is not None
        messages = await session.scalar(select(func.count()).select_from(ApplicationMessage))
        outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        return Snapshot(
            application.status,
            application.recommended_by_id,
            application.decided_by_id,
            int(messages or 0),
            int(outbox or 0),
        )


def forms(page_text: str) -> set[str]:
    """The actions of the POST forms on a page, as paths."""
    return set(re.findall(r'<form[^>]*method="post" action="([^"]+)"', page_text))


def decision_forms(page_text: str, application_id: int) -> set[str]:
    prefix = f"/applications/{application_id}/"
    return {
        action.removeprefix(prefix)
        for action in forms(page_text)
        if action.startswith(prefix) and not action.endswith("/reveal")
    }


# --- the whole way, through the pages ------------------------------------------------------


async def test_review_request_answer_recommend_approve_through_the_pages(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database, amount=LARGE)
    page_url = f"/applications/{application_id}"
    officer = await signed_in(client, database, clock, staff.officer)

    first = await officer.get(page_url)
    assert decision_forms(first.text, application_id) == {"open", "messages"}
    opened = await officer.post(page_url + "/open")
    assert (opened.status, opened.location) == (303, page_url)

    reviewing = await officer.get(page_url)
    assert decision_forms(reviewing.text, application_id) == {
        "request-information",
        "recommend",
        "reject",
        "messages",
    }
    asked = await officer.post(
        page_url + "/request-information",
        {"documents": "tax_certificate", "question": "Who are your main customers?"},
    )
    assert asked.status == 303
    assert (await snapshot(database, application_id)).status == "info_requested"
    notice = await _last_notice(database)
    assert notice.kind == "info_request"
    assert notice.payload["documents"] == ["tax_certificate"]
    assert "Who are your main customers" not in str(notice.payload)  # the text stays sealed

    # The applicant answers in chat (what the bot does), then the officer sees it.
    clock.advance(minutes=5)
    async with database.unit_of_work() as session:
        await record_applicant_reply(
            session,
            cipher(),
            application_id=application_id,
            text="Tea shops <script>alert(1)</script>",
            document_type=None,
            now=clock.now,
        )
        session.add(
            Document(
                application_id=application_id,
                doc_type="tax_certificate",
                storage_name=f"{application_id}-tax-2",
                content_type="application/pdf",
                size=2000,
                key_id="test-key",
                created_at=clock.now,
            )
        )
        await session.flush()
        await record_applicant_reply(
            session,
            cipher(),
            application_id=application_id,
            text=None,
            document_type="tax_certificate",
            now=clock.now,
        )
    back = await officer.get(page_url)
    timeline = back.text.split('id="timeline"', 1)[1]
    assert "Tea shops &lt;script&gt;alert(1)&lt;/script&gt;" in timeline
    assert "<script>alert(1)" not in back.text
    assert "Who are your main customers?" in timeline
    assert "Information requested → Under review" in timeline
    assert (await snapshot(database, application_id)).status == "under_review"

    assert (await officer.post(page_url + "/recommend")).status == 303
    # Above the limit: the colleague gets no approve button, the approver does.
    colleague = await signed_in(client, database, clock, staff.colleague)
    assert decision_forms((await colleague.get(page_url)).text, application_id) == {"messages"}
    approver = await signed_in(client, database, clock, staff.approver)
    assert decision_forms((await approver.get(page_url)).text, application_id) == {
        "approve",
        "reject",
        "messages",
    }
    assert (await approver.post(page_url + "/approve")).status == 303

    final = await snapshot(database, application_id)
    assert (final.status, final.recommended_by, final.decided_by) == (
        "approved",
        staff.officer.id,
        staff.approver.id,
    )
    assert (await _last_notice(database)).payload["status"] == "approved"
    actions = [event.action for event in await audit_events(database)]
    for expected in (
        "application.open",
        "application.request_info",
        "application.info_answered",
        "application.recommend",
        "application.approve",
    ):
        assert expected in actions


async def _last_notice(database: Database) -> OutboxMessage:
    async with database.unit_of_work() as session:
        found = await session.scalar(select(OutboxMessage).order_by(OutboxMessage.id.desc()))
        assert found is not None
        return found


# --- four eyes ------------------------------------------------------------------------------


async def _recommended(
    client: Any, database: Database, clock: Clock, staff: Staff, amount: Decimal
) -> int:
    application_id = await complete_application(database, amount=amount)
    officer = await signed_in(client, database, clock, staff.officer)
    for step in ("open", "recommend"):
        assert (await officer.post(f"/applications/{application_id}/{step}")).status == 303
    return application_id


async def test_the_recommender_gets_no_approve_button_and_cannot_approve_by_hand(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await _recommended(client, database, clock, staff, SMALL)
    officer = await signed_in(client, database, clock, staff.officer)
    page = await officer.get(f"/applications/{application_id}")
    assert decision_forms(page.text, application_id) == {"messages"}
    assert "You recommended this application" in page.text
    before = await snapshot(database, application_id)

    refused = await officer.post(f"/applications/{application_id}/approve")

    assert refused.status == 403
    assert FOUR_EYES in refused.text
    assert await snapshot(database, application_id) == before
    last = (await audit_events(database))[-2:]
    assert [event.action for event in last] == [
        "application.decision_refused",
        "application.viewed",
    ]
    assert last[0].details == {"action": "approve", "code": "four_eyes", "role": "officer"}
    # Under the limit a colleague may decide: the refusal was about who asked.
    colleague = await signed_in(client, database, clock, staff.colleague)
    assert decision_forms(
        (await colleague.get(f"/applications/{application_id}")).text, application_id
    ) == {
        "approve",
        "reject",
        "messages",
    }
    assert (await colleague.post(f"/applications/{application_id}/approve")).status == 303
    assert (await snapshot(database, application_id)).decided_by == staff.colleague.id


async def test_above_the_limit_an_officer_cannot_approve_by_hand(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await _recommended(client, database, clock, staff, LARGE)
    colleague = await signed_in(client, database, clock, staff.colleague)
    page = await colleague.get(f"/applications/{application_id}")
    assert "an approver must decide" in page.text
    before = await snapshot(database, application_id)

    refused = await colleague.post(f"/applications/{application_id}/approve")

    assert refused.status == 403
    assert "The amount is above the limit for officers" in refused.text
    assert await snapshot(database, application_id) == before


# --- the route table and the workflow both guard ----------------------------------------------


@pytest.mark.parametrize("who", ["auditor", "admin"])
async def test_roles_outside_the_route_table_are_refused_and_logged(
    client: Any, database: Database, clock: Clock, staff: Staff, who: str
) -> None:
    application_id = await complete_application(database)
    browser = await signed_in(client, database, clock, getattr(staff, who))
    before = await snapshot(database, application_id)

    for step in ("open", "approve", "reject", "messages", "request-information"):
        page = await browser.post(
            f"/applications/{application_id}/{step}", {"reason": "x", "message": "x"}
        )
        assert page.status == 403, step

    assert await snapshot(database, application_id) == before
    denied = [e for e in await audit_events(database) if e.action == "access.denied"]
    assert len(denied) == 5


async def test_an_auditor_sees_the_page_without_any_form_but_the_language_switch(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    auditor = await signed_in(client, database, clock, staff.auditor)
    page = await auditor.get(f"/applications/{application_id}")
    assert page.status == 200
    assert forms(page.text) == {"/preferences/language", "/logout"}


async def test_an_illegal_transition_is_refused_with_a_clear_message(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    approver = await signed_in(client, database, clock, staff.approver)
    before = await snapshot(database, application_id)

    page = await approver.post(f"/applications/{application_id}/approve")

    assert page.status == 409
    assert ILLEGAL in page.text
    assert await snapshot(database, application_id) == before


async def test_refusals_are_shown_in_the_officers_language(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    translated = gettext_for("zh_Hans", ILLEGAL)
    assert translated != ILLEGAL, "the refusal has no Chinese translation yet"
    application_id = await complete_application(database)
    approver = await signed_in(client, database, clock, staff.approver)
    await approver.get("/")
    assert (await approver.post("/preferences/language", {"locale": "zh_Hans"})).status == 303

    page = await approver.post(f"/applications/{application_id}/approve")

    assert page.status == 409
    assert translated in page.text and ILLEGAL not in page.text


async def test_recommend_without_the_documents_is_refused(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database, documents=False)
    officer = await signed_in(client, database, clock, staff.officer)
    await officer.post(f"/applications/{application_id}/open")

    page = await officer.post(f"/applications/{application_id}/recommend")

    assert page.status == 409
    assert "Some required documents are missing" in page.text
    assert (await snapshot(database, application_id)).status == "under_review"
    # The request form offers the missing documents, ticked.
    for doc in required_documents(SecurityType.NONE):
        assert f'value="{doc.value}" checked' in page.text


# --- bad input ------------------------------------------------------------------------------


async def test_missing_or_forged_csrf_token_changes_nothing(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)
    before = await snapshot(database, application_id)

    missing = await officer.post(f"/applications/{application_id}/open", csrf=False)
    forged = await officer.post(
        f"/applications/{application_id}/messages", {"csrf_token": "forged", "message": "Hi"}
    )

    assert (missing.status, forged.status) == (403, 403)
    assert await snapshot(database, application_id) == before


async def test_get_on_a_decision_route_is_405(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)
    assert (await officer.get(f"/applications/{application_id}/approve")).status == 405
    assert (await snapshot(database, application_id)).status == "submitted"


async def test_extra_fields_assign_nothing(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)

    page = await officer.post(
        f"/applications/{application_id}/messages",
        {
            "message": "Hello",
            "status": "approved",
            "officer_id": str(staff.approver.id),
            "decided_by_id": str(staff.approver.id),
            "direction": "in",
        },
    )

    assert page.status == 303
    after = await snapshot(database, application_id)
    assert (after.status, after.decided_by) == ("submitted", None)
    async with database.unit_of_work() as session:
        message = await session.scalar(select(ApplicationMessage))
        assert message is not None
        assert (message.officer_id, message.direction) == (staff.officer.id, "out")
        assert message_text(cipher(), message) == "Hello"


async def test_unknown_and_draft_applications_are_404(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    async with database.unit_of_work() as session:
        application = await session.get(Application, application_id)
        assert application is not None
        application.status = "draft"
    officer = await signed_in(client, database, clock, staff.officer)
    for target in (application_id, 999_999):
        assert (await officer.post(f"/applications/{target}/open")).status == 404
        assert (
            await officer.post(f"/applications/{target}/messages", {"message": "x"})
        ).status == 404
    assert (await snapshot(database, application_id)).messages == 0


@pytest.mark.parametrize(
    ("step", "form", "status", "message"),
    [
        ("messages", {"message": "   "}, 400, "Please write a message."),
        ("messages", {"message": "x" * 2001}, 400, "The message is too long"),
        ("reject", {"reason": " "}, 400, "Please give the reason for this rejection."),
        ("reject", {"reason": f"Owner {PHONE} unreachable"}, 400, "Please do not write ID"),
        ("request-information", {"question": ""}, 400, "Choose at least one missing document"),
        ("request-information", {"documents": "../../etc/passwd"}, 400, "Unknown document type."),
    ],
)
async def test_bad_form_input_is_refused_and_changes_nothing(
    client: Any,
    database: Database,
    clock: Clock,
    staff: Staff,
    step: str,
    form: dict[str, str],
    status: int,
    message: str,
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)
    await officer.post(f"/applications/{application_id}/open")
    before = await snapshot(database, application_id)
    events_before = len(await audit_events(database))

    page = await officer.post(f"/applications/{application_id}/{step}", form)

    assert page.status == status
    assert message in page.text
    assert await snapshot(database, application_id) == before
    # Only the page view that shows the refusal is recorded.
    events = await audit_events(database)
    assert [event.action for event in events[events_before:]] == ["application.viewed"]
    assert PHONE not in str([event.details for event in events])


async def test_a_refused_message_is_given_back_to_edit(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)
    text = "<b>long</b> " + "x" * 2000

    page = await officer.post(f"/applications/{application_id}/messages", {"message": text})

    assert page.status == 400
    assert "&lt;b&gt;long&lt;/b&gt; xxx" in page.text and "<b>long</b>" not in page.text


async def test_rejection_reason_reaches_the_timeline_and_the_applicant(
    client: Any, database: Database, clock: Clock, staff: Staff
) -> None:
    application_id = await complete_application(database)
    officer = await signed_in(client, database, clock, staff.officer)
    await officer.post(f"/applications/{application_id}/open")
    clock.advance(minutes=1)

    page = await officer.post(
        f"/applications/{application_id}/reject", {"reason": "Trading history too short."}
    )

    assert page.status == 303
    assert (await snapshot(database, application_id)).status == "rejected"
    notice = await _last_notice(database)
    assert notice.payload == {
        "reference": notice.payload["reference"],
        "status": "rejected",
        "reason": "Trading history too short.",
    }
    shown = await officer.get(f"/applications/{application_id}")
    assert "Trading history too short." in shown.text.split('id="timeline"', 1)[1]
    # A closed application offers nothing more, not even a message the applicant cannot answer.
    assert decision_forms(shown.text, application_id) == set()
