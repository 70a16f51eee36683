"""Draft and submitted applications as the bot sees them: answers in, encrypted where C2.

The bot reads and writes applications with SQLAlchemy Core statements built once and gets
plain rows back (see storage/chats.py for why); the back-office reads the same answers from
ORM objects.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Table, bindparam, delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lending.reference import application_reference
from storage.fields import FieldCipher
from storage.models import Application, Document

Answer = str | int | Decimal
# An application as the ORM loads it, or as a row of `of_applicant`: the same attributes.
ApplicationRecord = Application | Row[Any]

TABLE = "applications"
PLAIN_FIELDS = frozenset(
    {
        "company_name",
        "credit_code",
        "industry",
        "years_in_operation",
        "employees",
        "owner_name",
        "amount",
        "term_months",
        "purpose",
        "repayment_method",
        "security_type",
        "security_details",
    }
)
SEARCHABLE_FIELDS = {"owner_id_number": "owner_id_number", "phone": "phone"}
FINAL_STATUSES = frozenset({"rejected", "closed", "withdrawn", "repaid"})


def document_record(application_id: int) -> str:
    """The vault record a document is bound to: moving it to another application fails."""
    return f"application:{application_id}"


class Drafts:
    """Reads and writes answers on applications, encrypting C2 fields with their row id."""

    def __init__(self, cipher: FieldCipher) -> None:
        self._cipher = cipher

    @property
    def cipher(self) -> FieldCipher:
        return self._cipher

    async def start(self, session: AsyncSession, applicant_id: int, locale: str) -> int:
        """Create an empty draft; returns its id."""
        values = {"applicant_id": applicant_id, "status": "draft", "locale": locale}
        created = await session.execute(_START, values)
        return int(created.scalar_one())

    def answers(self, application: ApplicationRecord) -> dict[str, Answer]:
        values: dict[str, Answer] = {}
        for field in PLAIN_FIELDS:
            value = getattr(application, field)
            if value is not None:
                values[field] = value
        if application.annual_revenue_enc is not None:
            values["annual_revenue"] = self._cipher.decrypt_decimal(
                application.annual_revenue_enc,
                table=TABLE,
                column="annual_revenue",
                row_id=application.id,
            )
        for field in SEARCHABLE_FIELDS:
            blob = getattr(application, f"{field}_enc")
            if blob is not None:
                values[field] = self._cipher.decrypt(
                    blob, table=TABLE, column=field, row_id=application.id
                )
        return values

    async def save(
        self, session: AsyncSession, application_id: int, field: str, value: Answer
    ) -> None:
        """Store one answer on the application `application_id` now."""
        await save_answers(
            session, [{"row_id": application_id, **self.columns(application_id, field, value)}]
        )

    def columns(self, application_id: int, field: str, value: Answer) -> dict[str, object]:
        """The column values that store answer `field`, sealed with the row's id where C2."""
        if field in PLAIN_FIELDS:
            return {field: value}
        if field == "annual_revenue":
            if not isinstance(value, Decimal):
                raise TypeError("annual revenue must be a Decimal")
            sealed = self._cipher.encrypt_decimal(
                value, table=TABLE, column=field, row_id=application_id
            )
            return {"annual_revenue_enc": sealed}
        if field in SEARCHABLE_FIELDS:
            text = str(value)
            return {
                f"{field}_enc": self._cipher.encrypt(
                    text, table=TABLE, column=field, row_id=application_id
                ),
                f"{field}_index": self._cipher.blind_index(text, column=SEARCHABLE_FIELDS[field]),
            }
        raise ValueError(f"unknown answer field {field!r}")


async def submit(
    session: AsyncSession, application_id: int, *, now: datetime, timezone: ZoneInfo
) -> str:
    """Give the draft `application_id` its reference and mark it submitted."""
    reference = application_reference(now.astimezone(timezone).year, application_id)
    values = {"reference": reference, "status": "submitted", "submitted_at": now}
    await session.execute(_UPDATE, {"row_id": application_id, **values})
    return reference


async def record_consent(
    session: AsyncSession, application_id: int, *, version: str, now: datetime
) -> None:
    """Record that the applicant agreed to the privacy notice of `version` at `now`."""
    values = {"consent_version": version, "consent_at": now}
    await session.execute(_UPDATE, {"row_id": application_id, **values})


async def set_locale(session: AsyncSession, application_id: int, locale: str) -> None:
    await session.execute(_UPDATE, {"row_id": application_id, "locale": locale})


async def delete_draft(session: AsyncSession, application_id: int) -> list[str]:
    """Delete a draft and its documents' rows; returns the vault files to delete afterwards."""
    documents = Document.application_id == application_id
    names = (await session.scalars(select(Document.storage_name).where(documents))).all()
    await session.execute(delete(Document).where(documents))
    await session.execute(delete(_APPLICATIONS).where(_APPLICATIONS.c.id == application_id))
    return list(names)


async def active_documents(session: AsyncSession, application_id: int) -> Sequence[Document]:
    query = select(Document).where(
        Document.application_id == application_id, Document.replaced_at.is_(None)
    )
    return (await session.scalars(query.order_by(Document.id))).all()


# Built once: the bot runs these on every update.
_APPLICATIONS = cast(Table, Application.__table__)
_START = insert(_APPLICATIONS).returning(_APPLICATIONS.c.id)
# The SET clause comes from the parameters given (every key but row_id).
_UPDATE = update(_APPLICATIONS).where(_APPLICATIONS.c.id == bindparam("row_id"))
_OF_APPLICANTS = (
    select(_APPLICATIONS)
    .where(_APPLICATIONS.c.applicant_id.in_(bindparam("applicant_ids", expanding=True)))
    .order_by(_APPLICATIONS.c.id)
)
_DOCUMENTS = cast(Table, Document.__table__)
_ACTIVE_TYPES = select(_DOCUMENTS.c.application_id, _DOCUMENTS.c.doc_type).where(
    _DOCUMENTS.c.application_id.in_(bindparam("application_ids", expanding=True)),
    _DOCUMENTS.c.replaced_at.is_(None),
)


async def of_applicants(
    session: AsyncSession, applicant_ids: Collection[int]
) -> dict[int, list[Row[Any]]]:
    """Every application of each applicant, drafts included, oldest first, as rows."""
    owned: dict[int, list[Row[Any]]] = {applicant_id: [] for applicant_id in applicant_ids}
    rows = await session.execute(_OF_APPLICANTS, {"applicant_ids": sorted(owned)})
    for row in rows:
        owned[row.applicant_id].append(row)
    return owned


async def active_document_types(
    session: AsyncSession, application_ids: Collection[int]
) -> dict[int, frozenset[str]]:
    """The document types each application has an active (not replaced) document of."""
    found: dict[int, set[str]] = {application_id: set() for application_id in application_ids}
    if found:
        rows = await session.execute(_ACTIVE_TYPES, {"application_ids": sorted(found)})
        for application_id, doc_type in rows:
            found[application_id].add(doc_type)
    return {application_id: frozenset(types) for application_id, types in found.items()}


async def save_answers(session: AsyncSession, answers: Sequence[dict[str, object]]) -> None:
    """Write answers given as `Drafts.columns(...)` plus "row_id", grouped by the columns
    they set, one executemany each."""
    groups: dict[frozenset[str], list[dict[str, object]]] = {}
    for values in answers:
        groups.setdefault(frozenset(values), []).append(values)
    for rows in groups.values():
        await session.execute(_UPDATE, rows)
