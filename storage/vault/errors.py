"""What can go wrong when reading or writing an encrypted document; messages hold no data."""

from __future__ import annotations

from storage.keyring import KeyringError


class VaultError(Exception):
    """Base class: the document could not be stored or read."""


class VaultIntegrityError(VaultError):
    """Tampered, truncated, reordered, swapped, bound to another record, or a wrong key."""

    def __init__(self, storage_name: str) -> None:
        super().__init__(f"document {storage_name} failed its integrity check")
        self.storage_name = storage_name


class UnsupportedFormatError(VaultError):
    """The file is not a vault file, or was written by a format version we do not know."""


class MissingKeyError(VaultError, KeyringError):
    """The document is wrapped under a master key id that is not configured."""


class VaultSizeError(VaultError):
    """The document is larger than the caller allowed; nothing was kept."""


class DocumentNotFoundError(VaultError, FileNotFoundError):
    """No document is stored under that name."""
