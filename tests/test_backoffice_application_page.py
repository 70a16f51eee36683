"""The application page: masking, the audited reveal, documents out of the vault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.applications import document_record
from storage.audit import record
from storage.casework import record_applicant_reply
from storage.database import Database
from storage.models import Document
from storage.vault import Vault
from tests.test_backoffice_harness import (
    Browser,
    Clock,
    add_application,
    add_officer,
    audit_events,
    cipher,
    keyring,
    make_client,
)

PHONE = "13812345678"
ID_NUMBER = "110101199003071234"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 300


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def vault(data_dir: Path) -> Vault:
    return Vault(data_dir / "files", keyring())


@pytest.fixture
async def client(
    aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path, vault: Vault
) -> Any:
    return await make_client(aiohttp_client, database, clock, data_dir, vault=vault)


async def _browser_as(client: Any, database: Database, clock: Clock, role: str) -> Browser:
    officer = await add_officer(database, cipher(), username=f"as.{role}", role=role)
    browser = Browser(client)
    await browser.open_session(database, officer, clock)
    return browser


async def _application(database: Database) -> int:
    return await add_application(
        database, company="Golden Dragon", phone=PHONE, id_number=ID_NUMBER
    )


async def test_id_and_phone_are_masked_and_the_view_is_audited(
    client: Any, database: Database, clock: Clock
) -> None:
    application_id = await _application(database)
    browser = await _browser_as(client, database, clock, "auditor")

    page = await browser.get(f"/applications/{application_id}")

    assert page.status == 200
    assert "110101********1234" in page.text and "138****5678" in page.text
    assert ID_NUMBER not in page.text and PHONE not in page.text
    assert page.headers["Cache-Control"] == "no-store"
    assert 'action="/applications/' not in page.text  # auditors get no reveal form
    assert (await audit_events(database))[-1].action == "application.viewed"


async def test_reveal_needs_a_reason_and_is_audited_with_it(
    client: Any, database: Database, clock: Clock
) -> None:
    application_id = await _application(database)
    browser = await _browser_as(client, database, clock, "officer")
    await browser.get(f"/applications/{application_id}")

    refused = await browser.post(f"/applications/{application_id}/reveal", {"reason": "  "})
    assert refused.status == 400 and ID_NUMBER not in refused.text

    shown = await browser.post(
        f"/applications/{application_id}/reveal", {"reason": "Verify identity by phone"}
    )

    assert shown.status == 200
    assert ID_NUMBER in shown.text and PHONE in shown.text
    last = (await audit_events(database))[-1]
    assert last.action == "application.personal_data_revealed"
    assert last.details["reason"] == "Verify identity by phone"
    assert ID_NUMBER not in str(last.details) and PHONE not in str(last.details)
    again = await browser.get(f"/applications/{application_id}")
    assert ID_NUMBER not in again.text  # shown once, masked again afterwards


async def test_reveal_reason_holding_personal_data_is_refused(
    client: Any, database: Database, clock: Clock
) -> None:
    application_id = await _application(database)
    browser = await _browser_as(client, database, clock, "approver")
    await browser.get(f"/applications/{application_id}")

    page = await browser.post(
        f"/applications/{application_id}/reveal", {"reason": f"called {PHONE}"}
    )

    assert page.status == 400 and ID_NUMBER not in page.text
    actions = [event.action for event in await audit_events(database)]
    assert "application.personal_data_revealed" not in actions


async def test_unknown_and_draft_applications_are_404(
    client: Any, database: Database, clock: Clock
) -> None:
    browser = await _browser_as(client, database, clock, "officer")
    assert (await browser.get("/applications/999999")).status == 404
    assert (await browser.get("/applications/abc")).status == 404
    assert (await browser.get("/applications/1%2F..%2F2")).status == 404


async def test_document_download_is_an_audited_attachment(
    client: Any, database: Database, clock: Clock, vault: Vault
) -> None:
    application_id = await _application(database)
    other_id = await add_application(database, company="Other Firm")
    stored = await vault.store_bytes(document_record(application_id), PDF)
    async with database.unit_of_work() as session:
        document = Document(
            application_id=application_id,
            doc_type="business_licence",
            storage_name=stored.storage_name,
            content_type="application/pdf",
            size=stored.size,
            key_id=stored.key_id,
        )
        session.add(document)
        await session.flush()
        document_id = document.id
    browser = await _browser_as(client, database, clock, "officer")

    page = await browser.get(f"/applications/{application_id}")
    assert f"/applications/{application_id}/documents/{document_id}" in page.text
    async with browser.client.get(
        f"/applications/{application_id}/documents/{document_id}",
        headers={"Cookie": f"__Host-session={browser.cookies['__Host-session']}"},
    ) as response:
        body = await response.read()
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/pdf"
        assert response.headers["Content-Disposition"] == (
            f'attachment; filename="business_licence-{document_id}.pdf"'
        )
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert body == PDF
    last = (await audit_events(database))[-1]
    assert last.action == "document.downloaded" and last.details["document_id"] == document_id

    # The same document asked for through another application's URL does not exist.
    assert (await browser.get(f"/applications/{other_id}/documents/{document_id}")).status == 404


async def test_timeline_shows_events_and_messages_but_not_reads(
    client: Any, database: Database, clock: Clock
) -> None:
    application_id = await _application(database)
    async with database.unit_of_work() as session:
        await record(
            session,
            actor_type="applicant",
            actor_id="1",
            action="application.submitted",
            subject_type="application",
            subject_id=str(application_id),
        )
        await record_applicant_reply(
            session,
            cipher(),
            application_id=application_id,
            text="<b>Here you go</b>",
            document_type=None,
            now=clock.now,
        )
    browser = await _browser_as(client, database, clock, "officer")
    await browser.get(f"/applications/{application_id}")

    page = await browser.get(f"/applications/{application_id}")

    timeline = page.text.split("Timeline", 1)[1]
    assert "Submitted by the applicant" in timeline
    assert "&lt;b&gt;Here you go&lt;/b&gt;" in timeline
    assert "application.viewed" not in timeline
