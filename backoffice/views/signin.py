"""Sign-in in two steps (password, then a TOTP code), first-sign-in set-up, and sign-out."""

from __future__ import annotations

import math

from aiohttp import web

from backoffice import accounts, keys
from backoffice.accounts import Refusal, SignInStep
from backoffice.cookies import (
    clear_session_cookie,
    set_session_cookie,
    set_sign_in_csrf_cookie,
    sign_in_csrf_for,
)
from backoffice.forms import read_form, redirect, text
from backoffice.passwords import MAX_PASSWORD_LENGTH
from backoffice.rendering import render
from backoffice.sessions import SignedIn, Stage, end_session, start_session
from lending.workflow import Role
from locales import N_
from storage.audit import record

SECOND_FACTOR_PATH = "/login/totp"
_MAX_USERNAME_LENGTH = 200
_MAX_CODE_LENGTH = 16

_REFUSAL_MESSAGES = {
    Refusal.WRONG_CREDENTIALS: N_("Wrong username, password or code."),
    Refusal.THROTTLED: N_("Too many failed attempts. Wait a little and try again."),
    Refusal.LOCKED: N_(
        "This account is locked after repeated failures. An administrator can unlock it."
    ),
}
_REFUSAL_STATUS = {
    Refusal.WRONG_CREDENTIALS: 401,
    Refusal.THROTTLED: 429,
    Refusal.LOCKED: 403,
    Refusal.NEW_PASSWORD_INVALID: 400,
}


def home_for(role: Role) -> str:
    """Administrators manage accounts; everyone else starts at the review queue."""
    return "/admin/officers" if role is Role.ADMIN else "/"


def _client_address(request: web.Request) -> str:
    return request.remote or "unknown"


def _signed_in(request: web.Request) -> SignedIn:
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    return signed_in


def _refused(
    request: web.Request, template: str, step: SignInStep, context: dict[str, object]
) -> web.Response:
    refusal = step.refusal or Refusal.WRONG_CREDENTIALS
    message = step.problem or _REFUSAL_MESSAGES.get(refusal, _REFUSAL_MESSAGES[Refusal.LOCKED])
    response = render(
        request, template, {**context, "error": message}, status=_REFUSAL_STATUS[refusal]
    )
    if step.wait is not None:
        response.headers["Retry-After"] = str(max(1, math.ceil(step.wait.total_seconds())))
    return response


def _sign_in_page(request: web.Request, *, error: str | None, status: int = 200) -> web.Response:
    token = sign_in_csrf_for(request)
    response = render(request, "login.html", {"error": error}, status=status, csrf_token=token)
    set_sign_in_csrf_cookie(response, token)
    return response


async def show_sign_in(request: web.Request) -> web.StreamResponse:
    """The username and password form."""
    signed_in = request[keys.SIGNED_IN]
    if signed_in is not None:
        return redirect(home_for(signed_in.role) if signed_in.is_full else SECOND_FACTOR_PATH)
    return _sign_in_page(request, error=None)


async def sign_in(request: web.Request) -> web.StreamResponse:
    """Check the password; on success start a password-stage session for the TOTP step."""
    form = await read_form(request)
    username = text(form, "username", max_length=_MAX_USERNAME_LENGTH)
    password = text(form, "password", max_length=MAX_PASSWORD_LENGTH + 1)
    now = request[keys.NOW]
    previous = request[keys.SIGNED_IN]
    async with request.app[keys.DATABASE].unit_of_work() as session:
        if previous is not None:
            await end_session(session, previous.token_hash, now=now)
        step = await accounts.check_password(
            session,
            username=username,
            password=password,
            client_address=_client_address(request),
            now=now,
        )
        started = None
        if step.officer_id is not None and step.ok:
            started = await start_session(
                session, officer_id=step.officer_id, stage=Stage.PASSWORD, now=now
            )
    if started is None:
        token = sign_in_csrf_for(request)
        response = _refused(request, "login.html", step, {"csrf_token": token})
        set_sign_in_csrf_cookie(response, token)
        if previous is not None:
            clear_session_cookie(response)
        return response
    response = redirect(SECOND_FACTOR_PATH)
    set_session_cookie(response, started.token)
    return response


def _second_factor_context(signed_in: SignedIn) -> dict[str, object]:
    return {
        "first_sign_in": signed_in.must_change_password,
        "enrolling": not signed_in.totp_confirmed,
    }


async def show_second_factor(request: web.Request) -> web.StreamResponse:
    """The TOTP code form (plus a new password at first sign-in)."""
    signed_in = _signed_in(request)
    return render(request, "login_totp.html", {**_second_factor_context(signed_in), "error": None})


async def confirm_second_factor(request: web.Request) -> web.StreamResponse:
    """Check the code; on success replace the password-stage session with a full one."""
    signed_in = _signed_in(request)
    cipher = request.app[keys.FIELD_CIPHER]
    if cipher is None:
        raise web.HTTPServiceUnavailable
    form = await read_form(request)
    now = request[keys.NOW]
    async with request.app[keys.DATABASE].unit_of_work() as session:
        step = await accounts.check_second_factor(
            session,
            cipher,
            officer_id=signed_in.officer_id,
            code=text(form, "code", max_length=_MAX_CODE_LENGTH),
            client_address=_client_address(request),
            now=now,
            new_password=text(form, "new_password", max_length=MAX_PASSWORD_LENGTH + 1),
            new_password_confirmation=text(
                form, "new_password_confirmation", max_length=MAX_PASSWORD_LENGTH + 1
            ),
        )
        started = None
        if step.ok:
            # A fresh token after the second factor: a token seen before it is worth nothing.
            await end_session(session, signed_in.token_hash, now=now)
            started = await start_session(
                session, officer_id=signed_in.officer_id, stage=Stage.FULL, now=now
            )
        elif step.refusal is Refusal.LOCKED:
            await end_session(session, signed_in.token_hash, now=now)
    if started is None:
        response = _refused(request, "login_totp.html", step, _second_factor_context(signed_in))
        if step.refusal is Refusal.LOCKED:
            clear_session_cookie(response)
        return response
    response = redirect(home_for(signed_in.role))
    set_session_cookie(response, started.token)
    return response


async def sign_out(request: web.Request) -> web.StreamResponse:
    """End the session on the server, then forget the cookie."""
    signed_in = _signed_in(request)
    now = request[keys.NOW]
    async with request.app[keys.DATABASE].unit_of_work() as session:
        await end_session(session, signed_in.token_hash, now=now)
        await record(
            session,
            actor_type="officer",
            actor_id=str(signed_in.officer_id),
            action="officer.signed_out",
            subject_type="officer",
            subject_id=str(signed_in.officer_id),
            now=now,
        )
    response = redirect("/login")
    clear_session_cookie(response)
    return response
