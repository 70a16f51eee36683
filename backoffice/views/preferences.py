"""An officer's own preferences: the language of the back-office."""

from __future__ import annotations

from aiohttp import web

from backoffice import accounts, keys
from backoffice.forms import local_path, read_form, redirect, text
from backoffice.views.signin import home_for


async def choose_language(request: web.Request) -> web.StreamResponse:
    """Store the officer's language and go back to the page they were on."""
    signed_in = request[keys.SIGNED_IN]
    if signed_in is None:
        raise web.HTTPForbidden
    form = await read_form(request)
    async with request.app[keys.DATABASE].unit_of_work() as session:
        try:
            await accounts.set_locale(
                session,
                officer_id=signed_in.officer_id,
                locale=text(form, "locale", max_length=16),
                now=request[keys.NOW],
            )
        except accounts.AccountError:
            raise web.HTTPBadRequest from None
    return redirect(local_path(text(form, "next", max_length=500), home_for(signed_in.role)))
