"""Encryption of C2 columns (ID numbers, phones, financial figures) and their blind indexes.

Every value is sealed with AES-256-GCM under a field key derived from the primary master key,
with associated data naming its table, column and row, so a ciphertext copied to another row
or column refuses to decrypt (design §4.2). A column that must be searched also stores an
HMAC-SHA256 "blind index" of the normalised value: equal values give equal indexes, and the
index reveals nothing without the key. Formats are in docs/vault-format.md.

Callers use the logical column name, e.g.
`encrypt(phone, table="applications", column="phone", row_id=application.id)` and
`blind_index(phone, column="phone")`; the row must already have its id (flush first).

Blind indexes at rotation: the index key is derived from the PRIMARY master key, so after a
new key becomes primary `keys rotate` recomputes every index (storage.rotation). Until it
has finished, search with `blind_index_candidates`, which gives the index under every
configured key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import struct
import unicodedata
from decimal import Decimal, InvalidOperation

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.keyring import KEY_ID_PATTERN, Keyring, MasterKey, derive_subkey

FORMAT_VERSION = 1
NONCE_SIZE = 12
TAG_SIZE = 16
FIELD_PURPOSE = "loanbot field encryption v1"
INDEX_PURPOSE = "loanbot blind index v1"
AD_LABEL = b"LBFIELD"
# Hyphen-like characters people type in phone and ID numbers (NFKC already maps the
# full-width hyphen-minus to '-').
DASHES = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe63")
PHONE_COUNTRY_PREFIXES = ("+86", "0086")


class FieldError(Exception):
    """An encrypted field could not be read; the message never holds its value."""


class FieldIntegrityError(FieldError):
    """Tampered, moved to another table, column or row, or encrypted under another key."""


class UnsupportedFieldFormatError(FieldError):
    """The blob was written by a format version this build does not know."""


class FieldCipher:
    """Encrypts and decrypts C2 column values; computes blind indexes."""

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        self._aeads: dict[str, AESGCM] = {}
        self._index_keys: dict[str, bytes] = {}

    # -- text --------------------------------------------------------------------------

    def encrypt(self, value: str, *, table: str, column: str, row_id: int) -> bytes:
        if not isinstance(value, str):
            raise TypeError("encrypt takes a str; use encrypt_decimal or encrypt_bytes")
        return self.encrypt_bytes(value.encode("utf-8"), table=table, column=column, row_id=row_id)

    def decrypt(self, blob: bytes, *, table: str, column: str, row_id: int) -> str:
        plaintext = self.decrypt_bytes(blob, table=table, column=column, row_id=row_id)
        try:
            return plaintext.decode("utf-8")
        except UnicodeDecodeError:
            raise _integrity_error(table, column, row_id) from None

    # -- money -------------------------------------------------------------------------

    def encrypt_decimal(self, value: Decimal, *, table: str, column: str, row_id: int) -> bytes:
        """A financial figure (C2), kept exact: the Decimal's own string form is encrypted."""
        if not isinstance(value, Decimal) or not value.is_finite():
            raise TypeError("encrypt_decimal takes a finite Decimal")
        return self.encrypt(str(value), table=table, column=column, row_id=row_id)

    def decrypt_decimal(self, blob: bytes, *, table: str, column: str, row_id: int) -> Decimal:
        text = self.decrypt(blob, table=table, column=column, row_id=row_id)
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise _integrity_error(table, column, row_id) from None
        if not value.is_finite():
            raise _integrity_error(table, column, row_id)
        return value

    # -- bytes -------------------------------------------------------------------------

    def encrypt_bytes(self, plaintext: bytes, *, table: str, column: str, row_id: int) -> bytes:
        primary = self.keyring.primary
        header = _header(primary.key_id)
        nonce = os.urandom(NONCE_SIZE)
        sealed = self._aead(primary).encrypt(
            nonce, plaintext, _associated_data(header, table, column, row_id)
        )
        return header + nonce + sealed

    def decrypt_bytes(self, blob: bytes, *, table: str, column: str, row_id: int) -> bytes:
        key_id, body_offset = _parse_header(blob)
        associated = _associated_data(bytes(blob[:body_offset]), table, column, row_id)
        master = self.keyring.get(key_id)
        nonce = blob[body_offset : body_offset + NONCE_SIZE]
        sealed = blob[body_offset + NONCE_SIZE :]
        if len(nonce) != NONCE_SIZE or len(sealed) < TAG_SIZE:
            raise _integrity_error(table, column, row_id)
        try:
            return self._aead(master).decrypt(nonce, sealed, associated)
        except InvalidTag:
            raise _integrity_error(table, column, row_id) from None

    def reencrypt(self, blob: bytes, *, table: str, column: str, row_id: int) -> bytes:
        """The same plaintext sealed under the primary key (used by key rotation)."""
        plaintext = self.decrypt_bytes(blob, table=table, column=column, row_id=row_id)
        return self.encrypt_bytes(plaintext, table=table, column=column, row_id=row_id)

    def key_id_of(self, blob: bytes) -> str:
        """The master key id a blob was encrypted under."""
        return _parse_header(blob)[0]

    # -- blind indexes -----------------------------------------------------------------

    def blind_index(self, value: str, *, column: str) -> bytes:
        """32-byte HMAC-SHA256 of the normalised value under the primary key's index key."""
        return self._blind_index(self.keyring.primary, value, column)

    def blind_index_candidates(self, value: str, *, column: str) -> list[bytes]:
        """The value's index under every configured key, primary first: search with
        `IN (...)` while a rotation has not yet recomputed every row's index."""
        return [
            self._blind_index(self.keyring.get(key_id), value, column)
            for key_id in self.keyring.ids
        ]

    def _blind_index(self, master: MasterKey, value: str, column: str) -> bytes:
        key = self._index_keys.get(master.key_id)
        if key is None:
            key = self._index_keys[master.key_id] = derive_subkey(master, INDEX_PURPOSE)
        message = _length_prefixed(column) + normalise_for_index(value).encode("utf-8")
        return hmac.new(key, message, hashlib.sha256).digest()

    def _aead(self, master: MasterKey) -> AESGCM:
        aead = self._aeads.get(master.key_id)
        if aead is None:
            aead = self._aeads[master.key_id] = AESGCM(derive_subkey(master, FIELD_PURPOSE))
        return aead


