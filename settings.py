"""Typed service settings, read once from the environment and passed down (design §2)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class SettingsError(ValueError):
    """A setting has a value the service cannot work with."""


class Secret:
    """A string that never shows itself in a repr, a str() or a log line."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


DEFAULT_TELEGRAM_API_URL = "https://api.telegram.org"


@dataclass(frozen=True)
class Settings:
    """Everything the composition root needs; one instance per process."""

    data_dir: Path
    database_url: str
    telegram_bot_token: Secret | None = field(default=None)
    telegram_api_url: str = DEFAULT_TELEGRAM_API_URL
    master_keys: Secret | None = field(default=None)
    backoffice_host: str = "127.0.0.1"
    backoffice_port: int = 8080
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    approver_required_above: Decimal = Decimal("1000000")
    sandbox_host: str = "127.0.0.1"
    sandbox_port: int = 8081
    webhook_url: str | None = None
    webhook_secret: Secret | None = field(default=None)
    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8443

    @property
    def sandbox(self) -> bool:
        """Sandbox mode: no token, so the bot talks to the loopback Bot API emulator."""
        return self.telegram_bot_token is None

    @property
    def files_dir(self) -> Path:
        return self.data_dir / "files"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from `env` (the process environment by default)."""
        env = os.environ if env is None else env
        data_dir = Path(env.get("LOANBOT_DATA_DIR") or "./data").resolve()
        database_url = env.get("DATABASE_URL") or f"sqlite+aiosqlite:///{data_dir / 'loanbot.db'}"
        token = env.get("TELEGRAM_BOT_TOKEN") or None
        keys = env.get("LOANBOT_MASTER_KEYS") or None
        webhook_secret = env.get("TELEGRAM_WEBHOOK_SECRET") or None
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            telegram_bot_token=Secret(token) if token else None,
            telegram_api_url=(env.get("TELEGRAM_API_URL") or DEFAULT_TELEGRAM_API_URL).rstrip("/"),
            master_keys=Secret(keys) if keys else None,
            backoffice_host=env.get("BACKOFFICE_HOST") or "127.0.0.1",
            backoffice_port=_port(env.get("BACKOFFICE_PORT"), 8080, "BACKOFFICE_PORT"),
            timezone=_zone(env.get("LOANBOT_TIMEZONE") or "Asia/Shanghai"),
            approver_required_above=_decimal(
                env.get("LOANBOT_APPROVER_REQUIRED_ABOVE"), "LOANBOT_APPROVER_REQUIRED_ABOVE"
            ),
            sandbox_host=env.get("LOANBOT_SANDBOX_HOST") or "127.0.0.1",
            sandbox_port=_port(env.get("LOANBOT_SANDBOX_PORT"), 8081, "LOANBOT_SANDBOX_PORT"),
            webhook_url=env.get("TELEGRAM_WEBHOOK_URL") or None,
            webhook_secret=Secret(webhook_secret) if webhook_secret else None,
            webhook_host=env.get("LOANBOT_WEBHOOK_HOST") or "127.0.0.1",
            webhook_port=_port(env.get("LOANBOT_WEBHOOK_PORT"), 8443, "LOANBOT_WEBHOOK_PORT"),
        )


def _port(raw: str | None, default: int, name: str) -> int:
    if not raw:
        return default
    try:
        port = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a port number, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise SettingsError(f"{name} must be between 0 and 65535, got {port}")
    return port


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"LOANBOT_TIMEZONE is not a known time zone: {name!r}") from None


def _decimal(raw: str | None, name: str) -> Decimal:
    if not raw:
        return Decimal("1000000")
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise SettingsError(f"{name} must be an amount in yuan, got {raw!r}") from None
    if not value.is_finite() or value < 0:
        raise SettingsError(f"{name} must be a positive amount, got {raw!r}")
    return value
