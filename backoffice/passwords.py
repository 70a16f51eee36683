"""Officer password hashes with Argon2id (design §4.4, data class C3).

Hashes are stored in the standard PHC string format,
`$argon2id$v=19$m=65536,t=3,p=4$<salt>$<hash>` (unpadded base64), so the cost settings travel
with each hash and can be raised later. Hashing runs in a worker thread: one hash costs a few
hundred milliseconds and 64 MiB, which must not stall the event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import os
import re
from dataclasses import dataclass
from functools import cache

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

MEMORY_COST_KIB = 64 * 1024
ITERATIONS = 3
LANES = 4
SALT_BYTES = 16
HASH_BYTES = 32
ARGON2_VERSION = 19

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase; short enough that nobody can make us hash megabytes.
MAX_PASSWORD_LENGTH = 1024

# A stored hash is trusted only within these bounds, so an edited row cannot make a
# sign-in attempt allocate gigabytes or spin for minutes.
_MAX_MEMORY_COST_KIB = 1024 * 1024
_MAX_ITERATIONS = 16
_MAX_LANES = 16

_PHC = re.compile(
    r"\$argon2id\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$(?P<hash>[A-Za-z0-9+/]+)"
)


@dataclass(frozen=True)
class _Parsed:
    memory_cost: int
    iterations: int
    lanes: int
    salt: bytes
    digest: bytes


def _b64encode(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _derive(
    password: str, *, salt: bytes, length: int, memory_cost: int, iterations: int, lanes: int
) -> bytes:
    kdf = Argon2id(
        salt=salt,
        length=length,
        iterations=iterations,
        lanes=lanes,
        memory_cost=memory_cost,
    )
    return kdf.derive(password.encode("utf-8"))


def hash_password_blocking(password: str) -> str:
    """The PHC string for `password` with a fresh random salt (blocks for a while)."""
    salt = os.urandom(SALT_BYTES)
    digest = _derive(
        password,
        salt=salt,
        length=HASH_BYTES,
        memory_cost=MEMORY_COST_KIB,
        iterations=ITERATIONS,
        lanes=LANES,
    )
    return (
        f"$argon2id$v={ARGON2_VERSION}$m={MEMORY_COST_KIB},t={ITERATIONS},p={LANES}"
        f"${_b64encode(salt)}${_b64encode(digest)}"
    )


def _parse(encoded: str) -> _Parsed | None:
    match = _PHC.fullmatch(encoded)
    if match is None or int(match["v"]) != ARGON2_VERSION:
        return None
    memory_cost, iterations, lanes = int(match["m"]), int(match["t"]), int(match["p"])
    if not (
        8 * lanes <= memory_cost <= _MAX_MEMORY_COST_KIB
        and 1 <= iterations <= _MAX_ITERATIONS
        and 1 <= lanes <= _MAX_LANES
    ):
        return None
    try:
        salt, digest = _b64decode(match["salt"]), _b64decode(match["hash"])
    except ValueError:
        return None
    if len(salt) < 8 or not 16 <= len(digest) <= 64:
        return None
    return _Parsed(memory_cost, iterations, lanes, salt, digest)


def verify_password_blocking(password: str, encoded: str) -> bool:
    """Whether `password` matches the stored hash; the final comparison is constant-time."""
    parsed = _parse(encoded)
    if parsed is None or len(password) > MAX_PASSWORD_LENGTH:
        return False
    candidate = _derive(
        password,
        salt=parsed.salt,
        length=len(parsed.digest),
        memory_cost=parsed.memory_cost,
        iterations=parsed.iterations,
        lanes=parsed.lanes,
    )
    return hmac.compare_digest(candidate, parsed.digest)


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(hash_password_blocking, password)


async def verify_password(password: str, encoded: str) -> bool:
    return await asyncio.to_thread(verify_password_blocking, password, encoded)


@cache
def _decoy_hash() -> str:
    return hash_password_blocking(os.urandom(16).hex())


async def spend_verification_time(password: str) -> None:
    """Do the work of a real check, so an unknown username answers as slowly as a known one."""
    decoy = await asyncio.to_thread(_decoy_hash)
    await verify_password(password, decoy)


def uses_argon2id(encoded: str) -> bool:
    return _parse(encoded) is not None
