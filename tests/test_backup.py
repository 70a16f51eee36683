"""Backup and restore: a round trip that decrypts and verifies, and every way to refuse one."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import os
import secrets
import tarfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from settings import Settings
from storage.audit import record, verify_chain
from storage.backup import BackupError, create_backup, restore_backup
from storage.database import Database
from storage.keyring import Keyring, load_keyring
from storage.migrate import migrate
from storage.vault import Vault
from tests.conftest import POSTGRES_AVAILABLE, POSTGRES_URL

ABSOLUTE_EVIL = Path("/tmp/loanbot-backup-test-evil")
DOCUMENTS = {
    "application:1": b"",
    "application:2": b"%PDF-1.7 licence" * 5000,
    "application:3": os.urandom(200_000),
}


@dataclass
class Deployment:
    """A running source installation and the settings of an empty one to restore into."""

    settings: Settings
    database: Database
    target: Settings


def sqlite_settings(data_dir: Path) -> Settings:
    return Settings.from_env({"LOANBOT_DATA_DIR": str(data_dir)})


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Deployment]:
    if request.param == "sqlite":
        settings = sqlite_settings(tmp_path / "source")
        settings.data_dir.mkdir()
        database = Database(settings.database_url)
        await migrate(database)
        try:
            yield Deployment(settings, database, sqlite_settings(tmp_path / "restored"))
        finally:
            await database.dispose()
        return
    if not POSTGRES_AVAILABLE:
        pytest.skip("PostgreSQL is not reachable on " + POSTGRES_URL.split("@")[-1])
    # pg_dump and pg_restore work on whole databases, so each side gets a fresh one.
    admin = Database(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    names = [f"loanbot_backup_{secrets.token_hex(5)}" for _ in range(2)]
    base = POSTGRES_URL.rsplit("/", 1)[0]
    async with admin.engine.connect() as connection:
        for name in names:
            await connection.execute(text(f"CREATE DATABASE {name}"))
    settings = Settings.from_env(
        {"LOANBOT_DATA_DIR": str(tmp_path / "source"), "DATABASE_URL": f"{base}/{names[0]}"}
    )
    target = Settings.from_env(
        {"LOANBOT_DATA_DIR": str(tmp_path / "restored"), "DATABASE_URL": f"{base}/{names[1]}"}
    )
    settings.data_dir.mkdir()
    database = Database(settings.database_url)
    try:
        await migrate(database)
        yield Deployment(settings, database, target)
    finally:
        await database.dispose()
        async with admin.engine.connect() as connection:
            for name in names:
                await connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        await admin.dispose()


def make_keyring() -> Keyring:
    return Keyring.parse("k1:" + base64.b64encode(b"\x07" * 32).decode())


async def populate(deployment: Deployment, keyring: Keyring) -> dict[str, tuple[str, bytes]]:
    """Store the documents and audit their upload; returns storage name → (record, bytes)."""
    vault = Vault(deployment.settings.files_dir, keyring)
    stored = {}
    async with deployment.database.unit_of_work() as session:
        for record_name, data in DOCUMENTS.items():
            document = await vault.store_bytes(record_name, data)
            stored[document.storage_name] = (record_name, data)
            await record(
                session,
                actor_type="applicant",
                actor_id="42",
                action="document.uploaded",
                subject_type="document",
                subject_id=document.storage_name,
                details={"size": len(data)},
            )
    return stored


def archive_members(path: Path) -> dict[str, bytes]:
    members = {}
    with tarfile.open(path, "r:gz") as archive:
        for member in archive.getmembers():
            stream = archive.extractfile(member)
            assert stream is not None
            members[member.name] = stream.read()
    return members


def write_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> None:
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isfile() else None)


def regular(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


def rebuilt(
    source: Path,
    target: Path,
    change: Callable[[dict[str, bytes]], list[tuple[tarfile.TarInfo, bytes]]],
) -> Path:
    write_archive(target, change(archive_members(source)))
    return target


def with_manifest(members: dict[str, bytes], edit: Callable[[dict[str, object]], None]) -> bytes:
    manifest = json.loads(members["manifest.json"])
    edit(manifest)
    return json.dumps(manifest).encode()


def left_empty(settings: Settings) -> bool:
    """Nothing but a master key (and our own empty dirs) in the restore target."""
    if not settings.data_dir.exists():
        return True
    leftovers = [
        path.relative_to(settings.data_dir)
        for path in settings.data_dir.rglob("*")
        if path.name != "master.key" and not (path.is_dir() and not any(path.iterdir()))
    ]
    return leftovers == []


async def test_round_trip_restores_files_that_decrypt_and_a_chain_that_verifies(
    deployment: Deployment,
) -> None:
    keyring = make_keyring()
    stored = await populate(deployment, keyring)
    archive = deployment.settings.data_dir.parent / "backup.tar.gz"

    await create_backup(deployment.settings, deployment.database, archive)

    # The operator brings the keys; a generated key file in the empty target is allowed.
    deployment.target.data_dir.mkdir()
    load_keyring(deployment.target)
    await restore_backup(deployment.target, archive)

    for name in stored:
        original = (deployment.settings.files_dir / name).read_bytes()
        assert (deployment.target.files_dir / name).read_bytes() == original
    restored_vault = Vault(deployment.target.files_dir, keyring)
    for name, (record_name, data) in stored.items():
        assert await restored_vault.read_all(name, record_name) == data

    restored = Database(deployment.target.database_url)
    try:
        report = await verify_chain(restored)
        async with restored.unit_of_work() as session:
            actions = (
                await session.execute(text("SELECT action FROM audit_events ORDER BY seq"))
            ).scalars()
            assert list(actions) == ["document.uploaded"] * 3 + ["backup.restored"]
    finally:
        await restored.dispose()
    assert report.describe() == "ok: 4 events"
    source_report = await verify_chain(deployment.database)
    assert source_report.describe() == "ok: 4 events"  # three uploads and backup.created


async def test_archive_holds_a_manifest_and_no_master_key(
    deployment: Deployment,
) -> None:
    settings = deployment.settings
    generated = load_keyring(settings)  # writes data_dir/master.key
    keyring = make_keyring()
    stored = await populate(deployment, keyring)
    (settings.files_dir / "stray.key").write_bytes(b"do not archive")
    archive = settings.data_dir.parent / "backup.tar.gz"

    await create_backup(settings, deployment.database, archive)

    members = archive_members(archive)
    assert not any(name.endswith(".key") for name in members)
    manifest = json.loads(members["manifest.json"])
    assert manifest["format"] == "loanbot-backup"
    assert manifest["format_version"] == 1
    assert manifest["alembic_revision"]
    assert manifest["created_at"].endswith("Z")
    assert {entry["name"] for entry in manifest["files"]} == set(stored)
    for entry in manifest["files"]:
        data = members["files/" + entry["name"]]
        assert entry["size"] == len(data)
        assert entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert (
        manifest["database"]["sha256"]
        == hashlib.sha256(members[manifest["database"]["member"]]).hexdigest()
    )

    stream = gzip.decompress(archive.read_bytes())
    for key in (keyring.primary.key, generated.primary.key):
        assert key not in stream
        assert base64.b64encode(key) not in stream
    assert (settings.data_dir / "master.key").read_bytes().strip() not in stream
    assert oct(archive.stat().st_mode & 0o777) == "0o600"


async def test_backup_without_a_files_dir_is_fine(data_dir: Path) -> None:
    settings = sqlite_settings(data_dir)
    database = Database(settings.database_url)
    try:
        await migrate(database)
        await create_backup(settings, database, data_dir / "backup.tar.gz")
        report = await verify_chain(database)
    finally:
        await database.dispose()
    assert json.loads(archive_members(data_dir / "backup.tar.gz")["manifest.json"])["files"] == []
    assert report.describe() == "ok: 1 events"


@pytest.fixture
async def sqlite_backup(tmp_path: Path) -> tuple[Path, Settings]:
    """A small real SQLite backup with documents, and the settings of an empty target."""
    settings = sqlite_settings(tmp_path / "source")
    settings.data_dir.mkdir()
    database = Database(settings.database_url)
    try:
        await migrate(database)
        await populate(Deployment(settings, database, settings), make_keyring())
        await create_backup(settings, database, tmp_path / "backup.tar.gz")
    finally:
        await database.dispose()
    return tmp_path / "backup.tar.gz", sqlite_settings(tmp_path / "target")


def flip_database_byte(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
    database = bytearray(members["database/loanbot.sqlite3"])
    database[len(database) // 2] ^= 0x01
    members["database/loanbot.sqlite3"] = bytes(database)
    return [regular(name, data) for name, data in members.items()]


async def test_tampered_database_member_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path
) -> None:
    archive, target = sqlite_backup
    tampered = rebuilt(archive, tmp_path / "tampered.tar.gz", flip_database_byte)
    with pytest.raises(BackupError, match=r"database/loanbot\.sqlite3 does not match its checksum"):
        await restore_backup(target, tampered)
    assert left_empty(target)


@pytest.mark.parametrize("cut", [0.05, 0.5, 0.95, -4])
async def test_truncated_archive_is_refused_and_nothing_is_written(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path, cut: float
) -> None:
    archive, target = sqlite_backup
    data = archive.read_bytes()
    end = int(len(data) * cut) if cut > 0 else len(data) + int(cut)
    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(data[:end])
    with pytest.raises(BackupError, match="truncated or corrupt"):
        await restore_backup(target, truncated)
    assert left_empty(target)


async def test_corrupt_compressed_byte_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path
) -> None:
    archive, target = sqlite_backup
    data = bytearray(archive.read_bytes())
    data[-6] ^= 0x01  # inside the gzip CRC: every member still reads correctly
    corrupt = tmp_path / "corrupt.tar.gz"
    corrupt.write_bytes(bytes(data))
    with pytest.raises(BackupError, match="truncated or corrupt"):
        await restore_backup(target, corrupt)
    assert left_empty(target)


def escaped_files(tmp_path: Path) -> list[Path]:
    return [path for path in (tmp_path / "evil", ABSOLUTE_EVIL) if path.exists()]


def traversal_members(
    evil_name: str,
) -> Callable[[dict[str, bytes]], list[tuple[tarfile.TarInfo, bytes]]]:
    def change(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
        return [*(regular(name, data) for name, data in members.items()), regular(evil_name, b"x")]

    return change


@pytest.mark.parametrize(
    "evil_name",
    ["../evil", "files/../../evil", str(ABSOLUTE_EVIL), "files/./x", "files\\..\\evil"],
)
async def test_path_traversal_member_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path, evil_name: str
) -> None:
    archive, target = sqlite_backup
    evil = rebuilt(archive, tmp_path / "evil.tar.gz", traversal_members(evil_name))
    with pytest.raises(BackupError, match="path traversal refused"):
        await restore_backup(target, evil)
    assert left_empty(target)
    assert escaped_files(tmp_path) == []


async def test_path_traversal_in_manifest_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path
) -> None:
    archive, target = sqlite_backup

    def change(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
        def edit(manifest: dict[str, object]) -> None:
            manifest["files"] = [{"name": "../../evil", "size": 1, "sha256": "0" * 64}]

        database = "database/loanbot.sqlite3"
        return [
            regular("manifest.json", with_manifest(members, edit)),
            regular(database, members[database]),
            regular("files/../../evil", b"x"),
        ]

    evil = rebuilt(archive, tmp_path / "evil.tar.gz", change)
    with pytest.raises(BackupError, match="path traversal refused"):
        await restore_backup(target, evil)
    assert left_empty(target)


@pytest.mark.parametrize("link_type", [tarfile.SYMTYPE, tarfile.LNKTYPE])
async def test_link_member_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path, link_type: bytes
) -> None:
    archive, target = sqlite_backup

    def change(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
        link = tarfile.TarInfo("files/" + "a" * 32)
        link.type = link_type
        link.linkname = "/etc/passwd"
        return [*(regular(name, data) for name, data in members.items()), (link, b"")]

    evil = rebuilt(archive, tmp_path / "link.tar.gz", change)
    with pytest.raises(BackupError, match="link or special file"):
        await restore_backup(target, evil)
    assert left_empty(target)


async def test_member_missing_from_the_manifest_is_refused(
    sqlite_backup: tuple[Path, Settings], tmp_path: Path
) -> None:
    archive, target = sqlite_backup

    def drop_last_file(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
        return [regular(name, data) for name, data in list(members.items())[:-1]]

    incomplete = rebuilt(archive, tmp_path / "incomplete.tar.gz", drop_last_file)
    with pytest.raises(BackupError, match="incomplete"):
        await restore_backup(target, incomplete)
    assert left_empty(target)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.update(format_version=2), "format version 2"),
        (lambda m: m.update(alembic_revision="9999_future"), "newer release"),
        (lambda m: m.update(format="something-else"), "not a loanbot backup"),
        (lambda m: m.pop("files"), "damaged or incomplete"),
    ],
)
async def test_bad_manifest_is_refused(
    sqlite_backup: tuple[Path, Settings],
    tmp_path: Path,
    edit: Callable[[dict[str, object]], None],
    message: str,
) -> None:
    archive, target = sqlite_backup

    def change(members: dict[str, bytes]) -> list[tuple[tarfile.TarInfo, bytes]]:
        members["manifest.json"] = with_manifest(members, edit)
        return [regular(name, data) for name, data in members.items()]

    bad = rebuilt(archive, tmp_path / "bad.tar.gz", change)
    with pytest.raises(BackupError, match=message):
        await restore_backup(target, bad)
    assert left_empty(target)


async def test_restore_into_a_non_empty_data_dir_is_refused(
    sqlite_backup: tuple[Path, Settings],
) -> None:
    archive, target = sqlite_backup
    target.data_dir.mkdir()
    (target.data_dir / "loanbot.db").write_bytes(b"SQLite format 3\x00 precious")
    with pytest.raises(BackupError, match="already exists"):
        await restore_backup(target, archive)
    assert (target.data_dir / "loanbot.db").read_bytes() == b"SQLite format 3\x00 precious"

    (target.data_dir / "loanbot.db").unlink()
    target.files_dir.mkdir()
    (target.files_dir / "old-document").write_bytes(b"precious")
    with pytest.raises(BackupError, match="not empty"):
        await restore_backup(target, archive)
    assert not (target.data_dir / "loanbot.db").exists()
    assert (target.files_dir / "old-document").read_bytes() == b"precious"


async def test_restore_over_a_live_database_is_refused(
    deployment: Deployment,
) -> None:
    archive = deployment.settings.data_dir.parent / "backup.tar.gz"
    await create_backup(deployment.settings, deployment.database, archive)
    # The source installation is migrated, so it is not an empty target.
    occupied = Settings.from_env(
        {
            "LOANBOT_DATA_DIR": str(deployment.target.data_dir),
            "DATABASE_URL": deployment.settings.database_url,
        }
    )
    expected = "already has tables" if deployment.database.is_postgres else "already exists"
    with pytest.raises(BackupError, match=expected):
        await restore_backup(occupied, archive)


async def test_missing_archive_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no backup archive"):
        await restore_backup(sqlite_settings(tmp_path / "target"), tmp_path / "nope.tar.gz")
