"""Officer accounts: creation, two-step sign-in, throttling and the administrator's actions.

No web framework here: every function takes the request's unit of work (an AsyncSession)
and the moment `now`, changes rows and records the audit event in that same transaction.
Passwords, one-time passwords and TOTP codes never reach an audit event, a log or a repr.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from backoffice import passwords, second_factor, throttling
from backoffice.sessions import end_officer_sessions
from lending.workflow import Role
from locales import N_
from storage.audit import record
from storage.fields import FieldCipher
from storage.models import Officer

USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{2,63}")
MAX_DISPLAY_NAME_LENGTH = 100
ONE_TIME_PASSWORD_LENGTH = 16
# No 0/O, 1/l/I: the one-time password is read off a terminal and typed by hand.
_ONE_TIME_ALPHABET = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
SUPPORTED_LOCALES = ("en", "zh_Hans")


class AccountError(ValueError):
    """A request about an account that cannot be done; `message` is an English message id."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class OfficerNotFoundError(AccountError):
    """The account named in a request does not exist."""

    def __init__(self) -> None:
        super().__init__(N_("No such officer."))


class Refusal(StrEnum):
    WRONG_CREDENTIALS = "wrong_credentials"
    THROTTLED = "throttled"
    LOCKED = "locked"
    NEW_PASSWORD_INVALID = "new_password_invalid"  # noqa: S105 (a refusal, not a secret)


@dataclass(frozen=True)
class NewOfficer:
    """A freshly created account and what its owner needs for the first sign-in."""

    officer: Officer
    one_time_password: str = field(repr=False)
    provisioning_uri: str = field(repr=False)


@dataclass(frozen=True)
class SignInStep:
    """The outcome of one sign-in step: the officer on success, otherwise why not."""

    officer_id: int | None = None
    refusal: Refusal | None = None
    wait: timedelta | None = None
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.refusal is None and self.officer_id is not None


def normalise_username(raw: str) -> str:
    return unicodedata.normalize("NFKC", raw).strip().lower()


def _clean_display_name(raw: str) -> str:
    name = " ".join(unicodedata.normalize("NFC", raw).split())
    if not name or len(name) > MAX_DISPLAY_NAME_LENGTH:
        raise AccountError(N_("A display name has 1 to 100 characters."))
    if any(unicodedata.category(char).startswith("C") for char in name):
        raise AccountError(N_("A display name cannot contain control characters."))
    return name


def new_one_time_password() -> str:
    return "".join(secrets.choice(_ONE_TIME_ALPHABET) for _ in range(ONE_TIME_PASSWORD_LENGTH))


def _officer_actor(actor_id: int | None) -> dict[str, Any]:
    if actor_id is None:
        return {"actor_type": "system", "actor_id": None}
    return {"actor_type": "officer", "actor_id": str(actor_id)}


def _store_totp_secret(cipher: FieldCipher, officer: Officer, secret: bytes) -> None:
    officer.totp_secret_enc = cipher.encrypt(
        second_factor.encode_secret(secret),
        table="officers",
        column="totp_secret",
        row_id=officer.id,
    )


def _load_totp_secret(cipher: FieldCipher, officer: Officer) -> bytes | None:
    if officer.totp_secret_enc is None:
        return None
    text = cipher.decrypt(
        officer.totp_secret_enc, table="officers", column="totp_secret", row_id=officer.id
    )
    return second_factor.decode_secret(text)


