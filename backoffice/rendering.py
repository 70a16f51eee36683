"""Server-side templates: Jinja2 with autoescaping, gettext per request locale, our filters.

Templates translate with `{{ _("English text") }}` or `{% trans %}`; the catalog is chosen
from the `locale` in each template's context, so one environment serves both languages
at once without any per-request global state.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal
from jinja2.runtime import Context
from markupsafe import Markup

from backoffice import keys
from backoffice.sessions import SignedIn
from locales import DEFAULT, babel_locale, from_language_code, translations

TEMPLATES_DIR = Path(__file__).with_name("templates")
HTML_TYPE = "text/html"
_HOUR_SECONDS = 3600


# Templates call `_()` dozens of times per page, and Jinja's newstyle gettext reaches the
# catalog through three context calls and formats each text anew. Here `_` is itself a
# newstyle gettext with the same results (the catalog's text trusted as HTML, as Jinja trusts
# it under autoescape, always on here; keyword arguments escaped into it), and a text without
# arguments is looked up once per locale.
@lru_cache(maxsize=4096)
def _catalog_text(locale: str, message: str) -> Markup:
    return _trusted(translations(locale).gettext(message)) % {}


def _trusted(text: str) -> Markup:
    return Markup(text)  # noqa: S704 (our own message catalog, as Jinja's gettext trusts it)


@jinja2.pass_context
def _gettext(context: Context, message: str, **variables: Any) -> str:
    locale = context.get("locale", DEFAULT)
    if not variables:
        return _catalog_text(locale, message)
    return _trusted(translations(locale).gettext(message)) % variables


@jinja2.pass_context
def _pgettext(context: Context, message_context: str, message: str, **variables: Any) -> str:
    """gettext for a message whose translation depends on where it stands ("Submitted" as
    a status is 已提交, as the date column 提交时间)."""
    text = translations(context.get("locale", DEFAULT)).pgettext(message_context, message)
    return _trusted(text) % variables


@jinja2.pass_context
def _ngettext(context: Context, singular: str, plural: str, count: int, **variables: Any) -> str:
    variables.setdefault("num", count)
    text = translations(context.get("locale", DEFAULT)).ngettext(singular, plural, count)
    return _trusted(text) % variables


@cache
def cached_babel_locale(locale: str) -> Locale:
    """`locales.babel_locale`, parsed once rather than for every value formatted."""
    return babel_locale(locale)


# Babel takes 20-40 µs per value and a queue page shows 100 amounts and times, mostly the
# same ones page after page; the texts (the formats of locales.format_money, format_moment,
# format_number) are kept for reuse. Aware datetimes are equal across zones, so the zone is
# part of the key.
@lru_cache(maxsize=16384)
def moment_text(value: datetime, zone: tzinfo | None, locale: str) -> str:
    local = value.astimezone(zone) if zone is not None else value
    return format_datetime(local, format="medium", locale=cached_babel_locale(locale))


@lru_cache(maxsize=16384)
def money_text(value: Decimal, locale: str) -> str:
    return format_currency(value, "CNY", locale=cached_babel_locale(locale))


@lru_cache(maxsize=4096)
def number_text(value: int | Decimal, locale: str) -> str:
    return format_decimal(value, locale=cached_babel_locale(locale))


@lru_cache(maxsize=16384)
def _seconds_text(seconds: int, locale: str) -> str:
    return format_timedelta(timedelta(seconds=seconds), locale=cached_babel_locale(locale))


def age_text(age: timedelta, locale: str) -> str:
    """How long ago, as Babel words it ("3 days"); a queue page shows 50 of them.

    Ages of an hour or more are taken to the whole minute (Babel rounds them to hours or
    coarser anyway), so the texts repeat from page to page and are kept for reuse.
    """
    seconds = int(age.total_seconds())
    if seconds >= _HOUR_SECONDS:
        seconds -= seconds % 60
    return _seconds_text(seconds, locale)


@jinja2.pass_context
def _moment(context: Context, value: datetime | None) -> str:
    if value is None:
        return ""
    return moment_text(value, context.get("timezone"), context.get("locale", DEFAULT))


@jinja2.pass_context
def _money(context: Context, value: Decimal | None) -> str:
    return "" if value is None else money_text(value, context.get("locale", DEFAULT))


@jinja2.pass_context
def _number(context: Context, value: int | Decimal | None) -> str:
    return "" if value is None else number_text(value, context.get("locale", DEFAULT))


def setup_templates(app: web.Application) -> jinja2.Environment:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        default_helpers=False,
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates ship with the code: no stat() of every template file on every page.
        auto_reload=False,
    )
    # What install_gettext_callables(newstyle=True) sets up, without its wrappers (see
    # _gettext); newstyle_gettext also tells {% trans %} blocks to leave formatting to us.
    env.newstyle_gettext = True  # type: ignore[attr-defined]
    env.globals.update(gettext=_gettext, ngettext=_ngettext, pgettext=_pgettext, _=_gettext)
    env.filters.update(moment=_moment, money=_money, number=_number)
    return env


def request_locale(request: web.Request) -> str:
    """The signed-in officer's choice, otherwise the browser's first language."""
    signed_in: SignedIn | None = request.get(keys.SIGNED_IN)
    if signed_in is not None:
        return signed_in.locale
    first = request.headers.get("Accept-Language", "").split(",")[0].split(";")[0]
    return from_language_code(first)


def translate(request: web.Request, message: str) -> str:
    return str(translations(request[keys.LOCALE]).gettext(message))


def render(
    request: web.Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    csrf_token: str | None = None,
) -> web.Response:
    """A page in the request's language with the values every template may use."""
    signed_in: SignedIn | None = request.get(keys.SIGNED_IN)
    values: dict[str, Any] = {
        "locale": request[keys.LOCALE],
        "signed_in": signed_in,
        "csrf_token": csrf_token or (signed_in.csrf_token if signed_in else ""),
        "timezone": request.app[keys.SETTINGS].timezone,
        "path": request.path,
    }
    values.update(context or {})
    return aiohttp_jinja2.render_template(template, request, values, status=status)
