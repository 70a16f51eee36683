"""Composition root: reads the settings, builds every part, runs one command (design §2)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from settings import Settings, SettingsError

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


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
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
            return 0
        raise CommandError(f"the command {command!r} is not available yet")
    finally:
        await database.dispose()


if __name__ == "__main__":
    sys.exit(main())
