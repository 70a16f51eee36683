"""C2 field encryption and blind indexes, down to what a raw dump of the database shows."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from storage.database import Database
from storage.fields import (
    FieldCipher,
    FieldError,
    FieldIntegrityError,
    UnsupportedFieldFormatError,
    normalise_for_index,
)
from storage.keyring import Keyring, KeyringError, MasterKey
from storage.models import Applicant, Application
from storage.vault import Vault

K1 = MasterKey("k1", bytes(range(32)))
K2 = MasterKey("k2", bytes(range(50, 82)))
ID_NUMBER = "11010519491231002X"  # a well-formed sample (valid check character)
PHONE = "13800138000"
COMPANY = "Marker Trading Co 7f3a"
WHERE: dict[str, Any] = {"table": "applications", "column": "phone", "row_id": 17}


@pytest.fixture
def cipher() -> FieldCipher:
    return FieldCipher(Keyring([K1]))


@given(value=st.text(max_size=200))
@settings(max_examples=50)
def test_text_round_trips(value: str) -> None:
    cipher = FieldCipher(Keyring([K1]))
    blob = cipher.encrypt(value, **WHERE)
    assert cipher.decrypt(blob, **WHERE) == value
    assert cipher.key_id_of(blob) == "k1"


def test_money_round_trips_exactly(cipher: FieldCipher) -> None:
    for amount in (Decimal("0.00"), Decimal("1250000.10"), Decimal("-3.5"), Decimal("1E+6")):
        blob = cipher.encrypt_decimal(
            amount, table="applications", column="annual_revenue", row_id=1
        )
        back = cipher.decrypt_decimal(blob, table="applications", column="annual_revenue", row_id=1)
        assert back == amount and str(back) == str(amount)
    with pytest.raises(TypeError):
        cipher.encrypt_decimal(
            Decimal("NaN"), table="applications", column="annual_revenue", row_id=1
        )


def test_equal_values_encrypt_differently(cipher: FieldCipher) -> None:
    assert cipher.encrypt(PHONE, **WHERE) != cipher.encrypt(PHONE, **WHERE)


@pytest.mark.parametrize(
    ("table", "column", "row_id"),
    [
        ("officers", "phone", 17),
        ("applications", "owner_id_number", 17),
        ("applications", "phone", 18),
        ("applications", "phone", -17),
    ],
)
def test_a_value_moved_to_another_table_column_or_row_is_refused(
    cipher: FieldCipher, table: str, column: str, row_id: int
) -> None:
    blob = cipher.encrypt(PHONE, **WHERE)
    with pytest.raises(FieldIntegrityError, match="failed its integrity check") as raised:
        cipher.decrypt(blob, table=table, column=column, row_id=row_id)
    assert PHONE not in str(raised.value)


@given(position=st.integers(min_value=0, max_value=42), flip=st.integers(1, 255))
@settings(max_examples=60)
def test_any_flipped_byte_is_refused(position: int, flip: int) -> None:
    cipher = FieldCipher(Keyring([K1]))
    blob = bytearray(cipher.encrypt(PHONE, **WHERE))
    assert len(blob) == 43  # version, key id, nonce, 11 bytes, tag
    blob[position] ^= flip
    with pytest.raises((FieldError, KeyringError)):
        cipher.decrypt(bytes(blob), **WHERE)


def test_an_unknown_format_version_is_named(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(PHONE, **WHERE)
    with pytest.raises(UnsupportedFieldFormatError, match="version 9"):
        cipher.decrypt(bytes([9]) + blob[1:], **WHERE)


def test_a_truncated_blob_is_refused(cipher: FieldCipher) -> None:
    blob = cipher.encrypt(PHONE, **WHERE)
    for cut in (0, 1, 3, 16, len(blob) - 1):
        with pytest.raises(FieldError):
            cipher.decrypt(blob[:cut], **WHERE)


def test_a_row_without_an_id_cannot_be_encrypted(cipher: FieldCipher) -> None:
    with pytest.raises(TypeError, match="flush"):
        cipher.encrypt(PHONE, table="applications", column="phone", row_id=None)  # type: ignore[arg-type]


def test_fields_under_an_old_key_still_decrypt_and_new_ones_use_the_primary() -> None:
    old = FieldCipher(Keyring([K1])).encrypt(PHONE, **WHERE)
    rotated = FieldCipher(Keyring([K2, K1]))
    assert rotated.decrypt(old, **WHERE) == PHONE
    assert rotated.key_id_of(rotated.encrypt(PHONE, **WHERE)) == "k2"
    assert rotated.key_id_of(rotated.reencrypt(old, **WHERE)) == "k2"
    with pytest.raises(KeyringError, match="master key 'k1' is not configured"):
        FieldCipher(Keyring([K2])).decrypt(old, **WHERE)


# -- blind indexes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "138 0013 8000",
        "+8613800138000",
        "+86 138-0013-8000",
        "0086 13800138000",
        "１３８００１３８０００",
    ],
)
def test_phone_spellings_share_one_blind_index(cipher: FieldCipher, typed: str) -> None:
    assert normalise_for_index(typed) == PHONE
    assert cipher.blind_index(typed, column="phone") == cipher.blind_index(PHONE, column="phone")


def test_id_numbers_match_whatever_the_case_of_the_check_character(cipher: FieldCipher) -> None:
    lower = ID_NUMBER.lower()
    assert cipher.blind_index(lower, column="owner_id_number") == cipher.blind_index(
        ID_NUMBER, column="owner_id_number"
    )


def test_blind_indexes_are_keyed_and_column_bound(cipher: FieldCipher) -> None:
    index = cipher.blind_index(PHONE, column="phone")
    assert len(index) == 32
    assert index != hashlib.sha256(PHONE.encode()).digest()
    assert index != cipher.blind_index(PHONE, column="owner_id_number")
    assert index != cipher.blind_index("13800138001", column="phone")
    assert index != FieldCipher(Keyring([K2])).blind_index(PHONE, column="phone")


def test_candidates_cover_every_key_primary_first() -> None:
    both = FieldCipher(Keyring([K2, K1]))
    assert both.blind_index_candidates(PHONE, column="phone") == [
        FieldCipher(Keyring([K2])).blind_index(PHONE, column="phone"),
        FieldCipher(Keyring([K1])).blind_index(PHONE, column="phone"),
    ]


# -- raw dumps -------------------------------------------------------------------------


def forbidden_forms(value: str) -> list[bytes]:
    """Ways a value could show up in a dump: UTF-8, UTF-16 either way round, hex text."""
    utf8 = value.encode()
    return [
        utf8,
        value.encode("utf-16-le"),
        value.encode("utf-16-be"),
        utf8.hex().encode(),
        utf8.hex().upper().encode(),
    ]


async def insert_sample_application(database: Database, cipher: FieldCipher) -> int:
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=501, chat_id=501)
        session.add(applicant)
        await session.flush()
        application = Application(applicant_id=applicant.id, company_name=COMPANY)
        session.add(application)
        await session.flush()
        row_id = application.id
        application.owner_id_number_enc = cipher.encrypt(
            ID_NUMBER, table="applications", column="owner_id_number", row_id=row_id
        )
        application.owner_id_number_index = cipher.blind_index(ID_NUMBER, column="owner_id_number")
        application.phone_enc = cipher.encrypt(
            PHONE, table="applications", column="phone", row_id=row_id
        )
        application.phone_index = cipher.blind_index(PHONE, column="phone")
        application.annual_revenue_enc = cipher.encrypt_decimal(
            Decimal("5200000.00"), table="applications", column="annual_revenue", row_id=row_id
        )
        return row_id


async def raw_dump(database: Database) -> bytes:
    if database.is_sqlite:
        return await asyncio.to_thread(_sqlite_files, Path(str(database.url.database)))
    async with database.unit_of_work() as session:
        schema = (await session.execute(text("SHOW search_path"))).scalar_one().strip('"')
    dump = await asyncio.to_thread(
        subprocess.run,
        ["pg_dump", "-h", "127.0.0.1", "-U", "postgres", "-n", schema, "test"],
        capture_output=True,
        check=True,
    )
    return dump.stdout


def _sqlite_files(path: Path) -> bytes:
    """The database file and its write-ahead log, where fresh commits live until checkpoint."""
    wal = path.with_name(path.name + "-wal")
    return path.read_bytes() + (wal.read_bytes() if wal.exists() else b"")


async def test_a_raw_database_dump_shows_no_id_number_or_phone(
    database: Database, cipher: FieldCipher
) -> None:
    application_id = await insert_sample_application(database, cipher)

    dump = await raw_dump(database)

    assert COMPANY.encode() in dump  # the dump does contain the row
    for value in (ID_NUMBER, PHONE):
        for form in forbidden_forms(value):
            assert form not in dump, f"{value} found in the dump"
    async with database.unit_of_work() as session:
        query = select(Application).where(
            Application.phone_index == cipher.blind_index("138-0013-8000", column="phone")
        )
        found = (await session.scalars(query)).one()
    assert found.id == application_id
    assert found.phone_enc is not None
    assert (
        cipher.decrypt(found.phone_enc, table="applications", column="phone", row_id=found.id)
        == PHONE
    )


async def test_the_file_store_shows_no_id_number_or_phone(tmp_path: Path) -> None:
    vault = Vault(tmp_path / "files", Keyring([K1]))
    scan = f"Resident ID {ID_NUMBER}, mobile {PHONE}".encode() * 100
    await vault.store_bytes("application:1", scan)
    await vault.store_bytes("application:1", scan.decode().encode("utf-16-le"))
    files = list((tmp_path / "files").iterdir())
    assert len(files) == 2
    for path in files:
        content = path.read_bytes()
        for value in (ID_NUMBER, PHONE):
            for form in forbidden_forms(value):
                assert form not in content
