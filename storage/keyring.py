"""Master keys (key-encryption keys): parsed from LOANBOT_MASTER_KEYS or a generated dev key file.

The first key of `LOANBOT_MASTER_KEYS` is the primary: new document keys are wrapped and new
fields encrypted under it. The others stay only so older data can still be read until
`python run.py keys rotate` has moved everything to the primary (design §4.3).

Master keys are never used directly: each purpose (wrapping document keys, encrypting fields,
blind indexes) gets its own subkey derived with HKDF, so one purpose's ciphertexts can never
be confused with another's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
import os
import re
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from settings import Settings

log = logging.getLogger(__name__)

KEY_SIZE = 32
KEY_FILE_NAME = "master.key"
ENV_VARIABLE = "LOANBOT_MASTER_KEYS"
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class KeyringError(Exception):
    """The master keys are missing, malformed or unusable; the message never holds key bytes."""


class UnknownKeyError(KeyringError):
    """Data names a master key id that is not configured (removed too early, or wrong keys)."""


@dataclass(frozen=True)
class MasterKey:
    """One 32-byte key-encryption key and the id stored beside everything it protects."""

    key_id: str
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if not KEY_ID_PATTERN.fullmatch(self.key_id):
            raise KeyringError(
                "a master key id must be 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if len(self.key) != KEY_SIZE:
            raise KeyringError(
                f"master key '{self.key_id}' must be {KEY_SIZE} bytes, got {len(self.key)}"
            )


def derive_subkey(master: MasterKey, purpose: str) -> bytes:
    """The 32-byte key for one purpose, HKDF-SHA256(master, info=purpose); see vault-format.md."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_SIZE, salt=None, info=purpose.encode("ascii")
    ).derive(master.key)


class Keyring:
    """The configured master keys; the first is the primary."""

    def __init__(self, keys: Iterable[MasterKey]) -> None:
        ordered = list(keys)
        if not ordered:
            raise KeyringError("a keyring needs at least one master key")
        by_id: dict[str, MasterKey] = {}
        for key in ordered:
            if key.key_id in by_id:
                raise KeyringError(f"master key id '{key.key_id}' appears twice")
            by_id[key.key_id] = key
        self._keys = by_id
        self.primary: MasterKey = ordered[0]

    @property
    def ids(self) -> tuple[str, ...]:
        """Every configured key id, primary first."""
        return tuple(self._keys)

    def get(self, key_id: str) -> MasterKey:
        try:
            return self._keys[key_id]
        except KeyError:
            raise UnknownKeyError(f"master key '{key_id}' is not configured") from None

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    def __repr__(self) -> str:
        return f"Keyring(ids={self.ids!r})"

    @classmethod
    def parse(cls, spec: str) -> Keyring:
        """Read `id:base64key[,id:base64key…]`; errors name the entry, never its key."""
        entries = [entry.strip() for entry in spec.split(",")]
        if not any(entries):
            raise KeyringError(f"{ENV_VARIABLE} is set but names no key")
        keys = []
        for position, entry in enumerate(entries, start=1):
            keys.append(_parse_entry(entry, position))
        return cls(keys)


def _parse_entry(entry: str, position: int) -> MasterKey:
    key_id, separator, encoded = entry.partition(":")
    key_id = key_id.strip()
    if not separator or not key_id or not encoded.strip():
        raise KeyringError(
            f"{ENV_VARIABLE} entry {position} is malformed: expected id:base64key "
            "(create one with `python run.py keys generate`)"
        )
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise KeyringError(
            f"{ENV_VARIABLE} entry {position} has an invalid key id: use 1-64 letters, "
            "digits, '.', '_' or '-'"
        )
    key = _decode_key(encoded.strip())
    if key is None:
        raise KeyringError(f"master key '{key_id}' in {ENV_VARIABLE} is not valid base64")
    if len(key) != KEY_SIZE:
        raise KeyringError(
            f"master key '{key_id}' in {ENV_VARIABLE} must decode to {KEY_SIZE} bytes, "
            f"got {len(key)}"
        )
    return MasterKey(key_id, key)


def _decode_key(encoded: str) -> bytes | None:
    """Standard or URL-safe base64, padding optional; None when it is not base64 at all."""
    normalised = encoded.replace("-", "+").replace("_", "/")
    normalised += "=" * (-len(normalised) % 4)
    try:
        return base64.b64decode(normalised, validate=True)
    except (binascii.Error, ValueError):
        return None


def generate_key_entry() -> str:
    """A fresh `id:base64key` entry for LOANBOT_MASTER_KEYS, e.g. `k20261127a1b2:…`."""
    return _new_entry("k")


def _new_entry(prefix: str) -> str:
    key_id = f"{prefix}{datetime.now(UTC):%Y%m%d}{secrets.token_hex(2)}"
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_SIZE)).decode('ascii')}"


def load_keyring(settings: Settings) -> Keyring:
    """The keys from LOANBOT_MASTER_KEYS, else the development key file in the data dir."""
    if settings.master_keys is not None:
        return Keyring.parse(settings.master_keys.reveal())
    path = settings.data_dir / KEY_FILE_NAME
    keyring = _load_or_create_key_file(path)
    log.warning(
        "NO MASTER KEY CONFIGURED: using the generated development key in %s (key id '%s'). "
        "Anyone who can read that file can decrypt every document and personal field. "
        "For real use set %s: run `python run.py keys generate`, put the new entry first "
        "and this file's entry after it, run `python run.py keys rotate`, then drop the "
        "old entry and delete the file.",
        path,
        keyring.primary.key_id,
        ENV_VARIABLE,
    )
    return keyring


def _load_or_create_key_file(path: Path) -> Keyring:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        _create_key_file(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise KeyringError(
            f"the master key file {path} may be read by other users (mode {mode:o}); "
            f"run `chmod 600 {path}`"
        )
    try:
        spec = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        raise KeyringError(f"the master key file {path} cannot be read") from None
    try:
        return Keyring.parse(spec)
    except KeyringError:
        raise KeyringError(
            f"the master key file {path} is corrupt; restore it from where you keep it"
        ) from None


def _create_key_file(path: Path) -> None:
    """Write a whole new key file or nothing: temp file, fsync, then a link that never replaces.

    Linking (rather than renaming) makes two processes starting at once agree on one key:
    the loser's link fails with FileExistsError and it reads the winner's file.
    """
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        try:
            os.write(fd, (_new_entry("dev") + "\n").encode("ascii"))
            os.fsync(fd)
        finally:
            os.close(fd)
        with contextlib.suppress(FileExistsError):
            os.link(temp, path)
    finally:
        temp.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
