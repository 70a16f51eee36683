"""The request pipeline: error pages, session, permission, CSRF; and the security headers.

Order matters (outermost first): the error page wraps everything so even a refused request
gets a proper page with the security headers; the session is read before the permission
check; the permission check runs before the CSRF check so a forbidden request is refused
without reading its body.
"""

from __future__ import annotations

import hmac
import logging

from aiohttp import web

from backoffice import keys
from backoffice.access import SIGNING_IN, Access, Handler, allows
from backoffice.cookies import SESSION_COOKIE, clear_session_cookie, session_token
from backoffice.cookies import sign_in_csrf_token as sign_in_csrf_cookie
from backoffice.rendering import render, request_locale
from backoffice.sessions import SignedIn, resume_session
from storage.audit import record

log = logging.getLogger(__name__)

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
STATIC_PREFIX = "/static/"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
# Headers of a refused request worth keeping on its error page.
_KEPT_ERROR_HEADERS = ("Allow", "Retry-After")


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response, error pages and static files included."""
    headers = response.headers
    headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["X-Frame-Options"] = "DENY"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not request.path.startswith(STATIC_PREFIX):
        # Pages show personal data or carry a CSRF token: never keep them in any cache.
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"


def route_key(request: web.Request) -> keys.RouteKey | None:
    route = request.match_info.route
    resource = route.resource
    if resource is None:
        return None
    method = "GET" if route.method == "HEAD" else route.method
    return method, resource.canonical


def route_access(request: web.Request) -> Access | None:
    key = route_key(request)
    return None if key is None else request.app[keys.ROUTE_ACCESS].get(key)


async def _audit_refusal(request: web.Request, signed_in: SignedIn, action: str) -> None:
    """Record a refused request by a signed-in officer, in its own small transaction."""
    key = route_key(request)
    async with request.app[keys.DATABASE].unit_of_work() as session:
        await record(
            session,
            actor_type="officer",
            actor_id=str(signed_in.officer_id),
            action=action,
            details={
                "method": request.method,
                "route": key[1] if key else "",
                "role": signed_in.role.value,
            },
            now=request[keys.NOW],
        )


@web.middleware
async def error_pages(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn a refusal (4xx/5xx) into a plain page in the officer's language, revealing nothing."""
    try:
        return await handler(request)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        if keys.LOCALE not in request:
            request[keys.LOCALE] = request_locale(request)
        response = render(
            request, "error.html", {"status": error.status}, status=error.status, csrf_token=""
        )
        for name in _KEPT_ERROR_HEADERS:
            if name in error.headers:
                response.headers[name] = error.headers[name]
        return response
    except Exception:
        log.exception("unexpected error on %s %s", request.method, request.path)
        if keys.LOCALE not in request:
            request[keys.LOCALE] = request_locale(request)
        return render(request, "error.html", {"status": 500}, status=500, csrf_token="")


@web.middleware
async def session_loader(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Find the signed-in officer (if any) from the session cookie."""
    now = request.app[keys.CLOCK]()
    request[keys.NOW] = now
    token = session_token(request)
    signed_in = None
    if token is not None:
        signed_in = await resume_session(request.app[keys.DATABASE], token, now=now)
    request[keys.SIGNED_IN] = signed_in
    request[keys.LOCALE] = request_locale(request)
    response = await handler(request)
    stale_cookie = SESSION_COOKIE in request.cookies and signed_in is None
    if stale_cookie and not response.prepared and SESSION_COOKIE not in response.cookies:
        clear_session_cookie(response)
    return response


@web.middleware
async def permission_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Deny by default: a route must be declared, and the officer's role must be in it."""
    if request.match_info.http_exception is not None:
        return await handler(request)  # the router's own 404 / 405
    access = route_access(request)
    if access is None:
        log.error("refused %s %s: the route declares no access", request.method, request.path)
        raise web.HTTPForbidden
    signed_in = request[keys.SIGNED_IN]
    signing_in = signed_in is not None and not signed_in.is_full
    if allows(access, signed_in.role if signed_in else None, signing_in=signing_in):
        return await handler(request)
    if signed_in is None or (signing_in and access is not SIGNING_IN):
        if request.method in SAFE_METHODS:
            raise web.HTTPSeeOther("/login")
        raise web.HTTPForbidden
    await _audit_refusal(request, signed_in, "access.denied")
    raise web.HTTPForbidden


def _same_token(submitted: str | None, expected: str | None) -> bool:
    if not submitted or not expected:
        return False
    return hmac.compare_digest(submitted.encode("utf-8"), expected.encode("utf-8"))


@web.middleware
async def csrf_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every state change carries the token bound to its session (or to the sign-in form)."""
    if request.method in SAFE_METHODS or request.match_info.http_exception is not None:
        return await handler(request)
    signed_in = request[keys.SIGNED_IN]
    expected = signed_in.csrf_token if signed_in else sign_in_csrf_cookie(request)
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        form = await request.post()
        field = form.get(CSRF_FIELD)
        submitted = field if isinstance(field, str) else None
    cross_site = request.headers.get("Sec-Fetch-Site") == "cross-site"
    if cross_site or not _same_token(submitted, expected):
        log.warning("refused %s %s: missing or wrong CSRF token", request.method, request.path)
        if signed_in is not None:
            await _audit_refusal(request, signed_in, "security.csrf_refused")
        raise web.HTTPForbidden
    return await handler(request)


MIDDLEWARES = (error_pages, session_loader, permission_guard, csrf_guard)
