"""The document vault: round trips, tamper and truncation detection, rotation, atomic writes."""

from __future__ import annotations

import asyncio
import base64
import os
import random
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import aclosing
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from storage.keyring import Keyring, KeyringError, MasterKey
from storage.vault import (
    DocumentNotFoundError,
    MissingKeyError,
    UnsupportedFormatError,
    Vault,
    VaultError,
    VaultIntegrityError,
    VaultSizeError,
)

SEGMENT = 64 * 1024
SEALED = SEGMENT + 16
K1 = MasterKey("k1", bytes(range(32)))
K2 = MasterKey("k2", bytes(range(50, 82)))
# magic 7 + version 1 + algorithm 1 + nonce prefix 7 + len 1 + "k1" + len 1 + wrapped key 40
HEADER = 7 + 1 + 1 + 7 + 1 + 2 + 1 + 40
RECORD = "application:42"
STORAGE_NAME = re.compile(r"[0-9a-f]{32}")
EXAMPLE_SIZE = 2 * SEGMENT + 1000
EXAMPLE_FILE_SIZE = HEADER + 2 * SEALED + 1000 + 16


def examples(count: int) -> settings:
    """Hypothesis settings for tests that reuse a function-scoped vault across examples."""
    return settings(
        max_examples=count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )


def plaintext(size: int, seed: int = 7) -> bytes:
    return random.Random(seed).randbytes(size)


