"""Shared parts for the back-office tests (no tests here): a movable clock, officers made
straight in the database, and a browser that handles cookies and CSRF tokens by hand.

Cookies are handled by hand on purpose: the session cookie is `Secure` and the test server
speaks plain HTTP on 127.0.0.1, and the tests want to see (and forge) exactly what a browser
would send.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cache
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import DummyCookieJar
from aiohttp.test_utils import TestClient
from sqlalchemy import select

from backoffice import second_factor
from backoffice.app import create_app
from backoffice.cookies import SESSION_COOKIE
from backoffice.passwords import hash_password_blocking
from backoffice.sessions import Stage, start_session
from settings import Settings
from storage.applications import Drafts, submit
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring, MasterKey
from storage.models import Applicant, Application, AuditEvent, Officer
from storage.vault import Vault

PASSWORD = "correct horse battery staple"
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
_TELEGRAM_IDS = itertools.count(1000)
_CSRF = re.compile(r'name="csrf_token" value="([^"]*)"')


@cache
def password_hash() -> str:
    """One real Argon2id hash of PASSWORD, computed once for the whole run (it is slow)."""
    return hash_password_blocking(PASSWORD)


def keyring() -> Keyring:
    return Keyring([MasterKey("test-key", bytes(range(32)))])


def cipher() -> FieldCipher:
    return FieldCipher(keyring())


class Clock:
    """The app's clock; tests move it instead of sleeping."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class OfficerFacts:
    id: int
    username: str
    role: str
    secret: bytes = field(repr=False)

    def code(self, moment: datetime, steps_later: int = 0) -> str:
        counter = second_factor.counter_at(moment) + steps_later
        return second_factor.code_for_counter(self.secret, counter)


async def add_officer(
    database: Database,
    field_cipher: FieldCipher,
    *,
    username: str,
    role: str,
    display_name: str | None = None,
    first_sign_in: bool = False,
) -> OfficerFacts:
    secret = second_factor.new_secret()
    async with database.unit_of_work() as session:
        officer = Officer(
            username=username,
            display_name=display_name or username.title(),
            role=role,
            password_hash=password_hash(),
            must_change_password=first_sign_in,
            totp_confirmed=not first_sign_in,
            disabled=False,
            failed_attempts=0,
            locale="en",
        )
        session.add(officer)
        await session.flush()
        officer.totp_secret_enc = field_cipher.encrypt(
            second_factor.encode_secret(secret),
            table="officers",
            column="totp_secret",
            row_id=officer.id,
        )
        return OfficerFacts(officer.id, username, role, secret)


@dataclass
class Page:
    status: int
    text: str
    headers: Any

    @property
    def location(self) -> str | None:
        value = self.headers.get("Location")
        return str(value) if value is not None else None


class Browser:
    """A client that keeps cookies itself and remembers the last page's CSRF token."""

    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.cookies: dict[str, str] = {}
        self.set_cookie_headers: list[str] = []
        self.csrf = ""

    def _remember(self, headers: Any) -> None:
        for raw in headers.getall("Set-Cookie", []):
            self.set_cookie_headers.append(raw)
            jar: SimpleCookie = SimpleCookie()
            jar.load(raw)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or morsel.value == "":
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    async def request(
        self, method: str, path: str, *, data: Any = None, headers: Mapping[str, str] | None = None
    ) -> Page:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        async with self.client.request(
            method, path, data=data, headers=sent, allow_redirects=False
        ) as response:
            body = await response.text()
            self._remember(response.headers)
            found = _CSRF.search(body)
            if found:
                self.csrf = found.group(1)
            return Page(response.status, body, response.headers)

    async def get(self, path: str, **kwargs: Any) -> Page:
        return await self.request("GET", path, **kwargs)

    async def post(
        self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True, **kwargs: Any
    ) -> Page:
        form = dict(data or {})
        if csrf:
            form.setdefault("csrf_token", self.csrf)
        return await self.request("POST", path, data=form, **kwargs)

    async def sign_in(self, officer: OfficerFacts, clock: Clock, password: str = PASSWORD) -> Page:
        """The real two-step sign-in through the pages."""
        await self.get("/login")
        first = await self.post("/login", {"username": officer.username, "password": password})
        assert first.status == 303, first.text
        await self.get("/login/totp")
        return await self.post("/login/totp", {"code": officer.code(clock.now)})

    async def open_session(
        self, database: Database, officer: OfficerFacts, clock: Clock, stage: Stage = Stage.FULL
    ) -> None:
        """A session made straight in the database: quick, for tests not about sign-in."""
        async with database.unit_of_work() as session:
            started = await start_session(
                session, officer_id=officer.id, stage=stage, now=clock.now
            )
        self.cookies[SESSION_COOKIE] = started.token
        self.csrf = started.csrf_token


async def make_client(
    aiohttp_client: Any,
    database: Database,
    clock: Clock,
    data_dir: Path,
    vault: Vault | None = None,
) -> TestClient[Any, Any]:
    settings = Settings(data_dir=data_dir, database_url=str(database.url))
    app = create_app(
        settings=settings, database=database, field_cipher=cipher(), vault=vault, clock=clock
    )
    client: TestClient[Any, Any] = await aiohttp_client(app, cookie_jar=DummyCookieJar())
    return client


async def audit_actions(database: Database) -> list[str]:
    async with database.unit_of_work() as session:
        return list(
            (await session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq))).all()
        )


async def audit_events(database: Database) -> list[AuditEvent]:
    async with database.unit_of_work() as session:
        return list((await session.scalars(select(AuditEvent).order_by(AuditEvent.seq))).all())


async def load_officer(database: Database, officer_id: int) -> Officer:
    async with database.unit_of_work() as session:
        officer = await session.get(Officer, officer_id)
        assert officer is not None
        return officer


async def add_application(
    database: Database,
    *,
    company: str,
    status: str = "submitted",
    hours_ago: float = 1,
    phone: str | None = None,
    id_number: str | None = None,
    assigned_to: int | None = None,
) -> int:
    """A submitted application written the way the bot writes it (encrypted, indexed)."""
    drafts = Drafts(cipher())
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=next(_TELEGRAM_IDS), chat_id=1)
        session.add(applicant)
        await session.flush()
        application_id = await drafts.start(session, applicant.id, "en")
        await drafts.save(session, application_id, "company_name", company)
        if phone:
            await drafts.save(session, application_id, "phone", phone)
        if id_number:
            await drafts.save(session, application_id, "owner_id_number", id_number)
        when = START - timedelta(hours=hours_ago)
        await submit(session, application_id, now=when, timezone=ZoneInfo("Asia/Shanghai"))
        application = await session.get(Application, application_id)
        assert application is not None
        application.status = status
        application.assigned_officer_id = assigned_to
        return application_id
