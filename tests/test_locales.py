"""Locale choice, Babel formatting, and the catalogs: complete, current, placeholders intact."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from locales import (
    LOCALES_DIR,
    format_day,
    format_money,
    from_language_code,
    gettext_for,
    resolve_locale,
)

REPO = Path(__file__).resolve().parents[1]
SOURCES = ["bot", "conversations", "lending", "backoffice", "storage", "locales", "run.py"]
PLACEHOLDER = re.compile(r"\{[a-z_]+\}")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("zh-hans", "zh_Hans"),
        ("zh-Hans", "zh_Hans"),
        ("zh-cn", "zh_Hans"),
        ("zh-CN", "zh_Hans"),
        ("zh", "zh_Hans"),
        ("zh-hant", "en"),
        ("zh-tw", "en"),
        ("en", "en"),
        ("en-GB", "en"),
        ("ru", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_telegram_language_codes_map_to_our_locales(code: str | None, expected: str) -> None:
    assert from_language_code(code) == expected


def test_stored_choice_wins_over_telegram_language() -> None:
    assert resolve_locale("en", "zh-hans") == "en"
    assert resolve_locale("zh_Hans", "en") == "zh_Hans"
    assert resolve_locale(None, "zh-cn") == "zh_Hans"
    assert resolve_locale("klingon", None) == "en"


def test_money_and_dates_follow_the_locale() -> None:
    assert format_money(Decimal("300000"), "zh_Hans") == "¥300,000.00"
    assert "300,000.00" in format_money(Decimal("300000"), "en")
    assert format_day(date(2026, 11, 27), "zh_Hans") == "2026年11月27日"
    assert format_day(date(2026, 11, 27), "en") == "November 27, 2026"


def _catalog(locale: str):  # type: ignore[no-untyped-def]
    with (LOCALES_DIR / locale / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle)


def test_every_message_is_translated_into_chinese_with_its_placeholders() -> None:
    catalog = _catalog("zh_Hans")
    missing = [m.id for m in catalog if m.id and not m.string]
    assert missing == []
    for message in catalog:
        if message.id:
            assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
                PLACEHOLDER.findall(str(message.string))
            ), message.id


def test_extraction_finds_nothing_missing_from_the_catalogs(tmp_path: Path) -> None:
    template = tmp_path / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    subprocess.run(
        [str(pybabel), "-q", "extract", "-F", "locales/babel.cfg", "-k", "N_", "-k", "_",
         "-o", str(template), "--no-location", "--omit-header", *SOURCES],
        cwd=REPO, check=True, capture_output=True,
    )  # fmt: skip
    with template.open("rb") as handle:
        extracted = {m.id for m in read_po(handle) if m.id}
    for locale in ("en", "zh_Hans"):
        known = {m.id for m in _catalog(locale) if m.id}
        assert sorted(extracted - known) == [], f"run `make catalogs` ({locale})"


def test_compiled_catalog_is_what_the_code_uses() -> None:
    catalog = _catalog("zh_Hans")
    sample = next(m for m in catalog if m.id == "I agree")
    assert gettext_for("zh_Hans", "I agree") == sample.string
    assert gettext_for("en", "I agree") == "I agree"
