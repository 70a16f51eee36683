"""Attacks on the back-office's request pipeline, each tried for real and refused."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from aiohttp import DummyCookieJar, web
from sqlalchemy import select

from backoffice.app import create_app
from backoffice.middlewares import CONTENT_SECURITY_POLICY
from settings import Settings
from storage.database import Database
from storage.models import Officer
from tests.test_backoffice_harness import (
    Browser,
    Clock,
    add_officer,
    audit_actions,
    cipher,
    load_officer,
    make_client,
)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def browser(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Browser:
    return Browser(await make_client(aiohttp_client, database, clock, data_dir))


async def _admin(browser: Browser, database: Database, clock: Clock) -> int:
    admin = await add_officer(database, cipher(), username="boss", role="admin")
    await browser.open_session(database, admin, clock)
    assert (await browser.get("/admin/officers")).status == 200
    return admin.id


async def _count_officers(database: Database) -> int:
    async with database.unit_of_work() as session:
        return len((await session.scalars(select(Officer))).all())


def _assert_security_headers(headers: Any, *, no_store: bool = True) -> None:
    assert headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Frame-Options"] == "DENY"
    if no_store:
        assert headers["Cache-Control"] == "no-store"


async def test_security_headers_on_pages_errors_and_static_files(
    browser: Browser, database: Database, clock: Clock
) -> None:
    sign_in = await browser.get("/login")
    _assert_security_headers(sign_in.headers)
    assert "<script>" not in sign_in.text and " style=" not in sign_in.text
    await _admin(browser, database, clock)
    _assert_security_headers((await browser.get("/admin/officers")).headers)
    _assert_security_headers((await browser.get("/no/such/page")).headers)
    static = await browser.get("/static/app.css")
    assert static.status == 200
    _assert_security_headers(static.headers, no_store=False)


async def test_csp_allows_no_inline_script_and_no_remote_origin() -> None:
    directives = dict(
        part.strip().split(" ", 1) for part in CONTENT_SECURITY_POLICY.split(";") if part.strip()
    )
    assert directives["script-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "http" not in CONTENT_SECURITY_POLICY and "*" not in CONTENT_SECURITY_POLICY


@pytest.mark.parametrize("token", [None, "", "forged-token-value"])
async def test_forged_or_missing_csrf_token_changes_nothing(
    browser: Browser, database: Database, clock: Clock, token: str | None
) -> None:
    await _admin(browser, database, clock)
    form = {"username": "mallory", "display_name": "Mallory", "role": "admin"}
    if token is not None:
        form["csrf_token"] = token

    page = await browser.post("/admin/officers", form, csrf=False)

    assert page.status == 403
    assert await _count_officers(database) == 1
    assert "security.csrf_refused" in await audit_actions(database)


async def test_csrf_token_of_another_session_is_refused(
    browser: Browser, database: Database, clock: Clock, aiohttp_client: Any, data_dir: Path
) -> None:
    await _admin(browser, database, clock)
    other = await add_officer(database, cipher(), username="li.na", role="officer")
    attacker = Browser(await make_client(aiohttp_client, database, clock, data_dir))
    await attacker.open_session(database, other, clock)

    page = await browser.post(
        "/admin/officers",
        {"username": "mallory", "display_name": "M", "role": "admin", "csrf_token": attacker.csrf},
        csrf=False,
    )

    assert page.status == 403
    assert await _count_officers(database) == 2


async def test_cross_site_post_is_refused_even_with_a_token(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _admin(browser, database, clock)
    page = await browser.post(
        "/admin/officers",
        {"username": "mallory", "display_name": "M", "role": "admin"},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert page.status == 403
    assert await _count_officers(database) == 1


async def test_sign_in_form_needs_its_csrf_cookie(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    browser.cookies.pop("__Host-signin-csrf")

    page = await browser.post("/login", {"username": "li.na", "password": "whatever"})

    assert page.status == 403
    assert "__Host-session" not in browser.cookies
    assert (await load_officer(database, 1)).failed_attempts == 0


@pytest.mark.parametrize(
    "path", ["/logout", "/admin/officers/1/disable", "/admin/officers/1/unlock"]
)
async def test_get_on_a_state_changing_route_is_405(
    browser: Browser, database: Database, clock: Clock, path: str
) -> None:
    await _admin(browser, database, clock)
    page = await browser.get(path)
    assert page.status == 405
    assert "POST" in page.headers["Allow"]
    assert (await browser.get("/admin/officers")).status == 200  # still signed in


async def test_enormous_form_body_is_413(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _admin(browser, database, clock)
    body = urlencode(
        {
            "username": "big",
            "display_name": "x" * (2 * 1024 * 1024),
            "role": "officer",
            "csrf_token": browser.csrf,
        }
    ).encode()
    page = await browser.request(
        "POST",
        "/admin/officers",
        data=io.BytesIO(body),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert page.status == 413
    assert await _count_officers(database) == 1


async def test_extra_form_fields_assign_nothing(
    browser: Browser, database: Database, clock: Clock
) -> None:
    admin_id = await _admin(browser, database, clock)
    victim = await add_officer(database, cipher(), username="li.na", role="officer")

    await browser.post(
        f"/admin/officers/{victim.id}/unlock",
        {"role": "admin", "disabled": "0", "status": "approved", "officer_id": str(admin_id)},
    )
    created = await browser.post(
        "/admin/officers",
        {
            "username": "new.one",
            "display_name": "New",
            "role": "auditor",
            "must_change_password": "false",
            "totp_confirmed": "true",
            "failed_attempts": "-100",
            "id": "999",
            "password_hash": "x",
        },
    )

    assert created.status == 200
    assert (await load_officer(database, victim.id)).role == "officer"
    async with database.unit_of_work() as session:
        new = (await session.scalars(select(Officer).where(Officer.username == "new.one"))).one()
    assert new.id != 999 and new.role == "auditor"
    assert new.must_change_password and not new.totp_confirmed and new.failed_attempts == 0
    assert new.password_hash.startswith("$argon2id$")


async def test_html_in_a_display_name_is_escaped(
    browser: Browser, database: Database, clock: Clock
) -> None:
    evil = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    await add_officer(database, cipher(), username="mallory", role="officer", display_name=evil)
    await _admin(browser, database, clock)

    page = await browser.get("/admin/officers")

    assert "<script>alert(1)" not in page.text and "<img src=x" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_route_without_a_declared_permission_is_refused(
    aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path
) -> None:
    settings = Settings(data_dir=data_dir, database_url=str(database.url))
    app = create_app(
        settings=settings, database=database, field_cipher=cipher(), vault=None, clock=clock
    )

    async def sneaky(request: web.Request) -> web.Response:
        return web.Response(text="secret data")

    app.router.add_get("/sneaky", sneaky)
    browser = Browser(await aiohttp_client(app, cookie_jar=DummyCookieJar()))
    await _admin(browser, database, clock)

    page = await browser.get("/sneaky")

    assert page.status == 403 and "secret data" not in page.text


async def test_unknown_officer_id_is_404_and_bad_ids_do_not_route(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await _admin(browser, database, clock)
    assert (await browser.post("/admin/officers/424242/unlock")).status == 404
    assert (await browser.post("/admin/officers/..%2F1/unlock")).status == 404
    assert (await browser.post("/admin/officers/1%20OR%201=1/unlock")).status == 404
