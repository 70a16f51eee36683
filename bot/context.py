"""The typed PTB context: handlers reach the services through it, never through globals."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from telegram.ext import Application, CallbackContext, ExtBot

from lending.products import ProductLimits
from settings import Settings
from storage.applications import Drafts
from storage.database import Database
from storage.vault import Vault

if TYPE_CHECKING:
    from bot.pipeline import ChatPipeline


@dataclass
class BotServices:
    """Everything a handler may use; built by the composition root (run.py)."""

    settings: Settings
    database: Database
    vault: Vault
    drafts: Drafts
    limits: ProductLimits
    clock: Callable[[], datetime]


class BotData:
    """PTB's `bot_data`, typed: the services are put in place before polling starts."""

    def __init__(self) -> None:
        self.services: BotServices | None = None
        self.pipeline: ChatPipeline | None = None


class LoanBotContext(
    CallbackContext[ExtBot[None], dict[object, object], dict[object, object], BotData]
):
    """Callback context with typed access to the services."""

    @property
    def services(self) -> BotServices:
        services = self.bot_data.services
        if services is None:
            raise RuntimeError("bot services are not set up; build the bot with bot.application")
        return services


LoanBotApplication = Application[
    ExtBot[None],
    LoanBotContext,
    dict[object, object],
    dict[object, object],
    BotData,
    None,
]
