"""Composition root: reads the settings, builds every part, runs one command (design §2)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence
from contextlib import AsyncExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from settings import Settings, SettingsError

if TYPE_CHECKING:
    from bot.context import LoanBotApplication
    from storage.database import Database
    from storage.keyring import Keyring

# PTB 22 reports retry_after as a timedelta only when asked; the old int form is deprecated.
os.environ.setdefault("PTB_TIMEDELTA", "1")

log = logging.getLogger("loanbot")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python run.py", description="SME Loan Assistant")
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="migrate, then run the bot and the back-office")
    commands.add_parser("migrate", help="apply pending database migrations")

    officer = commands.add_parser("officer", help="manage back-office accounts")
    officer_commands = officer.add_subparsers(dest="officer_command", required=True)
    add = officer_commands.add_parser("add", help="create an officer account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["admin", "officer", "approver", "auditor"])

    audit = commands.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit_command", required=True)
    audit_commands.add_parser("verify", help="check the hash chain")

    keys = commands.add_parser("keys", help="master keys")
    keys_commands = keys.add_subparsers(dest="keys_command", required=True)
    keys_commands.add_parser("rotate", help="re-wrap every data key under the primary key")
    keys_commands.add_parser("generate", help="print a new random master key entry")

    backup = commands.add_parser("backup", help="write a consistent backup archive")
    backup.add_argument("file")
    restore = commands.add_parser("restore", help="restore an archive into an empty data dir")
    restore.add_argument("file")

    reminders = commands.add_parser("reminders", help="repayment reminders")
    reminders_commands = reminders.add_subparsers(dest="reminders_command", required=True)
    run_reminders = reminders_commands.add_parser("run", help="send the reminders due")
    run_reminders.add_argument("--as-of", dest="as_of")
    return parser


# httpx logs every request URL at INFO, and Bot API URLs carry the bot token (`/bot<token>/`):
# a secret must never reach a log, so HTTP client chatter stays at WARNING and above.
QUIET_LOGGERS = ("httpx", "httpcore", "alembic", "aiohttp.access")


def configure_logging(level: int = logging.INFO) -> None:
    logging.basicConfig(level=level, format=LOG_FORMAT)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: Sequence[str] | None = None) -> int:
    configure_logging()
    args = build_parser().parse_args(argv)
    try:
        settings = Settings.from_env()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        return asyncio.run(dispatch(args, settings))
    except KeyboardInterrupt:
        return 130
    except CommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except Exception as error:
        # Imported only here so commands that never touch them do not load them at start.
        from storage.backup import BackupError
        from storage.keyring import KeyringError
        from storage.migrate import SchemaTooNewError

        if not isinstance(error, BackupError | KeyringError | SchemaTooNewError):
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1


class CommandError(Exception):
    """A command could not do its work; the message says why, without secrets."""


async def dispatch(args: argparse.Namespace, settings: Settings) -> int:
    """Run the chosen command; imports are local so each command loads only what it uses."""
    command = args.command or "serve"
    if command == "keys" and args.keys_command == "generate":
        from storage.keyring import generate_key_entry

        print(generate_key_entry())
        return 0
    if command == "restore":
        from storage.backup import restore_backup

        await restore_backup(settings, Path(args.file))
        print(f"restored {args.file} into {settings.data_dir}")
        return 0

    from storage.database import Database
    from storage.migrate import migrate

    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    database = Database(settings.database_url)
    try:
        await migrate(database)
        if command == "migrate":
            print("database is at the newest migration")
            return 0
        if command == "audit":
            from storage.audit import verify_chain

            report = await verify_chain(database)
            print(report.describe())
            if report.ok:
                # Someone who can write the database could rebuild the whole chain; keeping
                # this line somewhere else (a ticket, a notebook) lets a later check prove it.
                print(f"head: {report.head_hash}")
            return 0 if report.ok else 1
        if command == "backup":
            from storage.backup import create_backup

            await create_backup(settings, database, Path(args.file))
            print(f"backup written to {args.file}")
            return 0

        from storage.keyring import load_keyring

        keyring = load_keyring(settings)
        if command == "keys":
            from storage.rotation import rotate_keys

            rotation = await rotate_keys(database, keyring, settings.files_dir)
            print(rotation.describe())
            return 0 if rotation.left == 0 else 1
        if command == "officer":
            from backoffice.cli import add_officer_command

            return await add_officer_command(settings, database, keyring, args.name, args.role)
        if command == "serve":
            return await serve(settings, database, keyring)
        raise CommandError(f"the command {command!r} is not available yet")
    finally:
        await database.dispose()


SANDBOX_TOKEN = "1000000001:SANDBOX-not-a-real-token"  # noqa: S105 - loopback emulator only


async def serve(settings: Settings, database: Database, keyring: Keyring) -> int:
    """Run the bot, its outbox dispatcher and the back-office until SIGINT or SIGTERM."""
    from aiohttp import web
    from sqlalchemy import func, select

    from backoffice.app import create_app
    from bot.application import build_application, prepare
    from bot.context import BotServices
    from bot.outbox_dispatcher import OutboxDispatcher
    from bot.sandbox import BotApiEmulator
    from lending.products import ProductLimits
    from storage.applications import Drafts
    from storage.fields import FieldCipher
    from storage.models import Officer
    from storage.types import utcnow
    from storage.vault import Vault

    vault = Vault(settings.files_dir, keyring)
    vault.remove_stale_temp_files()
    cipher = FieldCipher(keyring)
    services = BotServices(settings, database, vault, Drafts(cipher), ProductLimits(), utcnow)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signal_number, stop.set)

    async with AsyncExitStack() as stack:
        if settings.telegram_bot_token is None:
            emulator = BotApiEmulator(token=SANDBOX_TOKEN, bot_username="sme_loan_sandbox_bot")
            await emulator.start(settings.sandbox_host, settings.sandbox_port)
            stack.push_async_callback(emulator.stop)
            token, api_url = SANDBOX_TOKEN, emulator.url
        else:
            emulator = None
            token, api_url = settings.telegram_bot_token.reveal(), settings.telegram_api_url

        bot_app = build_application(services, token=token, api_url=api_url)
        await bot_app.initialize()
        stack.push_async_callback(bot_app.shutdown)
        await prepare(bot_app)
        await bot_app.start()
        stack.push_async_callback(bot_app.stop)
        if settings.webhook_url and emulator is None:
            await _serve_webhook(settings, bot_app, stack)
        else:
            assert bot_app.updater is not None
            await bot_app.updater.start_polling(poll_interval=0.0, timeout=10)
            stack.push_async_callback(bot_app.updater.stop)

        dispatcher = OutboxDispatcher(database, bot_app.bot, cipher=cipher)
        delivery = asyncio.create_task(dispatcher.run(stop))

        office = create_app(settings=settings, database=database, field_cipher=cipher, vault=vault)
        runner = web.AppRunner(office, access_log=None)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.backoffice_host, settings.backoffice_port)
        await site.start()

        async with database.unit_of_work() as session:
            officers = await session.scalar(select(func.count(Officer.id)))
        print(f"Back-office:  http://{settings.backoffice_host}:{settings.backoffice_port}/")
        if emulator is not None:
            print(
                "Sandbox mode (no TELEGRAM_BOT_TOKEN): the bot talks to a local Bot API emulator."
            )
            print(f"Applicant chat page:  {emulator.url}/chat")
            print(f"Bot API emulator:     {emulator.url}  (TELEGRAM_API_URL for other tools)")
        else:
            mode = f"webhook {settings.webhook_url}" if settings.webhook_url else "polling"
            print(f"Bot @{bot_app.bot.username} talks to {settings.telegram_api_url} ({mode})")
        if not officers:
            print("No officer accounts yet. Create the first administrator with:")
            print("    .venv/bin/python run.py officer add admin --role admin")
        print("Press Ctrl+C to stop.")
        # What start-up made (modules, metadata, compiled templates) lives as long as the
        # process; left in the collector's oldest generation, every full collection walks it
        # again, a pause of about 0.1 s in the middle of a request (B3).
        gc.freeze()
        await stop.wait()
        await delivery
    return 0


if __name__ == "__main__":
    sys.exit(main())


async def _serve_webhook(
    settings: Settings, bot_app: LoanBotApplication, stack: AsyncExitStack
) -> None:
    """Listen for Telegram's POSTs and register the webhook with a secret token."""
    import secrets

    from aiohttp import web

    from bot.webhook import WEBHOOK_PATH, create_webhook_app

    secret = (
        settings.webhook_secret.reveal() if settings.webhook_secret else secrets.token_urlsafe(32)
    )
    runner = web.AppRunner(create_webhook_app(bot_app, secret), access_log=None)
    await runner.setup()
    stack.push_async_callback(runner.cleanup)
    await web.TCPSite(runner, settings.webhook_host, settings.webhook_port).start()
    assert settings.webhook_url is not None
    await bot_app.bot.set_webhook(
        url=settings.webhook_url, secret_token=secret, drop_pending_updates=False
    )
    stack.push_async_callback(bot_app.bot.delete_webhook)
    print(f"Webhook listening on {settings.webhook_host}:{settings.webhook_port}{WEBHOOK_PATH}")
