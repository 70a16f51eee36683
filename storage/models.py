"""Typed SQLAlchemy models: every table the bot, the back-office and the CLI share.

Columns ending in `_enc` hold field ciphertext (storage.fields, design §4.2) and those
ending in `_index` the HMAC blind index used to find a row by an exact value.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from storage.types import Money, UTCDateTime, utcnow

# SQLite only autoincrements an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Applicant(Base):
    """A Telegram user who applies for loans; one row per Telegram account."""

    __tablename__ = "applicants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    telegram_user_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger, index=True)
    locale: Mapped[str | None] = mapped_column(String(16))
    blocked_bot: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    applications: Mapped[list[Application]] = relationship(back_populates="applicant")


class Conversation(Base):
    """Where one chat stands in the applicant conversation; locked per update for ordering."""

    __tablename__ = "conversations"

    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    state: Mapped[str] = mapped_column(String(64))
    application_id: Mapped[int | None] = mapped_column(ForeignKey("applications.id"))
    # Scratch values the machine needs between updates (C1 only, never personal data).
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class Application(Base):
    """A loan application, from draft in chat to its final state in the back-office."""

    __tablename__ = "applications"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(32), unique=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    status: Mapped[str] = mapped_column(String(32), default="draft")
    locale: Mapped[str] = mapped_column(String(16), default="en")

    consent_version: Mapped[str | None] = mapped_column(String(32))
    consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    company_name: Mapped[str | None] = mapped_column(String(200))
    credit_code: Mapped[str | None] = mapped_column(String(18))
    industry: Mapped[str | None] = mapped_column(String(64))
    years_in_operation: Mapped[int | None] = mapped_column(Integer)
    employees: Mapped[int | None] = mapped_column(Integer)
    annual_revenue_enc: Mapped[bytes | None] = mapped_column(LargeBinary)

    owner_name: Mapped[str | None] = mapped_column(String(100))
    owner_id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    owner_id_number_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_index: Mapped[bytes | None] = mapped_column(LargeBinary(32), index=True)

    amount: Mapped[Decimal | None] = mapped_column(Money)
    term_months: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str | None] = mapped_column(String(64))
    repayment_method: Mapped[str | None] = mapped_column(String(32))
    security_type: Mapped[str | None] = mapped_column(String(32))
    security_details: Mapped[str | None] = mapped_column(String(500))

    assigned_officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    recommended_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    decision_reason: Mapped[str | None] = mapped_column(Text)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    applicant: Mapped[Applicant] = relationship(back_populates="applications")
    documents: Mapped[list[Document]] = relationship(back_populates="application")

    __table_args__ = (
        Index("ix_applications_status_submitted", "status", "submitted_at", "id"),
        # The back-office queue pages by the keyset (submitted_at, id) across all statuses.
        Index("ix_applications_submitted", "submitted_at", "id"),
    )


class Document(Base):
    """An uploaded file; its bytes live encrypted in the vault under `storage_name`."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    doc_type: Mapped[str] = mapped_column(String(32))
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    telegram_file_unique_id: Mapped[str | None] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(64))
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    application: Mapped[Application] = relationship(back_populates="documents")


class Officer(Base):
    """A back-office account: administrator, loan officer, approver or auditor."""

    __tablename__ = "officers"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    totp_last_counter: Mapped[int | None] = mapped_column(BigInteger)
    totp_confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    locale: Mapped[str] = mapped_column(String(16), default="en")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OfficerSession(Base):
    """A server-side sign-in session; the cookie carries the token, we keep only its hash."""

    __tablename__ = "officer_sessions"

    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), primary_key=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("officers.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    stage: Mapped[str] = mapped_column(String(16), default="full")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SignInThrottle(Base):
    """Recent failed sign-ins from one client address; attempts wait until `next_allowed_at`."""

    __tablename__ = "sign_in_throttles"

    client_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_allowed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """One audited action; `hash` chains it to the event before (design §4.7)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_type: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    # The (…, seq) indexes let the audit viewer page newest-first under a filter by walking
    # one index range backwards, so every page costs the same however deep it is.
    __table_args__ = (
        Index("ix_audit_events_subject", "subject_type", "subject_id"),
        Index("ix_audit_events_subject_seq", "subject_type", "subject_id", "seq"),
        Index("ix_audit_events_actor_seq", "actor_id", "actor_type", "seq"),
        Index("ix_audit_events_action_seq", "action", "seq"),
    )


class AuditHead(Base):
    """The single row naming the chain's last event; writers lock it to serialise appends."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A message for an applicant, written in the sender's transaction, delivered by the bot."""

    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    applicant_id: Mapped[int] = mapped_column(ForeignKey("applicants.id"), index=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(32))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (Index("ix_outbox_messages_due", "status", "next_attempt_at"),)


class ProcessedUpdate(Base):
    """A Telegram update already applied; stored in the same transaction as its effect."""

    __tablename__ = "processed_updates"

    bot_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class ApplicationMessage(Base):
    """One message in an application's thread, either way between officer and applicant."""

    __tablename__ = "application_messages"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    application_id: Mapped[int] = mapped_column(ForeignKey("applications.id"), index=True)
    direction: Mapped[str] = mapped_column(String(8))
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("officers.id"))
    # Superseded by body_enc (free text can hold ID and phone numbers); no longer written.
    body: Mapped[str | None] = mapped_column(Text, nullable=True, default=None)
    # The text, sealed by FieldCipher (table "application_messages", column "body", row id).
    body_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    requested_documents: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


__all__ = [
    "Applicant",
    "Application",
    "ApplicationMessage",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Conversation",
    "Document",
    "Officer",
    "OfficerSession",
    "OutboxMessage",
    "ProcessedUpdate",
    "SignInThrottle",
]