async def create_officer(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    username: str,
    display_name: str,
    role: Role | str,
    created_by: int | None = None,
    now: datetime | None = None,
) -> NewOfficer:
    """A new account that must change its one-time password and confirm TOTP at first sign-in."""
    name = normalise_username(username)
    if not USERNAME_PATTERN.fullmatch(name):
        raise AccountError(
            N_("A username has 3 to 64 characters: letters, digits, dot, dash, underscore.")
        )
    shown_name = _clean_display_name(display_name)
    try:
        officer_role = Role(role)
    except ValueError:
        raise AccountError(N_("Unknown role.")) from None
    taken = await session.scalar(select(func.count()).where(Officer.username == name))
    if taken:
        raise AccountError(N_("That username is already taken."))
    one_time_password = new_one_time_password()
    officer = Officer(
        username=name,
        display_name=shown_name,
        role=officer_role.value,
        password_hash=await passwords.hash_password(one_time_password),
        must_change_password=True,
        totp_confirmed=False,
        disabled=False,
        failed_attempts=0,
        locale="en",
    )
    if now is not None:
        officer.created_at = now
    session.add(officer)
    await session.flush()
    secret = second_factor.new_secret()
    _store_totp_secret(cipher, officer, secret)
    await record(
        session,
        now=now,
        **_officer_actor(created_by),
        action="officer.created",
        subject_type="officer",
        subject_id=str(officer.id),
        details={"username": name, "role": officer_role.value},
    )
    return NewOfficer(
        officer=officer,
        one_time_password=one_time_password,
        provisioning_uri=second_factor.provisioning_uri(secret, name),
    )


async def _locked_officer(session: AsyncSession, **criteria: Any) -> Officer | None:
    """The officer row, locked for this transaction so concurrent attempts count in turn."""
    query = select(Officer).filter_by(**criteria).with_for_update()
    return (await session.scalars(query.execution_options(populate_existing=True))).one_or_none()


def _account_wait(officer: Officer, now: datetime) -> SignInStep | None:
    if throttling.is_locked_out(officer.failed_attempts):
        return SignInStep(refusal=Refusal.LOCKED)
    if officer.locked_until is not None and officer.locked_until > now:
        return SignInStep(refusal=Refusal.THROTTLED, wait=officer.locked_until - now)
    return None


async def _refuse(
    session: AsyncSession,
    *,
    officer_id: int | None,
    client_address: str,
    step: str,
    reason: str,
    outcome: SignInStep,
    now: datetime,
) -> SignInStep:
    await record(
        session,
        now=now,
        actor_type="officer" if officer_id is not None else "anonymous",
        actor_id=str(officer_id) if officer_id is not None else None,
        action="officer.sign_in_refused",
        subject_type="officer" if officer_id is not None else None,
        subject_id=str(officer_id) if officer_id is not None else None,
        details={"step": step, "reason": reason, "address": client_address},
    )
    return outcome


async def _count_failure(
    session: AsyncSession,
    officer: Officer | None,
    *,
    client_address: str,
    step: str,
    reason: str,
    now: datetime,
) -> SignInStep:
    await throttling.record_address_failure(session, client_address, now)
    officer_id = officer.id if officer is not None else None
    await record(
        session,
        now=now,
        actor_type="officer" if officer_id is not None else "anonymous",
        actor_id=str(officer_id) if officer_id is not None else None,
        action="officer.sign_in_failed",
        subject_type="officer" if officer_id is not None else None,
        subject_id=str(officer_id) if officer_id is not None else None,
        details={"step": step, "reason": reason, "address": client_address},
    )
    if officer is None:
        return SignInStep(refusal=Refusal.WRONG_CREDENTIALS)
    officer.failed_attempts += 1
    officer.locked_until = throttling.next_allowed(officer.failed_attempts, now)
    if throttling.is_locked_out(officer.failed_attempts):
        await record(
            session,
            now=now,
            actor_type="system",
            actor_id=None,
            action="officer.locked_out",
            subject_type="officer",
            subject_id=str(officer.id),
            details={"failures": officer.failed_attempts},
        )
        return SignInStep(refusal=Refusal.LOCKED)
    return SignInStep(refusal=Refusal.WRONG_CREDENTIALS)