async def chunked(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


async def read_until_error(
    vault: Vault, name: str, record: str = RECORD
) -> tuple[bytes, Exception]:
    """What the vault yielded before it refused, and the refusal."""
    received = bytearray()
    try:
        async with aclosing(vault.open(name, record)) as chunks:
            async for chunk in chunks:
                received += chunk
    except Exception as error:
        return bytes(received), error
    raise AssertionError("the vault returned the whole document")


def final_names(root: Path) -> list[str]:
    return (
        [p.name for p in root.iterdir() if STORAGE_NAME.fullmatch(p.name)] if root.exists() else []
    )


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault(tmp_path / "files", Keyring([K1]))


# -- round trips -----------------------------------------------------------------------


@examples(30)
@given(
    size=st.sampled_from([0, 1, SEGMENT - 1, SEGMENT, SEGMENT + 1, 2 * SEGMENT, 5 * SEGMENT + 3]),
    chunk=st.integers(min_value=1, max_value=3 * SEGMENT),
    as_bytearray=st.booleans(),
)
def test_round_trip_around_segment_boundaries(
    vault: Vault, size: int, chunk: int, as_bytearray: bool
) -> None:
    data = plaintext(size, seed=size)

    async def chunks() -> AsyncIterator[bytes | bytearray]:
        for start in range(0, size, chunk):
            piece = data[start : start + chunk]
            yield bytearray(piece) if as_bytearray else piece

    async def scenario() -> None:
        stored = await vault.store(RECORD, chunks())
        assert stored.size == size and stored.key_id == "k1"
        assert STORAGE_NAME.fullmatch(stored.storage_name)
        assert await vault.read_all(stored.storage_name, RECORD) == data
        segments = max(1, -(-size // SEGMENT))
        assert (vault.root / stored.storage_name).stat().st_size == HEADER + size + 16 * segments

    asyncio.run(scenario())


@examples(3)
@given(
    megabytes=st.integers(min_value=2, max_value=4), chunk=st.sampled_from([4096, SEGMENT, 1 << 20])
)
def test_round_trip_of_a_few_megabytes(vault: Vault, megabytes: int, chunk: int) -> None:
    data = plaintext(megabytes * 1024 * 1024 + 17, seed=megabytes)

    async def scenario() -> None:
        stored = await vault.store(RECORD, chunked(data, chunk))
        assert await vault.read_all(stored.storage_name, RECORD) == data

    asyncio.run(scenario())


async def test_a_bytearray_reused_by_the_caller_does_not_change_what_was_stored(
    vault: Vault,
) -> None:
    buffer = bytearray(SEGMENT)

    async def reusing() -> AsyncIterator[bytearray]:
        for fill in (1, 2, 3):
            buffer[:] = bytes([fill]) * SEGMENT
            yield buffer

    stored = await vault.store(RECORD, reusing())
    expected = b"".join(bytes([fill]) * SEGMENT for fill in (1, 2, 3))
    assert await vault.read_all(stored.storage_name, RECORD) == expected


async def test_plaintext_never_reaches_the_disk(vault: Vault) -> None:
    marker = b"ID 11010519491231002X phone 13800138000 " * 5000
    stored = await vault.store_bytes(RECORD, marker)
    on_disk = (vault.root / stored.storage_name).read_bytes()
    assert b"11010519491231002X" not in on_disk and b"13800138000" not in on_disk
    assert await vault.read_all(stored.storage_name, RECORD) == marker


# -- tampering -------------------------------------------------------------------------


@pytest.fixture
def example_document(vault: Vault) -> tuple[str, bytes, bytes]:
    """A three-segment document (two full, one partial): name, plaintext, file bytes."""
    data = plaintext(EXAMPLE_SIZE)
    stored = asyncio.run(vault.store_bytes(RECORD, data))
    raw = (vault.root / stored.storage_name).read_bytes()
    assert len(raw) == EXAMPLE_FILE_SIZE
    return stored.storage_name, data, raw


@examples(60)
@given(position=st.integers(min_value=0, max_value=EXAMPLE_FILE_SIZE - 1), flip=st.integers(1, 255))
@example(position=0, flip=1)  # magic
@example(position=7, flip=1)  # version
@example(position=8, flip=1)  # algorithm
@example(position=12, flip=0x80)  # nonce prefix
@example(position=16, flip=1)  # key id length
@example(position=18, flip=1)  # key id
@example(position=19, flip=1)  # wrapped key length
@example(position=20, flip=1)  # wrapped key, first byte
@example(position=HEADER - 1, flip=1)  # wrapped key, last byte
@example(position=HEADER, flip=1)  # first segment's ciphertext
@example(position=HEADER + SEALED - 1, flip=1)  # first segment's tag
@example(position=HEADER + SEALED + 5, flip=1)  # second segment
@example(position=EXAMPLE_FILE_SIZE - 1, flip=1)  # last segment's tag
def test_any_flipped_byte_is_refused_before_its_segment_is_released(
    vault: Vault, example_document: tuple[str, bytes, bytes], position: int, flip: int
) -> None:
    name, data, raw = example_document
    damaged = bytearray(raw)
    damaged[position] ^= flip
    (vault.root / name).write_bytes(damaged)

    received, error = asyncio.run(read_until_error(vault, name))

    assert isinstance(error, VaultError)
    assert data.startswith(received)
    if position < HEADER:
        assert received == b""
    else:
        damaged_segment = (position - HEADER) // SEALED
        assert len(received) <= damaged_segment * SEGMENT
    if not isinstance(error, UnsupportedFormatError | MissingKeyError):
        assert str(error) == f"document {name} failed its integrity check"


@pytest.mark.parametrize(
    ("offset", "value", "message"),
    [
        (0, ord("X"), "not a vault file"),
        (7, 2, "format version 2 is not supported"),
        (8, 9, "algorithm id 9 is not supported"),
    ],
)
def test_an_unknown_magic_version_or_algorithm_is_an_unsupported_format(
    vault: Vault, example_document: tuple[str, bytes, bytes], offset: int, value: int, message: str
) -> None:
    name, _, raw = example_document
    (vault.root / name).write_bytes(raw[:offset] + bytes([value]) + raw[offset + 1 :])
    received, error = asyncio.run(read_until_error(vault, name))
    assert isinstance(error, UnsupportedFormatError) and received == b""
    assert message in str(error)
    with pytest.raises(UnsupportedFormatError):
        vault.key_id_of(name)


@pytest.mark.parametrize(
    "keep",
    [
        pytest.param(HEADER + 2 * SEALED, id="last-segment-dropped"),
        pytest.param(HEADER + SEALED, id="two-segments-dropped"),
        pytest.param(HEADER, id="all-segments-dropped"),
        pytest.param(HEADER + SEALED + 100, id="cut-inside-a-segment"),
        pytest.param(EXAMPLE_FILE_SIZE - 1, id="last-byte-dropped"),
        pytest.param(HEADER - 3, id="cut-inside-the-header"),
    ],
)
def test_truncation_is_refused(
    vault: Vault, example_document: tuple[str, bytes, bytes], keep: int
) -> None:
    name, data, raw = example_document
    (vault.root / name).write_bytes(raw[:keep])
    received, error = asyncio.run(read_until_error(vault, name))
    assert isinstance(error, VaultIntegrityError)
    assert data.startswith(received) and len(received) < len(data)


async def test_a_full_last_segment_cut_off_at_its_boundary_is_refused(vault: Vault) -> None:
    data = plaintext(2 * SEGMENT)
    stored = await vault.store_bytes(RECORD, data)
    path = vault.root / stored.storage_name
    path.write_bytes(path.read_bytes()[: HEADER + SEALED])
    received, error = await read_until_error(vault, stored.storage_name)
    assert isinstance(error, VaultIntegrityError) and received == b""


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 16, b"y" * SEALED])
def test_appended_data_is_refused(
    vault: Vault, example_document: tuple[str, bytes, bytes], extra: bytes
) -> None:
    name, _, raw = example_document
    (vault.root / name).write_bytes(raw + extra)
    _, error = asyncio.run(read_until_error(vault, name))
    assert isinstance(error, VaultIntegrityError)


def test_swapped_segments_are_refused(
    vault: Vault, example_document: tuple[str, bytes, bytes]
) -> None:
    name, _, raw = example_document
    first, second = raw[HEADER : HEADER + SEALED], raw[HEADER + SEALED : HEADER + 2 * SEALED]
    (vault.root / name).write_bytes(raw[:HEADER] + second + first + raw[HEADER + 2 * SEALED :])
    received, error = asyncio.run(read_until_error(vault, name))
    assert isinstance(error, VaultIntegrityError) and received == b""


async def test_a_segment_from_another_document_is_refused(vault: Vault) -> None:
    data = plaintext(2 * SEGMENT + 5)
    first = await vault.store_bytes(RECORD, data)
    second = await vault.store_bytes(RECORD, data)
    raw_first = (vault.root / first.storage_name).read_bytes()
    raw_second = (vault.root / second.storage_name).read_bytes()
    spliced = raw_first[: HEADER + SEALED] + raw_second[HEADER + SEALED :]
    (vault.root / first.storage_name).write_bytes(spliced)
    _, error = await read_until_error(vault, first.storage_name)
    assert isinstance(error, VaultIntegrityError)


async def test_a_document_read_for_another_record_is_refused(vault: Vault) -> None:
    stored = await vault.store_bytes(RECORD, b"business licence scan")
    received, error = await read_until_error(vault, stored.storage_name, "application:43")
    assert isinstance(error, VaultIntegrityError) and received == b""


async def test_documents_swapped_between_names_are_refused(vault: Vault) -> None:
    licence = await vault.store_bytes(RECORD, b"licence")
    statement = await vault.store_bytes(RECORD, b"statement")
    licence_path = vault.root / licence.storage_name
    statement_path = vault.root / statement.storage_name
    licence_bytes, statement_bytes = licence_path.read_bytes(), statement_path.read_bytes()
    licence_path.write_bytes(statement_bytes)
    statement_path.write_bytes(licence_bytes)
    for name in (licence.storage_name, statement.storage_name):
        _, error = await read_until_error(vault, name)
        assert isinstance(error, VaultIntegrityError)


# -- keys ------------------------------------------------------------------------------


async def test_a_wrong_master_key_is_refused(vault: Vault) -> None:
    stored = await vault.store_bytes(RECORD, b"statement")
    impostor = Vault(vault.root, Keyring([MasterKey("k1", bytes(32))]))
    received, error = await read_until_error(impostor, stored.storage_name)
    assert isinstance(error, VaultIntegrityError) and received == b""


async def test_a_missing_master_key_is_named(vault: Vault) -> None:
    stored = await vault.store_bytes(RECORD, b"statement")
    without_k1 = Vault(vault.root, Keyring([K2]))
    _, error = await read_until_error(without_k1, stored.storage_name)
    assert isinstance(error, MissingKeyError) and isinstance(error, KeyringError)
    assert "master key 'k1'" in str(error)
    assert base64.b64encode(K1.key).decode() not in str(error)


async def test_rotation_rewraps_without_reencrypting_then_the_old_key_can_go(
    vault: Vault,
) -> None:
    documents = {}
    for size in (0, 1, SEGMENT, 3 * SEGMENT + 9):
        data = plaintext(size, seed=size)
        documents[(await vault.store_bytes(RECORD, data)).storage_name] = data
    before = {name: (vault.root / name).read_bytes() for name in documents}

    rotating = Vault(vault.root, Keyring([K2, K1]))
    for name in documents:
        assert await rotating.rewrap(name) is True
        assert await rotating.rewrap(name) is False
        assert rotating.key_id_of(name) == "k2"

    only_k2 = Vault(vault.root, Keyring([K2]))
    for name, data in documents.items():
        after = (vault.root / name).read_bytes()
        assert after[HEADER:] == before[name][HEADER:]  # segments untouched
        assert after[:16] == before[name][:16]  # magic, version, algorithm, nonce prefix
        assert after[16:HEADER] != before[name][16:HEADER]  # key id and wrapped key
        assert await only_k2.read_all(name, RECORD) == data
    assert len(final_names(vault.root)) == len(documents)
    assert [p.name for p in vault.root.iterdir() if p.name.endswith(".tmp")] == []


# -- atomic writes ---------------------------------------------------------------------


async def test_a_failing_source_leaves_nothing(vault: Vault) -> None:
    async def failing() -> AsyncIterator[bytes]:
        yield plaintext(3 * SEGMENT)
        raise ConnectionResetError("download interrupted")

    with pytest.raises(ConnectionResetError):
        await vault.store(RECORD, failing())
    assert list(vault.root.iterdir()) == []


async def test_an_oversize_document_is_refused_and_nothing_is_left(vault: Vault) -> None:
    with pytest.raises(VaultSizeError, match="1000000-byte limit"):
        await vault.store(RECORD, chunked(plaintext(1_000_001), SEGMENT), max_bytes=1_000_000)
    assert list(vault.root.iterdir()) == []
    exact = await vault.store(RECORD, chunked(plaintext(1_000_000), SEGMENT), max_bytes=1_000_000)
    assert exact.size == 1_000_000


async def test_a_cancelled_write_leaves_nothing(vault: Vault) -> None:
    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        for _ in range(1000):
            yield plaintext(SEGMENT)
            started.set()
            await asyncio.sleep(0.001)

    task = asyncio.create_task(vault.store(RECORD, slow()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(vault.root.iterdir()) == []


def test_a_writer_killed_mid_write_leaves_no_document(tmp_path: Path) -> None:
    root = tmp_path / "files"
    helper = Path(__file__).with_name("vault_writer.py")
    key_entry = f"k1:{base64.b64encode(K1.key).decode()}"
    env = {**os.environ, "LOANBOT_TEST_VAULT_KEY": key_entry}
    writer = subprocess.Popen([sys.executable, str(helper), str(root)], env=env)
    try:
        temp = _wait_for_partial_temp_file(root, at_least=HEADER + 3 * SEALED, writer=writer)
        writer.send_signal(signal.SIGKILL)
        assert writer.wait(timeout=30) == -signal.SIGKILL
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()

    assert final_names(root) == []
    assert temp.exists()
    assert b"PLAINTEXT-MARKER" not in temp.read_bytes()
    vault = Vault(root, Keyring([K1]))
    would_be_name = temp.name.split(".")[1]
    assert not vault.exists(would_be_name)
    with pytest.raises(DocumentNotFoundError):
        vault.key_id_of(would_be_name)
    assert vault.remove_stale_temp_files(older_than_seconds=0) == 1
    assert list(root.iterdir()) == []


def _wait_for_partial_temp_file(
    root: Path, *, at_least: int, writer: subprocess.Popen[bytes]
) -> Path:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert writer.poll() is None, "the writer exited before it was killed"
        temps = list(root.glob(".*.tmp")) if root.exists() else []
        if temps and temps[0].stat().st_size >= at_least:
            return temps[0]
        time.sleep(0.02)
    raise AssertionError("the writer never got going")


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "../" + "0" * 29,
        "/etc/passwd",
        "0" * 31,
        "0" * 33,
        "A" * 32,
        "0" * 31 + "/",
        "0" * 32 + "\n",
        ".." + "0" * 30,
        "",
    ],
)
async def test_path_tricks_in_storage_names_are_refused(vault: Vault, name: str) -> None:
    with pytest.raises(ValueError, match="32 lowercase hexadecimal"):
        vault.open(name, RECORD)
    with pytest.raises(ValueError):
        await vault.rewrap(name)
    for operation in (vault.exists, vault.delete, vault.key_id_of):
        with pytest.raises(ValueError):
            operation(name)


async def test_delete_and_exists(vault: Vault) -> None:
    stored = await vault.store_bytes(RECORD, b"tax certificate")
    assert vault.exists(stored.storage_name)
    vault.delete(stored.storage_name)
    assert not vault.exists(stored.storage_name)
    vault.delete(stored.storage_name)
    with pytest.raises(DocumentNotFoundError):
        await vault.read_all(stored.storage_name, RECORD)


async def test_a_reader_that_stops_early_leaves_the_vault_usable(vault: Vault) -> None:
    data = plaintext(40 * SEGMENT)
    stored = await vault.store_bytes(RECORD, data)
    async with aclosing(vault.open(stored.storage_name, RECORD)) as chunks:
        first = await anext(chunks)
    assert first == data[:SEGMENT]
    assert await vault.read_all(stored.storage_name, RECORD) == data
