"""The two cookies the back-office sets, always with the `__Host-` prefix flags.

`__Host-` makes the browser insist on Secure, Path=/ and no Domain, so neither a sibling
subdomain nor plain HTTP can plant or read them.
"""

from __future__ import annotations

import secrets

from aiohttp import web

SESSION_COOKIE = "__Host-session"
# Binds the sign-in form to this browser before any session exists (login CSRF).
SIGN_IN_CSRF_COOKIE = "__Host-signin-csrf"
_MAX_COOKIE_LENGTH = 64


def _set(response: web.StreamResponse, name: str, value: str) -> None:
    response.set_cookie(name, value, path="/", secure=True, httponly=True, samesite="Strict")


def set_session_cookie(response: web.StreamResponse, token: str) -> None:
    _set(response, SESSION_COOKIE, token)


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="Strict")


def session_token(request: web.Request) -> str | None:
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > _MAX_COOKIE_LENGTH:
        return None
    return token


def sign_in_csrf_token(request: web.Request) -> str | None:
    token = request.cookies.get(SIGN_IN_CSRF_COOKIE)
    if not token or len(token) > _MAX_COOKIE_LENGTH:
        return None
    return token


def sign_in_csrf_for(request: web.Request) -> str:
    """The sign-in form's token: the browser's existing one, or a fresh one."""
    return sign_in_csrf_token(request) or secrets.token_urlsafe(32)


def set_sign_in_csrf_cookie(response: web.StreamResponse, token: str) -> None:
    _set(response, SIGN_IN_CSRF_COOKIE, token)