def normalise_for_index(value: str) -> str:
    """The form a searched value is indexed in, so typing variations still match.

    NFKC (full-width digits and letters become ASCII), then every whitespace character and
    hyphen-like dash removed, then upper case (an ID number's check character 'x' is 'X'),
    then a leading country code "+86" or "0086" dropped (phones). So "138 0013 8000",
    "138-0013-8000" and "+8613800138000" all index as "13800138000".
    """
    text = unicodedata.normalize("NFKC", value)
    text = "".join(ch for ch in text if not ch.isspace() and ch not in DASHES).upper()
    for prefix in PHONE_COUNTRY_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            return text[len(prefix) :]
    return text


def _header(key_id: str) -> bytes:
    encoded = key_id.encode("ascii")
    return bytes((FORMAT_VERSION, len(encoded))) + encoded


def _parse_header(blob: bytes) -> tuple[str, int]:
    if not isinstance(blob, bytes | bytearray | memoryview) or len(blob) < 2:
        raise FieldIntegrityError("an encrypted field is malformed")
    blob = bytes(blob[:66])
    if blob[0] != FORMAT_VERSION:
        raise UnsupportedFieldFormatError(
            f"encrypted field format version {blob[0]} is not supported "
            f"(this build reads {FORMAT_VERSION})"
        )
    end = 2 + blob[1]
    try:
        key_id = blob[2:end].decode("ascii")
    except UnicodeDecodeError:
        key_id = ""
    if len(blob) < end or not KEY_ID_PATTERN.fullmatch(key_id):
        raise FieldIntegrityError("an encrypted field is malformed")
    return key_id, end


def _associated_data(header: bytes, table: str, column: str, row_id: int) -> bytes:
    if isinstance(row_id, bool) or not isinstance(row_id, int):
        raise TypeError("row_id must be the row's integer id (flush the row first)")
    if not table or not column:
        raise ValueError("table and column must be named")
    return (
        AD_LABEL
        + header
        + _length_prefixed(table)
        + _length_prefixed(column)
        + struct.pack(">q", row_id)
    )


def _length_prefixed(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack(">H", len(encoded)) + encoded


def _integrity_error(table: str, column: str, row_id: int) -> FieldIntegrityError:
    return FieldIntegrityError(
        f"encrypted field {table}.{column} of row {row_id} failed its integrity check"
    )
