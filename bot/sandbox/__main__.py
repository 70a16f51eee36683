"""Run the Bot API emulator on its own: ``python -m bot.sandbox [--port 8081]``.

Point a bot at it with ``TELEGRAM_API_URL=<printed url>`` and the printed token; open the
printed chat page to play a user. Stops on Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
from collections.abc import Sequence

from bot.sandbox.emulator import BotApiEmulator


async def serve(host: str, port: int, token: str, username: str) -> None:
    emulator = BotApiEmulator(token=token, bot_username=username)
    await emulator.start(host=host, port=port)
    print(f"Bot API emulator: {emulator.url}  (token {token})", flush=True)
    print(f"Web chat page:    {emulator.chat_url}", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot.sandbox", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--token", default="123:ABC")
    parser.add_argument("--username", default="sme_loan_bot")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.host, args.port, args.token, args.username))
    return 0


if __name__ == "__main__":
    sys.exit(main())
