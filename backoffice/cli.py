"""`python run.py officer add NAME --role ROLE`: create an account from the terminal.

It prints the one-time password, the TOTP provisioning URI and a QR code of it, once; the
new officer changes the password and confirms the second factor at first sign-in.
"""

from __future__ import annotations

import sys

from backoffice import accounts, second_factor
from settings import Settings
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring


async def add_officer_command(
    settings: Settings, database: Database, keyring: Keyring, name: str, role: str
) -> int:
    """Create the officer NAME (also its username); exit status 0, or 1 with the reason."""
    del settings  # part of every command's signature; this one needs nothing from it
    try:
        async with database.unit_of_work() as session:
            created = await accounts.create_officer(
                session, FieldCipher(keyring), username=name, display_name=name, role=role
            )
    except accounts.AccountError as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    print(f"Officer '{created.officer.username}' created with role {created.officer.role}.")
    print(f"One-time password (shown once, changed at first sign-in): {created.one_time_password}")
    print(f"TOTP set-up URI: {created.provisioning_uri}")
    print("Or scan this with an authenticator app:")
    print(second_factor.terminal_qr(created.provisioning_uri))
    return 0
