"""Draft and submitted applications as the bot sees them: answers in, encrypted where C2."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from lending.reference import application_reference
from storage.fields import FieldCipher
from storage.models import Applicant, Application, Document

Answer = str | int | Decimal

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

    async def start(self, session: AsyncSession, applicant: Applicant, locale: str) -> Application:
        application = Application(applicant_id=applicant.id, status="draft", locale=locale)
        session.add(application)
        await session.flush()
        return application

    def answers(self, application: Application) -> dict[str, Answer]:
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

    def save(self, application: Application, field: str, value: Answer) -> None:
        """Store one answer; the application must already have its id (flushed)."""
        if field in PLAIN_FIELDS:
            setattr(application, field, value)
        elif field == "annual_revenue":
            if not isinstance(value, Decimal):
                raise TypeError("annual revenue must be a Decimal")
            application.annual_revenue_enc = self._cipher.encrypt_decimal(
                value, table=TABLE, column=field, row_id=application.id
            )
        elif field in SEARCHABLE_FIELDS:
            text = str(value)
            setattr(
                application,
                f"{field}_enc",
                self._cipher.encrypt(text, table=TABLE, column=field, row_id=application.id),
            )
            setattr(
                application,
                f"{field}_index",
                self._cipher.blind_index(text, column=SEARCHABLE_FIELDS[field]),
            )
        else:
            raise ValueError(f"unknown answer field {field!r}")


async def submit(
    session: AsyncSession, application: Application, *, now: datetime, timezone: ZoneInfo
) -> str:
    """Give the application its reference and mark it submitted."""
    application.reference = application_reference(now.astimezone(timezone).year, application.id)
    application.status = "submitted"
    application.submitted_at = now
    await session.flush()
    return application.reference


async def active_documents(session: AsyncSession, application_id: int) -> Sequence[Document]:
    query = select(Document).where(
        Document.application_id == application_id, Document.replaced_at.is_(None)
    )
    return (await session.scalars(query.order_by(Document.id))).all()


# The bot reads these two on every update; built once (see storage/chats.py).
_OF_APPLICANT = (
    select(Application)
    .where(Application.applicant_id == bindparam("applicant_id"))
    .order_by(Application.id)
)
_ACTIVE_TYPES = select(Document.doc_type).where(
    Document.application_id == bindparam("application_id"), Document.replaced_at.is_(None)
)


async def of_applicant(session: AsyncSession, applicant_id: int) -> Sequence[Application]:
    """Every application of one applicant, draft included, oldest first."""
    return (await session.scalars(_OF_APPLICANT, {"applicant_id": applicant_id})).all()


async def active_document_types(session: AsyncSession, application_id: int) -> Sequence[str]:
    return (await session.scalars(_ACTIVE_TYPES, {"application_id": application_id})).all()
