"""`python run.py keys rotate`: move every document key and encrypted field to the primary key.

Documents are re-wrapped, not re-encrypted: only the header's wrapped data key changes
(storage.vault). Encrypted fields are decrypted and sealed again under the primary key, and
their blind indexes recomputed, because the index key derives from the primary key too.

Work goes in batches, each its own unit of work with one audit event, so an interrupted run
keeps what it finished and the next run carries on: rows already under the primary key are
skipped. A document or field that cannot be moved (missing file, damaged, key not
configured) is named in the report and left as it is; the rest still rotate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage import audit
from storage.database import Database
from storage.fields import FieldCipher, FieldError
from storage.keyring import Keyring, KeyringError
from storage.models import Application, ApplicationMessage, Document, Officer
from storage.vault import Vault, VaultError

DEFAULT_BATCH_SIZE = 100
ACTION = "keys.rotated"

SelectT = TypeVar("SelectT", bound=Select[Any])
SealedRow = TypeVar("SealedRow", Application, Officer, ApplicationMessage)


@dataclass(frozen=True)
class SealedColumn:
    """An encrypted column: `<name>_enc` holds the blob, `<name>_index` its blind index.

    `name` is the column name bound into the associated data and the blind index, as the
    code that writes the column uses it (e.g. storage.applications, backoffice.accounts).
    """

    name: str
    indexed: bool = False

    @property
    def blob_attribute(self) -> str:
        return f"{self.name}_enc"

    @property
    def index_attribute(self) -> str:
        return f"{self.name}_index"


APPLICATION_COLUMNS = (
    SealedColumn("annual_revenue"),
    SealedColumn("owner_id_number", indexed=True),
    SealedColumn("phone", indexed=True),
)
OFFICER_COLUMNS = (SealedColumn("totp_secret"),)
MESSAGE_COLUMNS = (SealedColumn("body"),)


@dataclass
class RotationReport:
    """What a rotation did; `describe()` is what `keys rotate` prints."""

    key_id: str
    documents: int = 0
    fields: int = 0
    documents_left: int = 0
    fields_left: int = 0
    batches: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def left(self) -> int:
        return self.documents_left + self.fields_left

    def describe(self) -> str:
        summary = (
            f"rotated {_count(self.documents, 'document')} and {_count(self.fields, 'field')} "
            f"to key '{self.key_id}'; {self.left} left"
        )
        return "\n".join([summary, *(f"  not rotated: {problem}" for problem in self.problems)])


ProgressHook = Callable[[RotationReport], None]


async def rotate_keys(
    database: Database,
    keyring: Keyring,
    files_dir: Path,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    progress: ProgressHook | None = None,
) -> RotationReport:
    """Re-wrap every document and re-encrypt every field under `keyring.primary`.

    `progress` is called after each committed batch (e.g. to print how far it got).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport(key_id=keyring.primary.key_id)
    rotation = _Rotation(database, keyring, files_dir, batch_size, report, progress)
    await rotation.documents()
    await rotation.fields(Application, "applications", APPLICATION_COLUMNS)
    await rotation.fields(Officer, "officers", OFFICER_COLUMNS)
    await rotation.fields(ApplicationMessage, "application_messages", MESSAGE_COLUMNS)
    async with database.unit_of_work() as session:
        report.documents_left = await _documents_not_under(session, report.key_id)
    return report


class _Rotation:
    def __init__(
        self,
        database: Database,
        keyring: Keyring,
        files_dir: Path,
        batch_size: int,
        report: RotationReport,
        progress: ProgressHook | None,
    ) -> None:
        self._database = database
        self._vault = Vault(files_dir, keyring)
        self._cipher = FieldCipher(keyring)
        self._primary = keyring.primary.key_id
        self._batch_size = batch_size
        self._report = report
        self._progress = progress

    async def documents(self) -> None:
        after = 0
        while True:
            async with self._database.unit_of_work() as session:
                query = (
                    select(Document)
                    .where(Document.key_id != self._primary, Document.id > after)
                    .order_by(Document.id)
                    .limit(self._batch_size)
                )
                batch = (await session.scalars(self._locked(query))).all()
                if not batch:
                    return
                after = batch[-1].id
                rotated = 0
                for document in batch:
                    try:
                        await self._vault.rewrap(document.storage_name)
                    except (VaultError, ValueError) as error:
                        self._report.problems.append(f"document {document.id}: {error}")
                        continue
                    document.key_id = self._primary
                    rotated += 1
                await self._audit(session, "documents", rotated, batch[0].id, after)
            self._finish_batch(documents=rotated)

    async def fields(
        self,
        model: type[SealedRow],
        table: str,
        columns: tuple[SealedColumn, ...],
    ) -> None:
        after = 0
        while True:
            async with self._database.unit_of_work() as session:
                query = select(model).where(model.id > after).order_by(model.id)
                rows = (await session.scalars(self._locked(query.limit(self._batch_size)))).all()
                if not rows:
                    return
                after = rows[-1].id
                rotated = 0
                for row in rows:
                    rotated += self._rotate_row(row, table, columns)
                await self._audit(session, table, rotated, rows[0].id, after)
            self._finish_batch(fields=rotated)

    def _rotate_row(
        self,
        row: Application | Officer | ApplicationMessage,
        table: str,
        columns: tuple[SealedColumn, ...],
    ) -> int:
        rotated = 0
        for column in columns:
            blob: bytes | None = getattr(row, column.blob_attribute)
            if blob is None:
                continue
            try:
                if self._cipher.key_id_of(blob) == self._primary:
                    continue
                plaintext = self._cipher.decrypt_bytes(
                    blob, table=table, column=column.name, row_id=row.id
                )
                index = (
                    self._cipher.blind_index(plaintext.decode("utf-8"), column=column.name)
                    if column.indexed
                    else None
                )
            except (FieldError, KeyringError, UnicodeDecodeError) as error:
                reason = error if not isinstance(error, UnicodeDecodeError) else "not text"
                self._report.problems.append(f"{table}.{column.name} of row {row.id}: {reason}")
                self._report.fields_left += 1
                continue
            sealed = self._cipher.encrypt_bytes(
                plaintext, table=table, column=column.name, row_id=row.id
            )
            setattr(row, column.blob_attribute, sealed)
            if index is not None:
                setattr(row, column.index_attribute, index)
            rotated += 1
        return rotated

    def _locked(self, query: SelectT) -> SelectT:
        # PostgreSQL: lock the batch so a concurrent update cannot be overwritten by stale
        # values; SQLite's BEGIN IMMEDIATE already holds the only write lock.
        return query.with_for_update() if self._database.is_postgres else query

    async def _audit(
        self, session: AsyncSession, subject: str, rotated: int, first_id: int, last_id: int
    ) -> None:
        if rotated == 0:
            return
        await audit.record(
            session,
            actor_type="system",
            actor_id=None,
            action=ACTION,
            subject_type=subject,
            details={
                "key_id": self._primary,
                "rotated": rotated,
                "first_row": first_id,
                "last_row": last_id,
            },
        )

    def _finish_batch(self, *, documents: int = 0, fields: int = 0) -> None:
        self._report.documents += documents
        self._report.fields += fields
        self._report.batches += 1
        if self._progress is not None:
            self._progress(self._report)


async def _documents_not_under(session: AsyncSession, key_id: str) -> int:
    query = select(func.count(Document.id)).where(Document.key_id != key_id)
    return int((await session.scalar(query)) or 0)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
