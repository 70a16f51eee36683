"""Sandbox mode: a loopback Telegram Bot API emulator, scripted users and a web chat page.

The real bot talks HTTP to :class:`BotApiEmulator` as it would to Telegram
(``TELEGRAM_API_URL`` = ``emulator.url``); tests act as applicants through
:class:`ScriptedUser`, and a person does the same in a browser at ``<url>/chat``.
"""

from bot.sandbox.emulator import BotApiEmulator
from bot.sandbox.faults import Faults
from bot.sandbox.rate_limits import RateLimits
from bot.sandbox.scripted_user import BotMessage, ScriptedUser
from bot.sandbox.state import CallbackAnswer, Stats

__all__ = [
    "BotApiEmulator",
    "BotMessage",
    "CallbackAnswer",
    "Faults",
    "RateLimits",
    "ScriptedUser",
    "Stats",
]
