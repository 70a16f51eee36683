"""Decide whether an uploaded file may enter the vault: size first, then bytes, then pixels."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from enum import StrEnum

from PIL import Image, UnidentifiedImageError

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_IMAGE_PIXELS = 40_000_000


class Refusal(StrEnum):
    """Why a file was refused; the values are the conversation's DocumentRefused reasons."""

    TOO_BIG = "too_big"
    WRONG_TYPE = "wrong_type"
    IMAGE_TOO_LARGE = "image_too_large"
    UNREADABLE = "unreadable"


class UploadRefused(Exception):
    def __init__(self, reason: Refusal) -> None:
        super().__init__(reason.value)
        self.reason = reason


@dataclass(frozen=True)
class InspectedFile:
    content_type: str
    extension: str


_SIGNATURES = (
    (b"%PDF-", InspectedFile("application/pdf", "pdf")),
    (b"\xff\xd8\xff", InspectedFile("image/jpeg", "jpg")),
    (b"\x89PNG\r\n\x1a\n", InspectedFile("image/png", "png")),
)


def check_declared_size(size: int | None) -> None:
    """Refuse before downloading when Telegram already tells us the file is too big."""
    if size is not None and size > MAX_UPLOAD_BYTES:
        raise UploadRefused(Refusal.TOO_BIG)


def inspect(data: bytes) -> InspectedFile:
    """The type by magic bytes, never by name or declared MIME type; images fully decoded."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadRefused(Refusal.TOO_BIG)
    for signature, kind in _SIGNATURES:
        if data.startswith(signature):
            if kind.content_type.startswith("image/"):
                _check_image(data)
            elif b"%%EOF" not in data[-2048:]:
                raise UploadRefused(Refusal.UNREADABLE)
            return kind
    raise UploadRefused(Refusal.WRONG_TYPE)


def _check_image(data: bytes) -> None:
    """Read the header for the pixel count before decoding, so a bomb is never expanded."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as image:
                width, height = image.size
                if width * height > MAX_IMAGE_PIXELS:
                    raise UploadRefused(Refusal.IMAGE_TOO_LARGE)
                image.load()
    except UploadRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UploadRefused(Refusal.IMAGE_TOO_LARGE) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise UploadRefused(Refusal.UNREADABLE) from None
