"""`keys rotate`: documents and fields move to the new primary key, resumably, and only once."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from storage.audit import verify_chain
from storage.database import Database
from storage.fields import FieldCipher
from storage.keyring import Keyring, MasterKey
from storage.models import Applicant, Application, AuditEvent, Document, Officer
from storage.rotation import RotationReport, rotate_keys
from storage.vault import Vault

K1 = MasterKey("k1", bytes(range(32)))
K2 = MasterKey("k2", bytes(range(50, 82)))
PHONES = ["13800138000", "13900139000"]
ID_NUMBERS = ["11010519491231002X", "110101199003071233"]
TOTP_SECRET = "JBSWY3DPEHPK3PXP"


@dataclass
class Sample:
    documents: dict[str, bytes]  # storage name → plaintext
    application_ids: list[int]
    officer_id: int

    @property
    def field_count(self) -> int:
        return 3 * len(self.application_ids) + 1


def record_for(application_id: int) -> str:
    return f"application:{application_id}"


async def seed(database: Database, files_dir: Path) -> Sample:
    """Two applications with every C2 field, three documents and an officer, all under k1."""
    keyring = Keyring([K1])
    cipher, vault = FieldCipher(keyring), Vault(files_dir, keyring)
    documents: dict[str, bytes] = {}
    application_ids = []
    async with database.unit_of_work() as session:
        applicant = Applicant(telegram_user_id=9, chat_id=9)
        session.add(applicant)
        await session.flush()
        for number, (phone, id_number) in enumerate(zip(PHONES, ID_NUMBERS, strict=True)):
            application = Application(applicant_id=applicant.id, company_name=f"Firm {number}")
            session.add(application)
            await session.flush()
            row = application.id
            application.phone_enc = cipher.encrypt(
                phone, table="applications", column="phone", row_id=row
            )
            application.phone_index = cipher.blind_index(phone, column="phone")
            application.owner_id_number_enc = cipher.encrypt(
                id_number, table="applications", column="owner_id_number", row_id=row
            )
            application.owner_id_number_index = cipher.blind_index(
                id_number, column="owner_id_number"
            )
            application.annual_revenue_enc = cipher.encrypt_decimal(
                Decimal("880000.00") + number,
                table="applications",
                column="annual_revenue",
                row_id=row,
            )
            application_ids.append(row)
            for doc_type in (
                ("business_licence",) if number else ("business_licence", "tax_certificate")
            ):
                content = f"{doc_type} of application {row}".encode() * 5000
                stored = await vault.store_bytes(record_for(row), content)
                documents[stored.storage_name] = content
                session.add(
                    Document(
                        application_id=row,
                        doc_type=doc_type,
                        storage_name=stored.storage_name,
                        content_type="application/pdf",
                        size=stored.size,
                        key_id=stored.key_id,
                    )
                )
        officer = Officer(
            username="li.wei", display_name="Li Wei", role="officer", password_hash="x"
        )
        session.add(officer)
        await session.flush()
        officer.totp_secret_enc = cipher.encrypt(
            TOTP_SECRET, table="officers", column="totp_secret", row_id=officer.id
        )
    return Sample(documents, application_ids, officer.id)


async def assert_everything_readable_with_only(
    key: MasterKey, database: Database, files_dir: Path, sample: Sample
) -> None:
    keyring = Keyring([key])
    cipher, vault = FieldCipher(keyring), Vault(files_dir, keyring)
    async with database.unit_of_work() as session:
        for document in (await session.scalars(select(Document))).all():
            assert document.key_id == key.key_id
            plaintext = await vault.read_all(
                document.storage_name, record_for(document.application_id)
            )
            assert plaintext == sample.documents[document.storage_name]
        for phone, id_number, row in zip(PHONES, ID_NUMBERS, sample.application_ids, strict=True):
            by_phone = select(Application).where(
                Application.phone_index == cipher.blind_index(phone, column="phone")
            )
            application = (await session.scalars(by_phone)).one()
            assert application.id == row
            by_id = select(Application.id).where(
                Application.owner_id_number_index
                == cipher.blind_index(id_number.lower(), column="owner_id_number")
            )
            assert (await session.scalars(by_id)).one() == row
            assert application.phone_enc and application.owner_id_number_enc
            assert application.annual_revenue_enc is not None
            assert (
                cipher.decrypt(
                    application.phone_enc, table="applications", column="phone", row_id=row
                )
                == phone
            )
            assert (
                cipher.decrypt(
                    application.owner_id_number_enc,
                    table="applications",
                    column="owner_id_number",
                    row_id=row,
                )
                == id_number
            )
            assert cipher.decrypt_decimal(
                application.annual_revenue_enc,
                table="applications",
                column="annual_revenue",
                row_id=row,
            ) in (Decimal("880000.00"), Decimal("880001.00"))
        officer = await session.get(Officer, sample.officer_id)
        assert officer is not None and officer.totp_secret_enc is not None
        assert (
            cipher.decrypt(
                officer.totp_secret_enc, table="officers", column="totp_secret", row_id=officer.id
            )
            == TOTP_SECRET
        )


async def test_rotation_moves_everything_so_the_old_key_can_be_dropped(
    database: Database, tmp_path: Path
) -> None:
    files_dir = tmp_path / "files"
    sample = await seed(database, files_dir)

    report = await rotate_keys(database, Keyring([K2, K1]), files_dir)

    assert (report.documents, report.fields, report.left) == (3, sample.field_count, 0)
    assert report.describe() == "rotated 3 documents and 7 fields to key 'k2'; 0 left"
    await assert_everything_readable_with_only(K2, database, files_dir, sample)
    async with database.unit_of_work() as session:
        events = (
            await session.scalars(select(AuditEvent).where(AuditEvent.action == "keys.rotated"))
        ).all()
    assert {event.subject_type for event in events} == {"documents", "applications", "officers"}
    assert sum(event.details["rotated"] for event in events) == 3 + sample.field_count
    assert (await verify_chain(database)).ok


async def test_an_interrupted_rotation_resumes_where_it_stopped(
    database: Database, tmp_path: Path
) -> None:
    files_dir = tmp_path / "files"
    sample = await seed(database, files_dir)
    keyring = Keyring([K2, K1])

    class Interrupted(Exception):
        pass

    def stop_after_first_batch(report: RotationReport) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        await rotate_keys(
            database, keyring, files_dir, batch_size=1, progress=stop_after_first_batch
        )

    vault = Vault(files_dir, keyring)
    async with database.unit_of_work() as session:
        key_ids = (await session.scalars(select(Document.key_id).order_by(Document.id))).all()
        names = (await session.scalars(select(Document.storage_name).order_by(Document.id))).all()
    assert key_ids == ["k2", "k1", "k1"]
    assert [vault.key_id_of(name) for name in names] == ["k2", "k1", "k1"]

    resumed = await rotate_keys(database, keyring, files_dir, batch_size=1)

    assert (resumed.documents, resumed.fields, resumed.left) == (2, sample.field_count, 0)
    await assert_everything_readable_with_only(K2, database, files_dir, sample)


async def test_rotating_again_changes_nothing(database: Database, tmp_path: Path) -> None:
    files_dir = tmp_path / "files"
    await seed(database, files_dir)
    keyring = Keyring([K2, K1])
    await rotate_keys(database, keyring, files_dir, batch_size=2)
    files_before = {path.name: path.read_bytes() for path in files_dir.iterdir()}
    async with database.unit_of_work() as session:
        blobs_before = (
            await session.execute(select(Application.phone_enc, Application.phone_index))
        ).all()
        events_before = await session.scalar(select(func.count(AuditEvent.seq)))

    again = await rotate_keys(database, keyring, files_dir, batch_size=2)

    assert again.describe() == "rotated 0 documents and 0 fields to key 'k2'; 0 left"
    assert {path.name: path.read_bytes() for path in files_dir.iterdir()} == files_before
    async with database.unit_of_work() as session:
        assert (
            await session.execute(select(Application.phone_enc, Application.phone_index))
        ).all() == blobs_before
        assert await session.scalar(select(func.count(AuditEvent.seq))) == events_before


async def test_a_missing_document_file_is_reported_and_the_rest_still_rotate(
    database: Database, tmp_path: Path
) -> None:
    files_dir = tmp_path / "files"
    sample = await seed(database, files_dir)
    lost = next(iter(sample.documents))
    (files_dir / lost).unlink()

    report = await rotate_keys(database, Keyring([K2, K1]), files_dir)

    assert (report.documents, report.fields, report.documents_left) == (2, sample.field_count, 1)
    summary, problem = report.describe().splitlines()
    assert summary == "rotated 2 documents and 7 fields to key 'k2'; 1 left"
    assert f"document {lost} does not exist" in problem


async def test_thread_messages_are_rotated_too(database: Database, data_dir: Path) -> None:
    from storage.casework import MESSAGE_COLUMN, MESSAGE_TABLE, message_text
    from storage.models import ApplicationMessage

    sample = await seed(database, data_dir / "files")
    old = FieldCipher(Keyring([K1]))
    async with database.unit_of_work() as session:
        message = ApplicationMessage(
            application_id=sample.application_ids[0], direction="in", requested_documents=[]
        )
        session.add(message)
        await session.flush()
        message.body_enc = old.encrypt(
            "call me on 13800138000", table=MESSAGE_TABLE, column=MESSAGE_COLUMN, row_id=message.id
        )
    await rotate_keys(database, Keyring([K2, K1]), data_dir / "files")
    only_new = FieldCipher(Keyring([K2]))
    async with database.unit_of_work() as session:
        stored = (await session.scalars(select(ApplicationMessage))).one()
        assert only_new.key_id_of(stored.body_enc or b"") == "k2"
        assert message_text(only_new, stored) == "call me on 13800138000"
