"""The route × role matrix, generated from the app's router (design §4.5).

A route added without a declared access fails `test_every_route_declares_who_may_use_it`;
one declared too widely or too narrowly fails the matrix, which tries every route as every
role (plus nobody, plus a session that passed the password only) and expects 403 exactly
where the role is not allowed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from backoffice import keys
from backoffice.access import PUBLIC, SIGNING_IN, Access, Gate
from backoffice.app import create_app
from backoffice.sessions import Stage
from lending.workflow import Role
from settings import Settings
from storage.database import Database
from tests.test_backoffice_harness import Browser, Clock, add_officer, cipher, make_client

# A sample value for each path parameter; a new parameter needs an entry here.
SAMPLE_PARAMETERS = {"officer_id": "target", "application_id": "1", "document_id": "1"}
_PARAMETER = re.compile(r"\{(\w+)\}")


def _routes(app: web.Application) -> list[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        if route.method == "HEAD" or route.resource is None:
            continue
        found.add((route.method, route.resource.canonical))
    return sorted(found)


def _app(data_dir: Path, database: Database) -> web.Application:
    settings = Settings(data_dir=data_dir, database_url=str(database.url))
    return create_app(settings=settings, database=database, field_cipher=cipher(), vault=None)


async def test_every_route_declares_who_may_use_it(database: Database, data_dir: Path) -> None:
    app = _app(data_dir, database)
    declared = app[keys.ROUTE_ACCESS]
    routes = _routes(app)

    assert routes, "the router has no routes"
    undeclared = [route for route in routes if route not in declared]
    assert undeclared == []
    for method, _path in routes:
        assert method in ("GET", "POST"), "state changes are POST only; nothing else is routed"


async def test_state_changing_routes_are_post_and_pages_are_get(
    database: Database, data_dir: Path
) -> None:
    app = _app(data_dir, database)
    for (method, path), access in app[keys.ROUTE_ACCESS].items():
        if method == "GET":
            continue
        assert access is not PUBLIC or path == "/login", f"public state change: {path}"


def _expected_allowed(access: Access, who: str) -> bool:
    if access is PUBLIC:
        return True
    if isinstance(access, Gate):
        return access is SIGNING_IN and who == "signing_in"
    return who in {role.value for role in access}


def _concrete(path: str, target_id: int) -> str:
    def sample(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in SAMPLE_PARAMETERS, f"add a sample value for path parameter {name!r}"
        value = SAMPLE_PARAMETERS[name]
        return str(target_id) if value == "target" else value

    if path == "/static":
        return "/static/app.css"
    return _PARAMETER.sub(sample, path)


@pytest.fixture
def clock() -> Clock:
    return Clock()


async def test_route_role_matrix(
    aiohttp_client: Any, database: Database, clock: Clock, data_dir: Path
) -> None:
    client = await make_client(aiohttp_client, database, clock, data_dir)
    app = client.app
    assert app is not None
    target = await add_officer(database, cipher(), username="target", role="officer")
    actors = {
        role.value: await add_officer(database, cipher(), username=f"as.{role.value}", role=role)
        for role in Role
    }
    signing_in = await add_officer(database, cipher(), username="half.way", role="officer")
    everyone = [*actors, "signing_in", "nobody"]
    refused: dict[str, list[str]] = {who: [] for who in everyone}
    allowed: dict[str, list[str]] = {who: [] for who in everyone}

    for (method, path), access in sorted(app[keys.ROUTE_ACCESS].items()):
        url = _concrete(path, target.id)
        for who in everyone:
            browser = Browser(client)
            if who == "nobody":
                await browser.get("/login")  # the sign-in form's CSRF cookie
            elif who == "signing_in":
                await browser.open_session(database, signing_in, clock, stage=Stage.PASSWORD)
            else:
                await browser.open_session(database, actors[who], clock)
            page = await browser.request(
                method, url, data={"csrf_token": browser.csrf} if method == "POST" else None
            )
            denied = page.status == 403 or (
                who in ("nobody", "signing_in")
                and page.status == 303
                and page.location == "/login"
                and method == "GET"
                and path != "/login"
            )
            (refused if denied else allowed)[who].append(f"{method} {path}")
            expected = _expected_allowed(access, who)
            assert denied != expected, (
                f"{who} on {method} {path}: status {page.status}, "
                f"expected {'allowed' if expected else 'refused'}"
            )

    # Least privilege, spelled out: administrators do not see loans, auditors change nothing.
    assert "GET /admin/officers" in allowed["admin"]
    assert all(not route.startswith("GET /admin") for route in allowed["officer"])
    reads_sent_as_post = {"POST /", "POST /login", "POST /logout", "POST /preferences/language"}
    auditor_posts = {route for route in allowed["auditor"] if route.startswith("POST")}
    assert auditor_posts <= reads_sent_as_post
    assert "GET /" not in allowed["admin"]
