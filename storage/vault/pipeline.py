"""The streaming pipeline: plaintext chunks → sealed batches → file, and back.

The crypto half (`seal_chunks`, `open_batches`) does no I/O; the file half (`BatchWriter`,
`BatchReader`) does only I/O. The vault joins them; the benchmark can also time the crypto
half alone.

Why AES runs on the event loop thread and only file I/O in a worker thread: the installed
`cryptography` holds the GIL for the whole of an AES-GCM call, so running AES in a thread
frees nothing (the loop still waits for the GIL) and adds two cross-thread wake-ups per
batch, which on a small VM cost as much as the AES itself. System calls do release the GIL,
so the worker writes (or reads) one batch while the loop seals (or opens) the next. The
loop is given back after every batch (2 MiB, well under a millisecond of AES), so other
chats and requests keep flowing during a large upload.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import AsyncGenerator, AsyncIterable

from storage.vault.errors import VaultSizeError
from storage.vault.files import BytesLike, PendingFile, read_into
from storage.vault.stream import (
    SEALED_SEGMENT_SIZE,
    SEGMENT_SIZE,
    SegmentOpener,
    SegmentSealer,
    StreamError,
)

BATCH_SEGMENTS = 32
BATCH_BYTES = BATCH_SEGMENTS * SEGMENT_SIZE
SEALED_BATCH_BYTES = BATCH_SEGMENTS * SEALED_SEGMENT_SIZE
# A final batch may hold one segment more than a full one: the segment held back.
BUFFER_BYTES = (BATCH_SEGMENTS + 1) * SEALED_SEGMENT_SIZE
POOLED_BUFFERS = 4

SealedBatch = tuple[memoryview, bool]


class BufferPool:
    """Reuses batch buffers: zero-filling 4 MiB for every document costs a millisecond or two."""

    def __init__(self) -> None:
        self._free: list[bytearray] = []

    def take_pair(self) -> list[bytearray]:
        return [self._free.pop() if self._free else bytearray(BUFFER_BYTES) for _ in "ab"]

    def give_back(self, buffers: list[bytearray]) -> None:
        room = POOLED_BUFFERS - len(self._free)
        self._free.extend(buffers[:room])


class SizeCounter:
    """How many plaintext bytes went through; refuses to pass `limit`."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.size = 0

    def add(self, count: int) -> None:
        self.size += count
        if self.limit is not None and self.size > self.limit:
            raise VaultSizeError(f"the document is larger than the {self.limit}-byte limit")


async def seal_chunks(
    chunks: AsyncIterable[BytesLike],
    sealer: SegmentSealer,
    buffers: list[bytearray],
    counter: SizeCounter,
) -> AsyncGenerator[memoryview, None]:
    """Sealed batches, alternating between the two `buffers`.

    A yielded batch stays valid until the one after next is requested, so a consumer may
    write batch n while batch n+1 is sealed, as long as it finished writing n-1 first.

    Whole segments inside an immutable chunk are sealed straight from it; only segments that
    straddle chunks are copied together. The newest complete segment is always held back
    until more input arrives, because only the end of input tells whether it is the last
    one (which carries the last flag).
    """
    partial = bytearray()
    segments: list[BytesLike] = []
    turn = 0
    async for chunk in chunks:
        counter.add(len(chunk))
        view = _immutable_view(chunk)
        if partial:
            wanted = SEGMENT_SIZE - len(partial)
            partial += view[:wanted]
            view = view[wanted:]
            if len(partial) == SEGMENT_SIZE:
                segments.append(partial)
                partial = bytearray()
        length = len(view)
        if length == SEGMENT_SIZE:
            segments.append(view)
        elif length:
            whole = length - length % SEGMENT_SIZE
            segments.extend(
                view[start : start + SEGMENT_SIZE] for start in range(0, whole, SEGMENT_SIZE)
            )
            if whole < length:
                partial = bytearray(view[whole:])
        while len(segments) > BATCH_SEGMENTS:
            batch = segments[:BATCH_SEGMENTS]
            del segments[:BATCH_SEGMENTS]
            buffer = buffers[turn]
            turn ^= 1
            yield memoryview(buffer)[: sealer.seal_into(batch, buffer, final=False)]
            await asyncio.sleep(0)
    if partial or not segments:
        segments.append(partial)
    buffer = buffers[turn]
    yield memoryview(buffer)[: sealer.seal_into(segments, buffer, final=True)]