async def check_password(
    session: AsyncSession,
    *,
    username: str,
    password: str,
    client_address: str,
    now: datetime,
) -> SignInStep:
    """First step: the password. Success opens only the second-factor step."""
    wait = await throttling.address_wait(session, client_address, now)
    if wait is not None:
        return await _refuse(
            session,
            officer_id=None,
            client_address=client_address,
            step="password",
            reason="address_throttled",
            outcome=SignInStep(refusal=Refusal.THROTTLED, wait=wait),
            now=now,
        )
    name = normalise_username(username)
    officer = await _locked_officer(session, username=name) if name else None
    if officer is None:
        await passwords.spend_verification_time(password)
        return await _count_failure(
            session, None, client_address=client_address, step="password", reason="unknown", now=now
        )
    refused = _account_wait(officer, now)
    if refused is not None:
        return await _refuse(
            session,
            officer_id=officer.id,
            client_address=client_address,
            step="password",
            reason=refused.refusal or "",
            outcome=refused,
            now=now,
        )
    matches = await passwords.verify_password(password, officer.password_hash)
    if not matches or officer.disabled:
        reason = "disabled" if matches else "wrong_password"
        return await _count_failure(
            session, officer, client_address=client_address, step="password", reason=reason, now=now
        )
    await record(
        session,
        now=now,
        actor_type="officer",
        actor_id=str(officer.id),
        action="officer.password_accepted",
        subject_type="officer",
        subject_id=str(officer.id),
        details={"address": client_address},
    )
    return SignInStep(officer_id=officer.id)


async def new_password_problem(
    officer: Officer, new_password: str, confirmation: str
) -> str | None:
    """Why `new_password` cannot replace the current one, as a message id, or None."""
    if len(new_password) < passwords.MIN_PASSWORD_LENGTH:
        return N_("The new password needs at least 12 characters.")
    if len(new_password) > passwords.MAX_PASSWORD_LENGTH:
        return N_("The new password is too long.")
    if not secrets.compare_digest(new_password.encode(), confirmation.encode()):
        return N_("The two new passwords differ.")
    if await passwords.verify_password(new_password, officer.password_hash):
        return N_("Choose a password different from the one-time password.")
    return None


async def check_second_factor(
    session: AsyncSession,
    cipher: FieldCipher,
    *,
    officer_id: int,
    code: str,
    client_address: str,
    now: datetime,
    new_password: str = "",
    new_password_confirmation: str = "",
) -> SignInStep:
    """Second step: a TOTP code never used before (and, at first sign-in, a new password)."""
    wait = await throttling.address_wait(session, client_address, now)
    if wait is not None:
        return await _refuse(
            session,
            officer_id=officer_id,
            client_address=client_address,
            step="totp",
            reason="address_throttled",
            outcome=SignInStep(refusal=Refusal.THROTTLED, wait=wait),
            now=now,
        )
    officer = await _locked_officer(session, id=officer_id)
    if officer is None or officer.disabled:
        return await _count_failure(
            session, officer, client_address=client_address, step="totp", reason="disabled", now=now
        )
    refused = _account_wait(officer, now)
    if refused is not None:
        return await _refuse(
            session,
            officer_id=officer.id,
            client_address=client_address,
            step="totp",
            reason=refused.refusal or "",
            outcome=refused,
            now=now,
        )
    first_sign_in = officer.must_change_password
    if first_sign_in:
        problem = await new_password_problem(officer, new_password, new_password_confirmation)
        if problem is not None:
            return SignInStep(refusal=Refusal.NEW_PASSWORD_INVALID, problem=problem)
    secret = _load_totp_secret(cipher, officer)
    counter = second_factor.matching_counter(secret, code, now) if secret else None
    if counter is None or (
        officer.totp_last_counter is not None and counter <= officer.totp_last_counter
    ):
        reason = "wrong_code" if counter is None else "replayed_code"
        return await _count_failure(
            session, officer, client_address=client_address, step="totp", reason=reason, now=now
        )
    officer.totp_last_counter = counter
    officer.failed_attempts = 0
    officer.locked_until = None
    await throttling.clear_address(session, client_address)
    events = ["officer.signed_in"]
    if not officer.totp_confirmed:
        officer.totp_confirmed = True
        events.append("officer.totp_confirmed")
    if first_sign_in:
        officer.password_hash = await passwords.hash_password(new_password)
        officer.must_change_password = False
        events.append("officer.password_changed")
    for action in events:
        await record(
            session,
            now=now,
            actor_type="officer",
            actor_id=str(officer.id),
            action=action,
            subject_type="officer",
            subject_id=str(officer.id),
            details={"address": client_address} if action == "officer.signed_in" else {},
        )
    return SignInStep(officer_id=officer.id)


