"""Administrators' account pages, end to end through the real app, and `officer add`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from backoffice import second_factor, throttling
from backoffice.cli import add_officer_command
from settings import Settings
from storage.database import Database
from storage.models import Officer
from tests.test_backoffice_harness import (
    PASSWORD,
    Browser,
    Clock,
    OfficerFacts,
    add_officer,
    audit_actions,
    cipher,
    keyring,
    load_officer,
    make_client,
)

_SECRET = re.compile(r"secret=([A-Z2-7]+)")
_ONE_TIME = re.compile(r'<code class="secret">([A-Za-z0-9]{16})</code>')


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def client(aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path) -> Any:
    return await make_client(aiohttp_client, database, clock, data_dir)


@pytest.fixture
async def admin(client: Any, database: Database, clock: Clock) -> Browser:
    boss = await add_officer(database, cipher(), username="boss", role="admin")
    browser = Browser(client)
    await browser.open_session(database, boss, clock)
    assert (await browser.get("/admin/officers")).status == 200
    return browser


def _secret_from(page_text: str) -> bytes:
    found = _SECRET.search(page_text)
    assert found, "no provisioning URI on the page"
    encoded = found.group(1)
    return second_factor.decode_secret(encoded + "=" * (-len(encoded) % 8))


async def test_created_officer_signs_in_with_the_handed_over_details(
    admin: Browser, client: Any, database: Database, clock: Clock
) -> None:
    page = await admin.post(
        "/admin/officers", {"username": "wang.fang", "display_name": "Wang Fang", "role": "officer"}
    )
    assert page.status == 200
    one_time = _ONE_TIME.search(page.text)
    assert one_time and 'src="data:image/svg+xml' in page.text
    secret = _secret_from(page.text)
    async with database.unit_of_work() as session:
        new_id = (
            await session.scalars(select(Officer.id).where(Officer.username == "wang.fang"))
        ).one()
    newcomer = Browser(client)
    facts = OfficerFacts(new_id, "wang.fang", "officer", secret)

    await newcomer.get("/login")
    assert (
        await newcomer.post("/login", {"username": "wang.fang", "password": one_time.group(1)})
    ).status == 303
    await newcomer.get("/login/totp")
    done = await newcomer.post(
        "/login/totp",
        {
            "code": facts.code(clock.now),
            "new_password": "my own long passphrase",
            "new_password_confirmation": "my own long passphrase",
        },
    )

    assert done.status == 303 and done.location == "/"
    assert (await admin.get("/admin/officers")).text.count("wang.fang") >= 1
    assert "officer.created" in await audit_actions(database)


async def test_role_change_is_applied_audited_and_never_to_oneself(
    admin: Browser, database: Database
) -> None:
    other = await add_officer(database, cipher(), username="li.na", role="officer")
    await admin.get("/admin/officers")

    assert (
        await admin.post(f"/admin/officers/{other.id}/role", {"role": "approver"})
    ).status == 303
    own = await admin.post("/admin/officers/1/role", {"role": "auditor"})

    assert (await load_officer(database, other.id)).role == "approver"
    assert own.status == 400 and (await load_officer(database, 1)).role == "admin"
    assert "officer.role_changed" in await audit_actions(database)


async def test_reset_second_factor_kills_sessions_and_the_old_secret(
    admin: Browser, client: Any, database: Database, clock: Clock
) -> None:
    other = await add_officer(database, cipher(), username="li.na", role="officer")
    victim = Browser(client)
    await victim.open_session(database, other, clock)
    assert (await victim.get("/")).status == 200

    page = await admin.post(f"/admin/officers/{other.id}/reset-totp")

    assert page.status == 200
    new_secret = _secret_from(page.text)
    assert new_secret != other.secret
    assert (await victim.get("/")).status == 303
    stored = await load_officer(database, other.id)
    assert not stored.totp_confirmed and stored.totp_last_counter is None
    clock.advance(seconds=60)
    await victim.get("/login")
    await victim.post("/login", {"username": "li.na", "password": PASSWORD})
    await victim.get("/login/totp")
    assert (await victim.post("/login/totp", {"code": other.code(clock.now)})).status == 401
    renewed = OfficerFacts(other.id, other.username, other.role, new_secret)
    assert (await victim.post("/login/totp", {"code": renewed.code(clock.now)})).status == 303


async def test_unlock_lets_a_locked_officer_sign_in_again(
    admin: Browser, client: Any, database: Database, clock: Clock
) -> None:
    other = await add_officer(database, cipher(), username="li.na", role="officer")
    async with database.unit_of_work() as session:
        await session.execute(
            update(Officer)
            .where(Officer.id == other.id)
            .values(failed_attempts=throttling.LOCKOUT_FAILURES)
        )
    locked_out = Browser(client)
    await locked_out.get("/login")
    assert (
        await locked_out.post("/login", {"username": "li.na", "password": PASSWORD})
    ).status == 403
    await admin.get("/admin/officers")

    assert (await admin.post(f"/admin/officers/{other.id}/unlock")).status == 303

    assert (await locked_out.sign_in(other, clock)).status == 303
    assert "officer.unlocked" in await audit_actions(database)


async def test_admin_cannot_disable_themselves(admin: Browser, database: Database) -> None:
    page = await admin.post("/admin/officers/1/disable")
    assert page.status == 400
    assert not (await load_officer(database, 1)).disabled
    assert (await admin.get("/admin/officers")).status == 200


async def test_officer_add_command_prints_the_one_time_details(
    database: Database, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(data_dir=data_dir, database_url=str(database.url))

    status = await add_officer_command(settings, database, keyring(), "zhao.lei", "approver")

    out = capsys.readouterr().out
    assert status == 0
    assert "otpauth://totp/" in out and "One-time password" in out
    assert "█" in out or "▀" in out
    async with database.unit_of_work() as session:
        officer = (await session.scalars(select(Officer))).one()
    assert officer.username == "zhao.lei" and officer.role == "approver"
    assert await add_officer_command(settings, database, keyring(), "zhao.lei", "admin") == 1
