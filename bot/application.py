"""Build the python-telegram-bot Application: one handler, per-chat order, typed context."""

from __future__ import annotations

from telegram import BotCommand, BotCommandScopeAllPrivateChats, Update
from telegram.ext import ApplicationBuilder, ContextTypes, TypeHandler

from bot.context import BotData, BotServices, LoanBotApplication, LoanBotContext
from bot.ordering import PerChatUpdateProcessor
from bot.pipeline import ChatPipeline
from bot.transport import AiohttpRequest
from locales import N_, SUPPORTED, gettext_for

COMMANDS = (
    ("start", N_("Start or continue your application")),
    ("apply", N_("Apply for a business loan")),
    ("status", N_("See the status of your applications")),
    ("language", N_("Change the language")),
    ("help", N_("How this bot works")),
    ("cancel", N_("Discard your draft application")),
)
_PIPELINE = "pipeline"


def build_application(services: BotServices, *, token: str, api_url: str) -> LoanBotApplication:
    """The bot, talking to `api_url` (Telegram, a self-hosted Bot API server or the emulator)."""
    context_types = ContextTypes(context=LoanBotContext, bot_data=BotData)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{api_url}/bot")
        .base_file_url(f"{api_url}/file/bot")
        .context_types(context_types)
        .concurrent_updates(PerChatUpdateProcessor())
        .request(AiohttpRequest())
        .get_updates_request(AiohttpRequest(connection_pool_size=1))
        .post_init(prepare)
    )
    application: LoanBotApplication = builder.build()  # type: ignore[assignment]
    application.bot_data.services = services
    application.add_handler(TypeHandler(Update, _on_update))
    return application


async def prepare(application: LoanBotApplication) -> None:
    """After `initialize()` (the bot knows who it is): build the pipeline, publish commands.

    PTB calls this itself only from `run_polling`/`run_webhook`; run.py and the tests start
    the application step by step and call it once between `initialize()` and `start()`.
    """
    if application.bot_data.pipeline is not None:
        return
    services = application.bot_data.services
    assert services is not None
    application.bot_data.pipeline = ChatPipeline(services, application.bot.id)
    for locale in SUPPORTED:
        commands = [BotCommand(name, gettext_for(locale, text)) for name, text in COMMANDS]
        language = None if locale == "en" else "zh"
        await application.bot.set_my_commands(
            commands, scope=BotCommandScopeAllPrivateChats(), language_code=language
        )


async def _on_update(update: Update, context: LoanBotContext) -> None:
    """Every update goes through the one pipeline."""
    pipeline = context.bot_data.pipeline
    assert pipeline is not None
    await pipeline.process(update, context.bot)
