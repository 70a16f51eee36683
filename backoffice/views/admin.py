"""Administrators' pages: officer accounts (list, create, role, disable, TOTP reset, unlock)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice import accounts, keys, second_factor, throttling
from backoffice.forms import read_form, redirect, text
from backoffice.rendering import render
from backoffice.sessions import SignedIn
from lending.workflow import Role
from storage.fields import FieldCipher
from storage.models import Officer

OFFICERS_PATH = "/admin/officers"


def _admin(request: web.Request) -> SignedIn:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    return signed_in


def _cipher(request: web.Request) -> FieldCipher:
    cipher = request.app[keys.FIELD_CIPHER]
    if cipher is None:
        raise web.HTTPServiceUnavailable
    return cipher


def _officer_id(request: web.Request) -> int:
    return int(request.match_info["officer_id"])


async def _officers_page(
    request: web.Request, *, error: str | None = None, status: int = 200
) -> web.Response:
    async with request.app[keys.DATABASE].unit_of_work() as session:
        officers = await accounts.list_officers(session)
    now = request[keys.NOW]
    rows = [
        {
            "officer": officer,
            "locked_out": throttling.is_locked_out(officer.failed_attempts),
            "waiting": officer.locked_until is not None and officer.locked_until > now,
        }
        for officer in officers
    ]
    return render(
        request,
        "admin_officers.html",
        {"rows": rows, "roles": [role.value for role in Role], "error": error},
        status=status,
    )


async def list_officers(request: web.Request) -> web.StreamResponse:
    """Every account with its state, and the forms to change it."""
    return await _officers_page(request)


def _handover(
    request: web.Request,
    *,
    username: str,
    provisioning_uri: str,
    one_time_password: str | None,
) -> web.Response:
    """The one page that shows a new secret; it is never stored in any cache (no-store)."""
    return render(
        request,
        "admin_handover.html",
        {
            "username": username,
            "one_time_password": one_time_password,
            "provisioning_uri": provisioning_uri,
            "qr_code": second_factor.qr_data_uri(provisioning_uri),
        },
    )


async def create_officer(request: web.Request) -> web.StreamResponse:
    """Create an account and show its one-time password and TOTP set-up once."""
    admin = _admin(request)
    cipher = _cipher(request)
    form = await read_form(request)
    try:
        async with request.app[keys.DATABASE].unit_of_work() as session:
            created = await accounts.create_officer(
                session,
                cipher,
                username=text(form, "username", max_length=100),
                display_name=text(form, "display_name", max_length=200),
                role=text(form, "role", max_length=16),
                created_by=admin.officer_id,
                now=request[keys.NOW],
            )
    except accounts.AccountError as error:
        return await _officers_page(request, error=error.message, status=400)
    return _handover(
        request,
        username=created.officer.username,
        provisioning_uri=created.provisioning_uri,
        one_time_password=created.one_time_password,
    )


Change = Callable[[AsyncSession, SignedIn, int], Awaitable[object]]


async def _change(request: web.Request, change: Change) -> web.StreamResponse:
    """Apply one change to one account, then show the list again (or why not)."""
    admin = _admin(request)
    try:
        async with request.app[keys.DATABASE].unit_of_work() as session:
            await change(session, admin, _officer_id(request))
    except accounts.OfficerNotFoundError:
        raise web.HTTPNotFound from None
    except accounts.AccountError as error:
        return await _officers_page(request, error=error.message, status=400)
    return redirect(OFFICERS_PATH)


async def change_role(request: web.Request) -> web.StreamResponse:
    """Give an account another role (never your own)."""
    role = text(await read_form(request), "role", max_length=16)
    now = request[keys.NOW]

    async def change(session: AsyncSession, admin: SignedIn, officer_id: int) -> object:
        return await accounts.change_role(
            session, officer_id=officer_id, role=role, actor_id=admin.officer_id, now=now
        )

    return await _change(request, change)


def _set_disabled(request: web.Request, disabled: bool) -> Change:
    now = request[keys.NOW]

    async def change(session: AsyncSession, admin: SignedIn, officer_id: int) -> object:
        return await accounts.set_disabled(
            session, officer_id=officer_id, disabled=disabled, actor_id=admin.officer_id, now=now
        )

    return change


async def disable_officer(request: web.Request) -> web.StreamResponse:
    """Disable an account; every session it has ends at once."""
    return await _change(request, _set_disabled(request, True))


async def enable_officer(request: web.Request) -> web.StreamResponse:
    """Let a disabled account sign in again."""
    return await _change(request, _set_disabled(request, False))


async def unlock_officer(request: web.Request) -> web.StreamResponse:
    """Clear the failed sign-in count of a locked account."""
    now = request[keys.NOW]

    async def change(session: AsyncSession, admin: SignedIn, officer_id: int) -> object:
        return await accounts.unlock(
            session, officer_id=officer_id, actor_id=admin.officer_id, now=now
        )

    return await _change(request, change)


async def reset_second_factor(request: web.Request) -> web.StreamResponse:
    """Give an account a new TOTP secret, show it once, and end the account's sessions."""
    admin = _admin(request)
    cipher = _cipher(request)
    officer_id = _officer_id(request)
    try:
        async with request.app[keys.DATABASE].unit_of_work() as session:
            uri = await accounts.reset_second_factor(
                session,
                cipher,
                officer_id=officer_id,
                actor_id=admin.officer_id,
                now=request[keys.NOW],
            )
            officer = await session.get(Officer, officer_id)
            username = officer.username if officer is not None else ""
    except accounts.OfficerNotFoundError:
        raise web.HTTPNotFound from None
    return _handover(request, username=username, provisioning_uri=uri, one_time_password=None)
