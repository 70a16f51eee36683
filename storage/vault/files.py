"""Atomic file writes for the vault: a temp file in the same directory, fsync, rename, fsync dir.

A reader only ever sees a complete file under its final name, or no file at all, even if
the process is killed mid-write (then only a `.…tmp` file is left, which no storage name
matches; `Vault.remove_stale_temp_files` cleans those up).
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections.abc import Iterable
from pathlib import Path

TEMP_NAME_PATTERN = re.compile(r"\.[0-9a-f]{32}\.[0-9a-f]{8}\.tmp")
BytesLike = bytes | bytearray | memoryview


class PendingFile:
    """A file being written under a temporary name; visible under its final name only after commit.

    Writes run in worker threads while the event loop may cancel the coroutine that waits for
    them, so every use of the descriptor holds a lock: `discard` never closes a descriptor
    another thread is still writing to.
    """

    def __init__(self, directory: Path, final_name: str) -> None:
        self.directory = directory
        self.final_path = directory / final_name
        self.temp_path = directory / f".{final_name}.{secrets.token_hex(4)}.tmp"
        self._lock = threading.Lock()
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
        self._fd: int | None = os.open(self.temp_path, flags, 0o600)
        self._committed = False

    def write(self, pieces: Iterable[BytesLike]) -> None:
        with self._lock:
            fd = self._open_descriptor()
            for piece in pieces:
                view = memoryview(piece)
                while view:
                    written = os.write(fd, view)
                    view = view[written:]

    def commit(self) -> None:
        """Make the file durable, then give it its final name durably."""
        with self._lock:
            fd = self._open_descriptor()
            os.fsync(fd)
            os.close(fd)
            self._fd = None
            os.replace(self.temp_path, self.final_path)
            self._committed = True
            fsync_directory(self.directory)

    def discard(self) -> None:
        """Leave nothing behind: the temp file, or the final file if a commit won the race."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            if self._committed:
                self.final_path.unlink(missing_ok=True)
                fsync_directory(self.directory)
            else:
                self.temp_path.unlink(missing_ok=True)

    def _open_descriptor(self) -> int:
        if self._fd is None:
            raise ValueError("this pending file was already committed or discarded")
        return self._fd


def fsync_directory(directory: Path) -> None:
    """Persist a rename or unlink: on POSIX the directory entry needs its own fsync."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_exactly(fd: int, size: int, offset: int) -> bytes:
    """`size` bytes at `offset`, or fewer only if the file ends first."""
    pieces = []
    while size > 0:
        piece = os.pread(fd, size, offset)
        if not piece:
            break
        pieces.append(piece)
        size -= len(piece)
        offset += len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)


def read_into(fd: int, buffer: memoryview, offset: int) -> int:
    """Fill `buffer` from `offset`; returns the bytes read, fewer only at end of file."""
    filled = 0
    while filled < len(buffer):
        got = os.preadv(fd, [buffer[filled:]], offset + filled)
        if got == 0:
            break
        filled += got
    return filled
