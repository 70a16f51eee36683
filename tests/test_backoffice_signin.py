"""Sign-in through the real pages: password then TOTP, first sign-in, replays, throttling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backoffice import throttling
from storage.database import Database
from storage.models import Officer
from tests.test_backoffice_harness import (
    PASSWORD,
    Browser,
    Clock,
    add_officer,
    audit_actions,
    audit_events,
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


async def test_password_then_code_signs_in_and_is_audited(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    before = await browser.get("/")
    assert before.status == 303 and before.location == "/login"

    done = await browser.sign_in(officer, clock)

    assert done.status == 303 and done.location == "/"
    actions = await audit_actions(database)
    assert actions == ["officer.password_accepted", "officer.signed_in"]


async def test_password_alone_opens_nothing_but_the_code_page(
    browser: Browser, database: Database
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="admin")
    await browser.get("/login")
    await browser.post("/login", {"username": officer.username, "password": PASSWORD})

    page = await browser.get("/admin/officers")

    assert page.status == 303 and page.location == "/login"
    assert (await browser.get("/login/totp")).status == 200


async def test_session_token_changes_after_second_factor(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    await browser.post("/login", {"username": officer.username, "password": PASSWORD})
    password_stage = browser.cookies["__Host-session"]

    await browser.get("/login/totp")
    await browser.post("/login/totp", {"code": officer.code(clock.now)})

    assert browser.cookies["__Host-session"] != password_stage
    browser.cookies["__Host-session"] = password_stage
    assert (await browser.get("/")).status == 303


async def test_replayed_totp_code_is_refused(
    browser: Browser, database: Database, clock: Clock, aiohttp_client: Any, data_dir: Path
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    code = officer.code(clock.now)
    assert (await browser.sign_in(officer, clock)).status == 303

    # Someone who saw the code types it within the same 30 seconds, in another browser.
    thief = Browser(await make_client(aiohttp_client, database, clock, data_dir))
    await thief.get("/login")
    await thief.post("/login", {"username": officer.username, "password": PASSWORD})
    await thief.get("/login/totp")
    replay = await thief.post("/login/totp", {"code": code})

    assert replay.status == 401
    assert (await thief.get("/")).status == 303
    events = await audit_events(database)
    assert events[-1].action == "officer.sign_in_failed"
    assert events[-1].details["reason"] == "replayed_code"
    assert code not in str([event.details for event in events])


async def test_earlier_code_is_refused_after_a_later_one_was_used(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    await browser.post("/login", {"username": officer.username, "password": PASSWORD})
    await browser.get("/login/totp")
    assert (await browser.post("/login/totp", {"code": officer.code(clock.now, 1)})).status == 303

    await browser.post("/logout")
    await browser.get("/login")
    await browser.post("/login", {"username": officer.username, "password": PASSWORD})
    await browser.get("/login/totp")
    older = await browser.post("/login/totp", {"code": officer.code(clock.now)})

    assert older.status == 401


async def test_wrong_password_gets_growing_delays_then_lockout(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")

    async def attempt(password: str) -> int:
        page = await browser.post("/login", {"username": "li.na", "password": password})
        return page.status

    waits = []
    for failure in range(1, throttling.LOCKOUT_FAILURES + 1):
        assert await attempt("wrong password") in (401, 403)
        stored = await load_officer(database, officer.id)
        assert stored.failed_attempts == failure
        if failure < throttling.FREE_FAILURES:
            assert stored.locked_until is None
            continue
        if failure == throttling.LOCKOUT_FAILURES:
            break
        assert stored.locked_until is not None
        waits.append(stored.locked_until - clock.now)
        # Even the right password is refused (and not checked) before the wait is over.
        assert await attempt(PASSWORD) == 429
        clock.advance(seconds=waits[-1].total_seconds())

    assert waits == sorted(waits) and waits[0] < waits[-1]
    assert [wait.total_seconds() for wait in waits[:3]] == [1, 2, 4]
    clock.advance(hours=1)
    locked = await attempt(PASSWORD)
    assert locked == 403
    assert (
        "locked" in (await browser.post("/login", {"username": "li.na", "password": PASSWORD})).text
    )
    actions = await audit_actions(database)
    assert "officer.locked_out" in actions
    assert "officer.password_accepted" not in actions


async def test_throttled_attempt_says_when_to_retry(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    for _ in range(throttling.FREE_FAILURES + 2):
        await browser.post("/login", {"username": "li.na", "password": "nope"})
    page = await browser.post("/login", {"username": "li.na", "password": PASSWORD})

    assert page.status == 429
    assert int(page.headers["Retry-After"]) >= 1


async def test_one_address_guessing_many_accounts_is_slowed_down(
    browser: Browser, database: Database, clock: Clock
) -> None:
    await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    for number in range(throttling.FREE_FAILURES):
        page = await browser.post("/login", {"username": f"nobody{number}", "password": "x"})
        assert page.status == 401

    # A real account with the right password, but from the address that kept guessing.
    page = await browser.post("/login", {"username": "li.na", "password": PASSWORD})

    assert page.status == 429
    clock.advance(seconds=1)
    page = await browser.post("/login", {"username": "li.na", "password": PASSWORD})
    assert page.status == 303


async def test_wrong_codes_count_towards_the_lockout(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    await browser.post("/login", {"username": "li.na", "password": PASSWORD})
    await browser.get("/login/totp")
    wrong = "000000" if officer.code(clock.now) != "000000" else "111111"

    assert (await browser.post("/login/totp", {"code": wrong})).status == 401
    assert (await load_officer(database, officer.id)).failed_attempts == 1


async def test_unknown_username_and_wrong_password_look_the_same(
    browser: Browser, database: Database
) -> None:
    await add_officer(database, cipher(), username="li.na", role="officer")
    await browser.get("/login")
    unknown = await browser.post("/login", {"username": "ghost", "password": PASSWORD})
    wrong = await browser.post("/login", {"username": "li.na", "password": "wrong"})

    assert unknown.status == wrong.status == 401
    assert unknown.text.replace("ghost", "") == wrong.text.replace("li.na", "")


async def test_first_sign_in_sets_a_new_password_and_confirms_totp(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(
        database, cipher(), username="new.hire", role="officer", first_sign_in=True
    )
    await browser.get("/login")
    await browser.post("/login", {"username": "new.hire", "password": PASSWORD})
    page = await browser.get("/login/totp")
    assert 'name="new_password"' in page.text

    too_short = await browser.post(
        "/login/totp",
        {
            "code": officer.code(clock.now),
            "new_password": "short",
            "new_password_confirmation": "short",
        },
    )
    same = await browser.post(
        "/login/totp",
        {
            "code": officer.code(clock.now),
            "new_password": PASSWORD,
            "new_password_confirmation": PASSWORD,
        },
    )
    assert too_short.status == same.status == 400
    assert (await load_officer(database, officer.id)).failed_attempts == 0

    new_password = "a much better passphrase"
    done = await browser.post(
        "/login/totp",
        {
            "code": officer.code(clock.now),
            "new_password": new_password,
            "new_password_confirmation": new_password,
        },
    )
    assert done.status == 303
    stored = await load_officer(database, officer.id)
    assert stored.totp_confirmed and not stored.must_change_password
    assert stored.password_hash.startswith("$argon2id$")
    actions = await audit_actions(database)
    assert {"officer.totp_confirmed", "officer.password_changed"} <= set(actions)

    await browser.post("/logout")
    clock.advance(seconds=30)
    await browser.get("/login")
    refused = await browser.post("/login", {"username": "new.hire", "password": PASSWORD})
    assert refused.status == 401
    assert (await browser.sign_in(officer, clock, password=new_password)).status == 303


async def test_disabled_officer_cannot_sign_in(
    browser: Browser, database: Database, clock: Clock
) -> None:
    officer = await add_officer(database, cipher(), username="li.na", role="officer")
    async with database.unit_of_work() as session:
        stored = await session.get(Officer, officer.id)
        assert stored is not None
        stored.disabled = True
    await browser.get("/login")

    page = await browser.post("/login", {"username": "li.na", "password": PASSWORD})

    assert page.status == 401
    events = await audit_events(database)
    assert events[-1].details["reason"] == "disabled"
