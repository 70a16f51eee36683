"""The encrypted document vault (design §4.1); the byte format is in docs/vault-format.md."""

from storage.vault.errors import (
    DocumentNotFoundError,
    MissingKeyError,
    UnsupportedFormatError,
    VaultError,
    VaultIntegrityError,
    VaultSizeError,
)
from storage.vault.store import StoredFile, Vault

__all__ = [
    "DocumentNotFoundError",
    "MissingKeyError",
    "StoredFile",
    "UnsupportedFormatError",
    "Vault",
    "VaultError",
    "VaultIntegrityError",
    "VaultSizeError",
]
