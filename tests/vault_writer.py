"""A vault writer that never finishes: the SIGKILL test starts it, then kills it mid-write.

Run as `python tests/vault_writer.py ROOT`; the key entry comes in LOANBOT_TEST_VAULT_KEY
(never on the command line, where `ps` would show it).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from storage.keyring import Keyring
from storage.vault import Vault

MARKER = b"PLAINTEXT-MARKER-"


async def endless_chunks() -> AsyncIterator[bytes]:
    chunk = (MARKER * (65536 // len(MARKER) + 1))[:65536]
    while True:
        yield chunk
        await asyncio.sleep(0.005)


async def main(root: Path) -> None:
    vault = Vault(root, Keyring.parse(os.environ["LOANBOT_TEST_VAULT_KEY"]))
    await vault.store("application:1", endless_chunks())


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