async def list_officers(session: AsyncSession) -> list[Officer]:
    return list((await session.scalars(select(Officer).order_by(Officer.username))).all())


async def _target(session: AsyncSession, officer_id: int) -> Officer:
    officer = await _locked_officer(session, id=officer_id)
    if officer is None:
        raise OfficerNotFoundError
    return officer


async def _record_admin(
    session: AsyncSession,
    *,
    actor_id: int,
    action: str,
    officer: Officer,
    now: datetime,
    **details: Any,
) -> None:
    await record(
        session,
        now=now,
        actor_type="officer",
        actor_id=str(actor_id),
        action=action,
        subject_type="officer",
        subject_id=str(officer.id),
        details=details,
    )


async def change_role(
    session: AsyncSession, *, officer_id: int, role: Role | str, actor_id: int, now: datetime
) -> Officer:
    try:
        new_role = Role(role)
    except ValueError:
        raise AccountError(N_("Unknown role.")) from None
    if officer_id == actor_id:
        raise AccountError(N_("You cannot change your own role."))
    officer = await _target(session, officer_id)
    previous = officer.role
    if previous != new_role.value:
        officer.role = new_role.value
        await _record_admin(
            session,
            now=now,
            actor_id=actor_id,
            action="officer.role_changed",
            officer=officer,
            previous=previous,
            role=new_role.value,
        )
    return officer


async def set_disabled(
    session: AsyncSession, *, officer_id: int, disabled: bool, actor_id: int, now: datetime
) -> Officer:
    """Disable (ending every session of theirs at once) or enable an account."""
    if officer_id == actor_id:
        raise AccountError(N_("You cannot disable your own account."))
    officer = await _target(session, officer_id)
    if officer.disabled != disabled:
        officer.disabled = disabled
        ended = await end_officer_sessions(session, officer.id, now=now) if disabled else 0
        action = "officer.disabled" if disabled else "officer.enabled"
        await _record_admin(
            session,
            now=now,
            actor_id=actor_id,
            action=action,
            officer=officer,
            sessions_ended=ended,
        )
    return officer


async def unlock(
    session: AsyncSession, *, officer_id: int, actor_id: int, now: datetime
) -> Officer:
    officer = await _target(session, officer_id)
    previous = officer.failed_attempts
    officer.failed_attempts = 0
    officer.locked_until = None
    await _record_admin(
        session,
        now=now,
        actor_id=actor_id,
        action="officer.unlocked",
        officer=officer,
        failures=previous,
    )
    return officer


async def reset_second_factor(
    session: AsyncSession, cipher: FieldCipher, *, officer_id: int, actor_id: int, now: datetime
) -> str:
    """A new TOTP secret (to hand over) and the old one dead; returns its provisioning URI."""
    officer = await _target(session, officer_id)
    secret = second_factor.new_secret()
    _store_totp_secret(cipher, officer, secret)
    officer.totp_confirmed = False
    officer.totp_last_counter = None
    ended = await end_officer_sessions(session, officer.id, now=now)
    await _record_admin(
        session,
        now=now,
        actor_id=actor_id,
        action="officer.totp_reset",
        officer=officer,
        sessions_ended=ended,
    )
    return second_factor.provisioning_uri(secret, officer.username)


async def set_locale(session: AsyncSession, *, officer_id: int, locale: str, now: datetime) -> None:
    if locale not in SUPPORTED_LOCALES:
        raise AccountError(N_("Unknown language."))
    officer = await _target(session, officer_id)
    if officer.locale != locale:
        officer.locale = locale
        await _record_admin(
            session,
            now=now,
            actor_id=officer_id,
            action="officer.locale_changed",
            officer=officer,
            locale=locale,
        )


async def count_officers(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Officer)) or 0)
