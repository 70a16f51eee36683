"""The encrypted document store: streams documents in and out of the vault directory.

Each document gets a fresh random data key, which encrypts it with the STREAM construction
(storage.vault.stream) and is itself wrapped under the primary master key. Plaintext only
ever exists in memory, a batch of segments at a time, so memory stays flat whatever the
size; storage.vault.pipeline explains how batches share the work with a worker thread.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import AsyncGenerator, AsyncIterable, Callable
from contextlib import aclosing
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar, TypeVarTuple

from cryptography.hazmat.primitives.keywrap import (
    InvalidUnwrap,
    aes_key_unwrap,
    aes_key_wrap,
)

from storage.keyring import Keyring, MasterKey, UnknownKeyError, derive_subkey
from storage.vault.errors import (
    DocumentNotFoundError,
    MissingKeyError,
    VaultIntegrityError,
)
from storage.vault.files import (
    TEMP_NAME_PATTERN,
    BytesLike,
    PendingFile,
    fsync_directory,
    read_exactly,
)
from storage.vault.format import (
    DATA_KEY_SIZE,
    MAX_HEADER_SIZE,
    NONCE_PREFIX_SIZE,
    WRAP_PURPOSE,
    Header,
    MalformedHeaderError,
    associated_data,
    check_storage_name,
    encode_record,
    parse_header,
)
from storage.vault.pipeline import (
    BATCH_BYTES,
    BatchReader,
    BatchWriter,
    BufferPool,
    SizeCounter,
    open_batches,
    seal_chunks,
)
from storage.vault.stream import SegmentOpener, SegmentSealer, StreamError

COPY_BYTES = 1024 * 1024

T = TypeVar("T")
Args = TypeVarTuple("Args")


@dataclass(frozen=True)
class StoredFile:
    """What the caller keeps about a stored document (in models.Document)."""

    storage_name: str
    size: int
    key_id: str


class Vault:
    """Encrypted documents under `root`, one file per document, named by a random id."""

    def __init__(self, root: Path, keyring: Keyring) -> None:
        self.root = root
        self.keyring = keyring
        self._wrapping_keys: dict[str, bytes] = {}
        self._buffers = BufferPool()

    async def store(
        self, record: str, chunks: AsyncIterable[BytesLike], *, max_bytes: int | None = None
    ) -> StoredFile:
        """Encrypt `chunks` into a new document bound to `record` (e.g. "application:42").

        More than `max_bytes` raises VaultSizeError. On any error, or cancellation, nothing
        is left under the final name.
        """
        record_bytes = encode_record(record)
        storage_name = secrets.token_hex(16)
        primary = self.keyring.primary
        data_key = os.urandom(DATA_KEY_SIZE)
        header = Header(
            nonce_prefix=os.urandom(NONCE_PREFIX_SIZE),
            key_id=primary.key_id,
            wrapped_key=aes_key_wrap(self._wrapping_key(primary), data_key),
        )
        sealer = SegmentSealer(
            data_key, header.nonce_prefix, associated_data(header, storage_name, record_bytes)
        )
        pending = await _in_thread(self._start_file, storage_name, header)
        buffers = self._buffers.take_pair()
        writer = BatchWriter(pending)
        counter = SizeCounter(max_bytes)
        try:
            async with aclosing(seal_chunks(chunks, sealer, buffers, counter)) as batches:
                async for batch in batches:
                    await writer.write(batch)
            await writer.finish()
            await _in_thread(pending.commit)
        except BaseException:
            writer.abandon()
            pending.discard()
            raise
        finally:
            # Safe even after an error: discard() waited for any write still in a thread.
            self._buffers.give_back(buffers)
        return StoredFile(storage_name=storage_name, size=counter.size, key_id=primary.key_id)

    async def store_bytes(
        self, record: str, data: bytes, *, max_bytes: int | None = None
    ) -> StoredFile:
        """`store` for a document already in memory."""

        async def pieces() -> AsyncGenerator[memoryview, None]:
            view = memoryview(data)
            for start in range(0, len(view), BATCH_BYTES):
                yield view[start : start + BATCH_BYTES]

        return await self.store(record, pieces(), max_bytes=max_bytes)

    def open(self, storage_name: str, record: str) -> AsyncGenerator[bytes, None]:
        """The document's plaintext, chunk by chunk; each chunk is authenticated before it is
        yielded. Damage anywhere, including a missing end, raises VaultIntegrityError at the
        point it is found, so a consumer must treat an exception mid-way as "discard it all".
        Wrap it in `contextlib.aclosing` if you may stop early, so the file closes at once.
        """
        check_storage_name(storage_name)
        return self._plaintext(storage_name, encode_record(record))

    async def read_all(self, storage_name: str, record: str) -> bytes:
        """The whole plaintext of a small document."""
        return b"".join([chunk async for chunk in self.open(storage_name, record)])

    async def rewrap(self, storage_name: str) -> bool:
        """Re-wrap the data key under the primary master key; False if it already was.

        Only the header changes (the segments are copied as they are), so the document is
        not re-encrypted. The new file replaces the old one atomically.
        """
        check_storage_name(storage_name)
        return await _in_thread(self._rewrap, storage_name)

    def key_id_of(self, storage_name: str) -> str:
        """The master key id the document's data key is wrapped under."""
        check_storage_name(storage_name)
        fd = self._open_for_reading(storage_name)
        try:
            header, _ = self._read_header(fd, storage_name)
        finally:
            os.close(fd)
        return header.key_id

    def delete(self, storage_name: str) -> None:
        """Remove a document; deleting one that does not exist is not an error."""
        check_storage_name(storage_name)
        path = self.root / storage_name
        if path.exists():
            path.unlink(missing_ok=True)
            fsync_directory(self.root)

    def exists(self, storage_name: str) -> bool:
        check_storage_name(storage_name)
        return (self.root / storage_name).is_file()

    def remove_stale_temp_files(self, older_than_seconds: float = 3600) -> int:
        """Remove temp files left by writers that died (e.g. SIGKILL); returns how many."""
        if not self.root.is_dir():
            return 0
        cutoff = time.time() - older_than_seconds
        removed = 0
        for path in self.root.iterdir():
            if TEMP_NAME_PATTERN.fullmatch(path.name) and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed += 1
        return removed

    # -- writing -----------------------------------------------------------------------

    def _start_file(self, storage_name: str, header: Header) -> PendingFile:
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        pending = PendingFile(self.root, storage_name)
        try:
            pending.write([header.encode()])
        except BaseException:
            pending.discard()
            raise
        return pending

    # -- reading -----------------------------------------------------------------------

    async def _plaintext(self, storage_name: str, record: bytes) -> AsyncGenerator[bytes, None]:
        buffers = self._buffers.take_pair()
        reader, opener = await _in_thread(self._start_reading, storage_name, record, buffers)
        try:
            async with (
                aclosing(reader.batches()) as batches,
                aclosing(open_batches(batches, opener)) as plaintexts,
            ):
                async for plaintext in plaintexts:
                    yield plaintext
        except StreamError:
            raise VaultIntegrityError(storage_name) from None
        finally:
            reader.close()
            # Safe: close() waited for any read still in a thread, and a read that starts
            # later finds the reader closed before it touches a buffer.
            self._buffers.give_back(buffers)

    def _start_reading(
        self, storage_name: str, record: bytes, buffers: list[bytearray]
    ) -> tuple[BatchReader, SegmentOpener]:
        fd = self._open_for_reading(storage_name)
        try:
            header, header_size = self._read_header(fd, storage_name)
            data_key = self._unwrap(header, storage_name)
            opener = SegmentOpener(
                data_key, header.nonce_prefix, associated_data(header, storage_name, record)
            )
            body_size = os.fstat(fd).st_size - header_size
            return BatchReader(fd, header_size, body_size, buffers), opener
        except BaseException:
            os.close(fd)
            raise

    def _open_for_reading(self, storage_name: str) -> int:
        try:
            return os.open(self.root / storage_name, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise DocumentNotFoundError(f"document {storage_name} does not exist") from None

    def _read_header(self, fd: int, storage_name: str) -> tuple[Header, int]:
        try:
            return parse_header(read_exactly(fd, MAX_HEADER_SIZE, 0))
        except MalformedHeaderError:
            raise VaultIntegrityError(storage_name) from None

    def _unwrap(self, header: Header, storage_name: str) -> bytes:
        try:
            master = self.keyring.get(header.key_id)
        except UnknownKeyError:
            raise MissingKeyError(
                f"document {storage_name} is wrapped under master key '{header.key_id}', "
                "which is not configured"
            ) from None
        try:
            return aes_key_unwrap(self._wrapping_key(master), header.wrapped_key)
        except InvalidUnwrap:
            raise VaultIntegrityError(storage_name) from None

    def _wrapping_key(self, master: MasterKey) -> bytes:
        key = self._wrapping_keys.get(master.key_id)
        if key is None:
            key = self._wrapping_keys[master.key_id] = derive_subkey(master, WRAP_PURPOSE)
        return key

    # -- rotation ----------------------------------------------------------------------

    def _rewrap(self, storage_name: str) -> bool:
        primary = self.keyring.primary
        fd = self._open_for_reading(storage_name)
        try:
            header, header_size = self._read_header(fd, storage_name)
            if header.key_id == primary.key_id:
                return False
            data_key = self._unwrap(header, storage_name)
            rewrapped = header.rewrapped(
                primary.key_id, aes_key_wrap(self._wrapping_key(primary), data_key)
            )
            pending = PendingFile(self.root, storage_name)
            try:
                pending.write([rewrapped.encode()])
                offset = header_size
                while piece := read_exactly(fd, COPY_BYTES, offset):
                    pending.write([piece])
                    offset += len(piece)
                pending.commit()
            except BaseException:
                pending.discard()
                raise
            return True
        finally:
            os.close(fd)


async def _in_thread(function: Callable[[*Args], T], *args: *Args) -> T:
    """Run blocking file work off the event loop."""
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)
