"""Server-side sessions: timeouts, logout, disabled accounts, and the cookie's exact flags."""

from __future__ import annotations

from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from backoffice import sessions
from backoffice.sessions import Stage
from storage.database import Database
from storage.models import OfficerSession
from tests.test_backoffice_harness import Browser, Clock, add_officer, cipher, make_client


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def browser(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Browser:
    return Browser(await make_client(aiohttp_client, database, clock, data_dir))


async def _signed_in(
    browser: Browser, database: Database, clock: Clock, role: str = "officer"
) -> int:
    officer = await add_officer(database, cipher(), username="li.na", role=role)
    await browser.open_session(database, officer, clock)
    assert (await browser.get("/" if role != "admin" else "/admin/officers")).status == 200
    return officer.id


async def test_idle_session_expires_after_30_minutes(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _signed_in(browser, database, clock)
    clock.advance(minutes=29)
    assert (await browser.get("/")).status == 200  # activity keeps it alive
    clock.advance(minutes=29, seconds=59)
    assert (await browser.get("/")).status == 200

    clock.advance(minutes=30)
    page = await browser.get("/")

    assert page.status == 303 and page.location == "/login"
    clock.advance(seconds=1)
    assert (await browser.get("/")).status == 303  # ended for good, not just this once


async def test_session_ends_12_hours_after_sign_in_whatever_the_activity(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _signed_in(browser, database, clock)
    for _ in range(11 * 3):
        clock.advance(minutes=20)
        assert (await browser.get("/")).status == 200
    clock.advance(minutes=60)

    assert (await browser.get("/")).status == 303


async def test_logged_out_cookie_is_refused(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _signed_in(browser, database, clock)
    token = browser.cookies["__Host-session"]

    out = await browser.post("/logout")

    assert out.status == 303 and "__Host-session" not in browser.cookies
    browser.cookies["__Host-session"] = token  # an attacker kept a copy of the cookie
    assert (await browser.get("/")).status == 303
    async with database.unit_of_work() as session:
        row = await session.get(OfficerSession, sessions.hash_token(token))
        assert row is not None and row.ended_at is not None


async def test_disabling_an_officer_kills_their_sessions(
    browser: Browser, database: Database, clock: Clock, aiohttp_client: Any, data_dir: Path
) -> None:
    victim_id = await _signed_in(browser, database, clock)
    admin = await add_officer(database, cipher(), username="boss", role="admin")
    admin_browser = Browser(await make_client(aiohttp_client, database, clock, data_dir))
    await admin_browser.open_session(database, admin, clock)
    await admin_browser.get("/admin/officers")

    done = await admin_browser.post(f"/admin/officers/{victim_id}/disable")

    assert done.status == 303
    assert (await browser.get("/")).status == 303
    async with database.unit_of_work() as session:
        live = await session.scalars(
            select(OfficerSession).where(
                OfficerSession.officer_id == victim_id, OfficerSession.ended_at.is_(None)
            )
        )
        assert live.all() == []


async def test_database_copy_of_a_session_is_not_a_cookie(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _signed_in(browser, database, clock)
    async with database.unit_of_work() as session:
        row = (await session.scalars(select(OfficerSession))).one()
    browser.cookies["__Host-session"] = row.token_hash.hex()

    assert (await browser.get("/")).status == 303


async def test_password_stage_session_expires_quickly(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.open_session(database, officer, clock, stage=Stage.PASSWORD)
    assert (await browser.get("/login/totp")).status == 200

    clock.advance(minutes=10)

    assert (await browser.get("/login/totp")).status == 303


async def test_session_cookie_flags_are_exact(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")

    await browser.sign_in(officer, clock)

    session_headers = [h for h in browser.set_cookie_headers if h.startswith("__Host-session=")]
    assert len(session_headers) == 2  # password stage, then the full session
    for raw in session_headers:
        jar: SimpleCookie = SimpleCookie()
        jar.load(raw)
        morsel = jar["__Host-session"]
        assert morsel["secure"] is True
        assert morsel["httponly"] is True
        assert morsel["samesite"] == "Strict"
        assert morsel["path"] == "/"
        assert morsel["domain"] == ""
        assert morsel["expires"] == "" and morsel["max-age"] == ""  # gone with the browser
        assert len(morsel.value) >= 43  # 256 random bits, base64url
    csrf_headers = [h for h in browser.set_cookie_headers if h.startswith("__Host-signin-csrf=")]
    assert csrf_headers
    for raw in csrf_headers:
        lowered = raw.lower()
        assert "secure" in lowered and "httponly" in lowered and "samesite=strict" in lowered
        assert "path=/" in lowered and "domain" not in lowered
