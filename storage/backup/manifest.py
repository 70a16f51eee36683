"""The backup archive's manifest: its JSON form, its checks, and the names members may have.

The manifest is the archive's first member and lists every other member with its size and
SHA-256, so a restore can check each member as it streams past (docs/backup-format.md).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import URL

from storage.backup.errors import BackupError

FORMAT_NAME = "loanbot-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_MEMBERS = {
    "sqlite": "database/loanbot.sqlite3",
    "postgresql": "database/loanbot.pgdump",
}
FILES_PREFIX = "files/"
MAX_MANIFEST_SIZE = 64 * 1024 * 1024
SHA256_PATTERN = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class ArchivedFile:
    """One archive member as the manifest lists it."""

    member: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What an archive holds; written first so a restore can check everything that follows."""

    created_at: str
    database_kind: str
    alembic_revision: str | None
    database: ArchivedFile
    files: tuple[ArchivedFile, ...]

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "created_at": self.created_at,
            "database": {
                "kind": self.database_kind,
                "member": self.database.member,
                "size": self.database.size,
                "sha256": self.database.sha256,
            },
            "alembic_revision": self.alembic_revision,
            "files": [
                {"name": f.member.removeprefix(FILES_PREFIX), "size": f.size, "sha256": f.sha256}
                for f in self.files
            ],
        }
        return json.dumps(document, indent=2, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            document = json.loads(raw)
            if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
                raise BackupError("this is not a loanbot backup archive")
            version = document.get("format_version")
            if version != FORMAT_VERSION:
                raise BackupError(
                    f"the backup has format version {version!r}; this release reads version "
                    f"{FORMAT_VERSION} (was it made by a newer release?)"
                )
            database = document["database"]
            kind = database["kind"]
            if kind not in DATABASE_MEMBERS or database["member"] != DATABASE_MEMBERS[kind]:
                raise BackupError("the backup manifest names an unknown kind of database")
            revision = document["alembic_revision"]
            if revision is not None and not isinstance(revision, str):
                raise BackupError("the backup manifest has an invalid migration revision")
            files = tuple(
                _archived(FILES_PREFIX + _text(entry["name"]), entry) for entry in document["files"]
            )
            return cls(
                created_at=_text(document["created_at"]),
                database_kind=kind,
                alembic_revision=revision,
                database=_archived(DATABASE_MEMBERS[kind], database),
                files=files,
            )
        except (ValueError, KeyError, TypeError):
            raise BackupError("the backup manifest is damaged or incomplete") from None

    def members(self) -> dict[str, ArchivedFile]:
        """Every member after the manifest, by name; refuses duplicates and unsafe names."""
        listed: dict[str, ArchivedFile] = {}
        for entry in (self.database, *self.files):
            check_member_name(entry.member)
            if entry.member in listed:
                raise BackupError(f"the backup manifest lists {entry.member!r} twice")
            listed[entry.member] = entry
        return listed


def database_kind(url: URL) -> str:
    """The manifest's name for the engine behind `url`; refuses engines we cannot back up."""
    backend = url.get_backend_name()
    if backend not in DATABASE_MEMBERS:
        raise BackupError(f"backups of {backend} databases are not supported")
    return backend


def check_member_name(name: str) -> None:
    """Refuse absolute paths, `..`, backslashes and anything else that could leave the target."""
    parts = name.split("/")
    if (
        not name
        or name.startswith("/")
        or "\\" in name
        or "\x00" in name
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise BackupError(f"the archive holds an unsafe path {name!r} (path traversal refused)")


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("expected text")
    return value


def _archived(member: str, entry: dict[str, Any]) -> ArchivedFile:
    size, digest = entry["size"], entry["sha256"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise ValueError("bad size")
    if not isinstance(digest, str) or not SHA256_PATTERN.fullmatch(digest):
        raise ValueError("bad digest")
    return ArchivedFile(member=member, size=size, sha256=digest)