async def open_batches(
    batches: AsyncIterable[SealedBatch], opener: SegmentOpener
) -> AsyncGenerator[bytes, None]:
    """Authenticated plaintext segments; StreamError at the first damage found."""
    async for sealed, final in batches:
        for plaintext in opener.open_batch(sealed, final=final):
            yield plaintext
        await asyncio.sleep(0)
    if not opener.finished:
        raise StreamError("the stream ended before its last segment")


class BatchWriter:
    """Writes sealed batches to a pending file in a worker thread, one batch in flight."""

    def __init__(self, pending: PendingFile) -> None:
        self._pending = pending
        self._writing: asyncio.Future[None] | None = None

    async def write(self, batch: memoryview) -> None:
        """Start writing `batch`, after the previous write has finished."""
        await self._wait()
        self._writing = asyncio.get_running_loop().run_in_executor(
            None, self._pending.write, [batch]
        )

    async def finish(self) -> None:
        await self._wait()

    def abandon(self) -> None:
        """Stop waiting for a write in flight; PendingFile.discard waits for it to end."""
        if self._writing is not None:
            writing, self._writing = self._writing, None
            if writing.done() and not writing.cancelled():
                writing.exception()  # seen: the error being handled already says enough
            writing.cancel()

    async def _wait(self) -> None:
        if self._writing is not None:
            writing, self._writing = self._writing, None
            await writing


class BatchReader:
    """Reads one document's sealed segments, a batch ahead of the batch being opened."""

    def __init__(self, fd: int, offset: int, remaining: int, buffers: list[bytearray]) -> None:
        # A cancelled consumer closes the reader while a batch may still be read in a worker
        # thread; the lock keeps the descriptor open (and its number unreused) until then.
        self._lock = threading.Lock()
        self._fd: int | None = fd
        self._offset = offset
        self._remaining = remaining
        self._buffers = buffers
        self._turn = 0

    async def batches(self) -> AsyncGenerator[SealedBatch, None]:
        """Each batch stays valid until the one after next is requested."""
        loop = asyncio.get_running_loop()
        reading: asyncio.Future[SealedBatch] | None = loop.run_in_executor(None, self._read_batch)
        try:
            while reading is not None:
                sealed, final = await reading
                reading = None if final else loop.run_in_executor(None, self._read_batch)
                yield sealed, final
        finally:
            if reading is not None:
                reading.cancel()

    def _read_batch(self) -> SealedBatch:
        with self._lock:
            if self._fd is None:
                raise StreamError("the document reader is closed")
            size = min(self._remaining, SEALED_BATCH_BYTES)
            final = size == self._remaining
            sealed = memoryview(self._buffers[self._turn])[:size]
            self._turn ^= 1
            if read_into(self._fd, sealed, self._offset) != size:
                raise StreamError("the file shrank while it was read")
            self._offset += size
            self._remaining -= size
            return sealed, final

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                os.close(fd)


def _immutable_view(chunk: BytesLike) -> memoryview:
    """A byte view of the chunk that cannot change under us while segments are held back.

    A caller may reuse a bytearray for its next chunk, so anything mutable is copied.
    """
    if isinstance(chunk, bytes):
        return memoryview(chunk)
    if isinstance(chunk, memoryview) and isinstance(chunk.obj, bytes) and chunk.c_contiguous:
        return chunk.cast("B")
    return memoryview(bytes(chunk))
