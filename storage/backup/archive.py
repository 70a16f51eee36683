"""Writing and reading the backup's gzip-compressed tar archive, safely and in one pass.

Writing hashes the bytes actually archived, so a file that changes meanwhile is caught, and
renames a finished temp file into place. Reading streams the archive once, checks every member
against the manifest (name, type, size, SHA-256) while extracting it into a staging area, and
refuses links, special files and path tricks.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import secrets
import stat
import tarfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

from storage.backup.errors import BackupError
from storage.backup.manifest import (
    DATABASE_MEMBERS,
    FILES_PREFIX,
    MANIFEST_NAME,
    MAX_MANIFEST_SIZE,
    ArchivedFile,
    Manifest,
    check_member_name,
)

CHUNK_SIZE = 1024 * 1024
GZIP_LEVEL = 6


# --- writing -----------------------------------------------------------------------------


def write_archive(
    path: Path, *, kind: str, revision: str | None, database_copy: Path, files_dir: Path
) -> int:
    """Write manifest, database and files to a temp file, then rename it into place.

    Returns the number of encrypted files archived.
    """
    database_entry = _digest(database_copy)
    if database_entry is None:
        raise BackupError("the database copy disappeared while the backup was written")
    sources = {DATABASE_MEMBERS[kind]: database_copy}
    entries = []
    for member, source in _stored_files(files_dir):
        entry = _digest(source)
        if entry is not None:
            entries.append(ArchivedFile(member, entry.size, entry.sha256))
            sources[member] = source
    created_at = datetime.now(UTC)
    manifest = Manifest(
        created_at=created_at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        database_kind=kind,
        alembic_revision=revision,
        database=ArchivedFile(DATABASE_MEMBERS[kind], database_entry.size, database_entry.sha256),
        files=tuple(entries),
    )
    mtime = int(created_at.timestamp())
    temp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as raw:
            with tarfile.open(
                fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT, compresslevel=GZIP_LEVEL
            ) as archive:
                manifest_bytes = manifest.to_json()
                archive.addfile(
                    _member_info(MANIFEST_NAME, len(manifest_bytes), mtime),
                    io.BytesIO(manifest_bytes),
                )
                for entry in (manifest.database, *manifest.files):
                    _add_checked(archive, entry, sources[entry.member], mtime)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_directory(path.parent)
    return len(manifest.files)


def fsync_directory(directory: Path) -> None:
    """Make a rename or link in `directory` durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _stored_files(files_dir: Path) -> Iterator[tuple[str, Path]]:
    """(archive member, path) for every encrypted file, in a stable order.

    Hidden names are a writer's temporary files (never a finished document); `*.key` files
    are skipped so no key can end up in an archive; links and devices are not followed.
    """
    if not files_dir.is_dir():
        return
    for directory, subdirectories, names in os.walk(files_dir):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
        for name in sorted(names):
            if name.startswith(".") or name.endswith(".key"):
                continue
            path = Path(directory) / name
            with contextlib.suppress(FileNotFoundError):
                if stat.S_ISREG(path.lstat().st_mode):
                    yield FILES_PREFIX + path.relative_to(files_dir).as_posix(), path


def _digest(path: Path) -> ArchivedFile | None:
    """Size and SHA-256 of a file, or None if it vanished meanwhile."""
    sha = hashlib.sha256()
    size = 0
    try:
        with path.open("rb") as source:
            while chunk := source.read(CHUNK_SIZE):
                sha.update(chunk)
                size += len(chunk)
    except FileNotFoundError:
        return None
    return ArchivedFile(member="", size=size, sha256=sha.hexdigest())


def _member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = mtime
    info.type = tarfile.REGTYPE
    return info


def _add_checked(archive: tarfile.TarFile, entry: ArchivedFile, source: Path, mtime: int) -> None:
    """Add a member, hashing the bytes actually written so a file changed meanwhile is caught."""
    with source.open("rb") as handle:
        reader = _HashingReader(handle)
        try:
            archive.addfile(_member_info(entry.member, entry.size, mtime), reader)
        except OSError:
            raise BackupError(f"{entry.member} changed while the backup was written") from None
    if reader.sha.hexdigest() != entry.sha256:
        raise BackupError(f"{entry.member} changed while the backup was written")


class _HashingReader(io.RawIOBase):
    """Passes reads through and hashes what went by."""

    def __init__(self, source: IO[bytes]) -> None:
        self._source = source
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        chunk = self._source.read(size)
        self.sha.update(chunk)
        return chunk


# --- reading -----------------------------------------------------------------------------


def extract_verified(
    archive_path: Path,
    *,
    kind: str,
    known_revisions: set[str],
    database_target: Path,
    files_target: Path,
) -> Manifest:
    """Stream the archive once into the staging places, checking each member on the way."""
    try:
        with (
            gzip.open(archive_path, "rb") as compressed,
            tarfile.open(fileobj=compressed, mode="r|") as archive,
        ):
            members = iter(archive)
            first = next(members, None)
            if first is None or first.name != MANIFEST_NAME or not first.isfile():
                raise BackupError("this is not a loanbot backup: it does not start with a manifest")
            if first.size > MAX_MANIFEST_SIZE:
                raise BackupError("the backup manifest is implausibly large")
            manifest = Manifest.from_json(_read_member(archive, first))
            if manifest.database_kind != kind:
                raise BackupError(
                    f"the backup holds a {manifest.database_kind} database but DATABASE_URL "
                    f"points to {kind}"
                )
            if (
                manifest.alembic_revision is not None
                and manifest.alembic_revision not in known_revisions
            ):
                raise BackupError(
                    f"the backup was made by a newer release (database migration "
                    f"{manifest.alembic_revision}); restore it with that release"
                )
            expected = manifest.members()
            files_target.mkdir(mode=0o700)
            seen: set[str] = set()
            for member in members:
                check_member_name(member.name)
                if not member.isfile():
                    raise BackupError(
                        f"the archive member {member.name!r} is a link or special file (refused)"
                    )
                entry = expected.get(member.name)
                if entry is None or member.name in seen:
                    raise BackupError(f"the archive member {member.name!r} is not in its manifest")
                if member.size != entry.size:
                    raise BackupError(f"{member.name} does not match its size in the manifest")
                target = (
                    database_target
                    if entry is manifest.database
                    else files_target / member.name.removeprefix(FILES_PREFIX)
                )
                _extract_checked(archive, member, entry, target, files_target)
                seen.add(member.name)
            missing = len(expected) - len(seen)
            if missing:
                raise BackupError(
                    f"the archive is incomplete: {missing} member(s) of its manifest are missing"
                )
            # Read to the end so gzip checks its trailer (CRC and length): a damaged or cut
            # archive is refused even when the damage lies after the last member.
            while compressed.read(CHUNK_SIZE):
                pass
            return manifest
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError):
        raise BackupError("the backup archive is truncated or corrupt") from None


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupError(f"the archive member {member.name!r} cannot be read")
    with stream:
        return stream.read()


def _extract_checked(
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    entry: ArchivedFile,
    target: Path,
    files_target: Path,
) -> None:
    if files_target in target.parents:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    stream = archive.extractfile(member)
    if stream is None:
        raise BackupError(f"the archive member {member.name!r} cannot be read")
    sha = hashlib.sha256()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    with stream, os.fdopen(os.open(target, flags, 0o600), "wb") as out:
        while chunk := stream.read(CHUNK_SIZE):
            sha.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    if sha.hexdigest() != entry.sha256:
        raise BackupError(f"{member.name} does not match its checksum in the manifest")
