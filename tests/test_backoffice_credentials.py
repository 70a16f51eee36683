"""Password hashes (Argon2id) and TOTP codes, and the stored form of both."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from sqlalchemy import select

from backoffice import accounts, passwords, second_factor, throttling
from lending.workflow import Role
from storage.database import Database
from storage.models import AuditEvent, Officer
from tests.test_backoffice_harness import cipher

MOMENT = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def test_password_hash_is_argon2id_with_the_agreed_cost_and_not_the_password() -> None:
    encoded = passwords.hash_password_blocking("correct horse battery staple")

    assert encoded.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert "correct horse" not in encoded
    _, _, _, _, salt, digest = encoded.split("$")
    assert len(base64.b64decode(salt + "==")) == 16
    assert len(base64.b64decode(digest + "=")) == 32
    # The standard PHC form: cryptography's own verifier reads it too.
    Argon2id.verify_phc_encoded(b"correct horse battery staple", encoded)


def test_password_verification() -> None:
    encoded = passwords.hash_password_blocking("correct horse battery staple")
    assert passwords.verify_password_blocking("correct horse battery staple", encoded)
    assert not passwords.verify_password_blocking("correct horse battery stapl", encoded)
    assert not passwords.verify_password_blocking("", encoded)
    assert passwords.hash_password_blocking("same") != passwords.hash_password_blocking("same")


def test_tampered_or_foreign_hashes_never_verify() -> None:
    encoded = passwords.hash_password_blocking("pw")
    huge_memory = encoded.replace("m=65536", "m=99999999")
    assert not passwords.verify_password_blocking("pw", huge_memory)
    assert not passwords.verify_password_blocking("pw", encoded.replace("argon2id", "argon2i"))
    assert not passwords.verify_password_blocking("pw", "pw")
    assert not passwords.verify_password_blocking("pw", "")


def test_totp_code_matches_within_one_step_either_side_only() -> None:
    secret = second_factor.new_secret()
    now = second_factor.counter_at(MOMENT)
    for offset in (-1, 0, 1):
        code = second_factor.code_for_counter(secret, now + offset)
        assert second_factor.matching_counter(secret, code, MOMENT) == now + offset
    for offset in (-3, -2, 2, 3):
        code = second_factor.code_for_counter(secret, now + offset)
        if code not in {second_factor.code_for_counter(secret, now + d) for d in (-1, 0, 1)}:
            assert second_factor.matching_counter(secret, code, MOMENT) is None
    assert second_factor.matching_counter(secret, "12345", MOMENT) is None
    assert second_factor.matching_counter(secret, "１２３４５６", MOMENT) is None


def test_provisioning_uri_and_qr_codes() -> None:
    secret = second_factor.new_secret()
    uri = second_factor.provisioning_uri(secret, "li.na")
    assert uri.startswith("otpauth://totp/")
    assert "issuer=SME+Loan+Assistant" in uri
    assert f"secret={second_factor.encode_secret(secret).rstrip('=')}" in uri
    assert "█" in second_factor.terminal_qr(uri) or "▀" in second_factor.terminal_qr(uri)
    assert second_factor.qr_data_uri(uri).startswith("data:image/svg+xml")


def test_delays_grow_from_the_fourth_attempt_and_are_capped() -> None:
    delays = [throttling.delay_after(n).total_seconds() for n in range(1, 9)]
    assert delays == [0, 0, 1, 2, 4, 8, 16, 32]
    assert throttling.delay_after(50) == throttling.MAX_DELAY
    assert throttling.delay_after(10_000) == timedelta(minutes=15)
    assert not throttling.is_locked_out(9) and throttling.is_locked_out(10)


async def test_create_officer_stores_secrets_only_in_protected_form(database: Database) -> None:
    async with database.unit_of_work() as session:
        created = await accounts.create_officer(
            session, cipher(), username="Li.Na", display_name="Li Na", role=Role.APPROVER
        )
    async with database.unit_of_work() as session:
        officer = (await session.scalars(select(Officer))).one()
        events = (await session.scalars(select(AuditEvent))).all()

    assert officer.username == "li.na" and officer.role == "approver"
    assert officer.must_change_password and not officer.totp_confirmed
    assert passwords.verify_password_blocking(created.one_time_password, officer.password_hash)
    assert created.one_time_password not in officer.password_hash
    assert officer.totp_secret_enc is not None
    secret = created.provisioning_uri.split("secret=")[1].split("&")[0]
    assert secret.encode() not in officer.totp_secret_enc
    assert len(created.one_time_password) >= 16
    assert created.one_time_password not in repr(created)
    assert [event.action for event in events] == ["officer.created"]
    assert created.one_time_password not in str(events[0].details)


async def test_create_officer_refuses_bad_names_roles_and_duplicates(database: Database) -> None:
    bad: list[dict[str, str]] = [
        {"username": "x", "display_name": "X", "role": "officer"},
        {"username": "ok.name", "display_name": "X", "role": "superuser"},
        {"username": "ok.name", "display_name": "", "role": "officer"},
        {"username": "ok.name", "display_name": "bell\x07", "role": "officer"},
        {"username": "<script>", "display_name": "X", "role": "officer"},
    ]
    for fields in bad:
        async with database.unit_of_work() as session:
            try:
                await accounts.create_officer(
                    session,
                    cipher(),
                    username=fields["username"],
                    display_name=fields["display_name"],
                    role=fields["role"],
                )
            except accounts.AccountError:
                continue
            raise AssertionError(f"accepted {fields!r}")
    async with database.unit_of_work() as session:
        await accounts.create_officer(
            session, cipher(), username="li.na", display_name="Li", role="officer"
        )
    async with database.unit_of_work() as session:
        try:
            await accounts.create_officer(
                session, cipher(), username="LI.NA", display_name="Li", role="officer"
            )
        except accounts.AccountError as error:
            assert "taken" in error.message
        else:
            raise AssertionError("a duplicate username was accepted")
