"""The emulator's file storage: ids like Telegram's, paths for getFile, bytes for download.

Telegram gives the same ``file_unique_id`` to identical content and a fresh ``file_id`` to
every upload, so a bot must deduplicate by the unique id; the sandbox does the same.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import secrets
import struct
from dataclasses import dataclass

MAX_DOWNLOAD_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class StoredFile:
    """One stored file; `data` is None for a file only advertised by its size."""

    file_id: str
    file_unique_id: str
    file_path: str
    size: int
    data: bytes | None
    file_name: str = ""
    mime_type: str = ""

    def content(self) -> bytes:
        """The bytes to download; an advertised-only file downloads as zeros of its size."""
        return self.data if self.data is not None else bytes(self.size)


def document_api(stored: StoredFile) -> dict[str, object]:
    """The Bot API's Document object for a stored file."""
    document: dict[str, object] = {
        "file_id": stored.file_id,
        "file_unique_id": stored.file_unique_id,
        "file_size": stored.size,
    }
    if stored.file_name:
        document["file_name"] = stored.file_name
    if stored.mime_type:
        document["mime_type"] = stored.mime_type
    return document


class FileStore:
    """All files known to the emulator, by file_id and by download path."""

    def __init__(self) -> None:
        self._by_id: dict[str, StoredFile] = {}
        self._by_path: dict[str, StoredFile] = {}
        self._numbers = itertools.count(1)

    def add(
        self,
        data: bytes | None,
        *,
        folder: str,
        suffix: str = "",
        size: int | None = None,
        variant: str = "",
        file_name: str = "",
        mime_type: str = "",
    ) -> StoredFile:
        """Store `data` (or advertise `size` bytes without them) and give it fresh ids."""
        number = next(self._numbers)
        if data is not None:
            digest = hashlib.sha256(variant.encode() + b"\0" + data).digest()
        else:
            digest = hashlib.sha256(f"advertised:{number}:{size}".encode()).digest()
        stored = StoredFile(
            file_id=f"{folder[:2].upper()}AC{secrets.token_urlsafe(30)}",
            file_unique_id="AgAD" + base64.urlsafe_b64encode(digest[:12]).decode().rstrip("="),
            file_path=f"{folder}/file_{number}{suffix}",
            size=len(data) if data is not None else (size or 0),
            data=data,
            file_name=file_name,
            mime_type=mime_type,
        )
        self._by_id[stored.file_id] = stored
        self._by_path[stored.file_path] = stored
        return stored

    def get(self, file_id: str) -> StoredFile | None:
        return self._by_id.get(file_id)

    def by_path(self, file_path: str) -> StoredFile | None:
        return self._by_path.get(file_path)


def image_size(data: bytes) -> tuple[int, int] | None:
    """Width and height from a PNG or JPEG header, without decoding the image."""
    if data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    index = 2
    while index + 9 <= len(data):
        if data[index] != 0xFF:
            return None
        marker = data[index + 1]
        if marker == 0xFF:
            index += 1
            continue
        (length,) = struct.unpack(">H", data[index + 2 : index + 4])
        if marker in _JPEG_FRAME_MARKERS:
            height, width = struct.unpack(">HH", data[index + 5 : index + 9])
            return int(width), int(height)
        index += 2 + length
    return None


def suffix_for(file_name: str, mime_type: str) -> str:
    """A path suffix like Telegram's (``documents/file_3.pdf``)."""
    if "." in file_name:
        return "." + file_name.rsplit(".", 1)[1].lower()[:8]
    return {"image/jpeg": ".jpg", "image/png": ".png", "application/pdf": ".pdf"}.get(mime_type, "")


@dataclass(frozen=True)
class PhotoSize:
    """One size of a photo; every size serves the uploaded bytes."""

    file: StoredFile
    width: int
    height: int

    def to_api(self) -> dict[str, object]:
        return {
            "file_id": self.file.file_id,
            "file_unique_id": self.file.file_unique_id,
            "file_size": self.file.size,
            "width": self.width,
            "height": self.height,
        }


_THUMBNAIL_SIDES = (90, 320, 800)


def store_photo(store: FileStore, data: bytes, dimensions: tuple[int, int]) -> list[PhotoSize]:
    """Store a photo as Telegram does: a few sizes, smallest first, the original last."""
    width, height = dimensions
    sizes: list[PhotoSize] = []
    for side in (*_THUMBNAIL_SIDES, None):
        longest = max(width, height, 1)
        if side is not None and longest <= side:
            continue
        scale = 1.0 if side is None else side / longest
        stored = store.add(data, folder="photos", suffix=".jpg", variant=f"photo:{side}")
        sizes.append(PhotoSize(stored, max(1, round(width * scale)), max(1, round(height * scale))))
    return sizes
