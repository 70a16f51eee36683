"""Gettext catalogs (en, zh_Hans) and locale-aware formatting shared by bot and back-office.

Message ids are the English text. Code that cannot translate at the point of writing (the
pure conversation and lending layers) marks strings with `N_` so pybabel extracts them, and
the adapter translates when it renders.
"""

from __future__ import annotations

import gettext
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path

from babel import Locale
from babel.dates import format_date as _babel_format_date
from babel.dates import format_datetime as _babel_format_datetime
from babel.numbers import format_currency, format_decimal

LOCALES_DIR = Path(__file__).parent
DOMAIN = "messages"
SUPPORTED = ("en", "zh_Hans")
DEFAULT = "en"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it here."""
    return message


@cache
def translations(locale: str) -> gettext.NullTranslations:
    """The compiled catalog for `locale`; English falls back to the message ids themselves."""
    if locale not in SUPPORTED:
        locale = DEFAULT
    return gettext.translation(DOMAIN, LOCALES_DIR, languages=[locale], fallback=True)


def gettext_for(locale: str, message: str) -> str:
    return translations(locale).gettext(message)


def resolve_locale(stored: str | None, telegram_code: str | None) -> str:
    """The stored choice first, then Telegram's `language_code`, then English."""
    if stored in SUPPORTED:
        return stored
    return from_language_code(telegram_code)


def from_language_code(code: str | None) -> str:
    """Map Telegram's IETF tag: `zh-hans`, `zh-cn`, `zh` (and similar) to zh_Hans."""
    if not code:
        return DEFAULT
    tag = code.strip().lower().replace("_", "-")
    if tag == "zh" or tag.startswith(("zh-hans", "zh-cn", "zh-sg")):
        return "zh_Hans"
    return DEFAULT


@cache
def babel_locale(locale: str) -> Locale:
    return Locale.parse("zh_Hans_CN" if locale == "zh_Hans" else "en_US")


def format_money(amount: Decimal, locale: str) -> str:
    """¥300,000.00 in both languages (the currency is always CNY)."""
    return format_currency(amount, "CNY", locale=babel_locale(locale))


def format_number(value: int | Decimal, locale: str) -> str:
    return format_decimal(value, locale=babel_locale(locale))


def format_day(value: date, locale: str) -> str:
    return _babel_format_date(value, format="long", locale=babel_locale(locale))


def format_moment(value: datetime, locale: str) -> str:
    return _babel_format_datetime(value, format="medium", locale=babel_locale(locale))
