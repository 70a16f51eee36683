"""The vault file header and the associated data every segment is bound to (docs/vault-format.md).

    offset  size  field
    0       7     magic "LBVAULT"
    7       1     format version (1)
    8       1     algorithm id (1 = AES-256-GCM STREAM, 64 KiB segments, AES-KW wrapped key)
    9       7     nonce prefix (random per file)
    16      1     key id length L (1..64)
    17      L     master key id (ASCII)
    17+L    1     wrapped key length W (40 for algorithm 1)
    18+L    W     data key wrapped with RFC 3394 AES key wrap
    18+L+W  ...   segments

The first 16 bytes never change for the life of a file and go into every segment's
associated data. Key id and wrapped key do change when `keys rotate` re-wraps the data key,
so they stay outside it; the key wrap's own integrity check protects them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field

from storage.keyring import KEY_ID_PATTERN
from storage.vault.errors import UnsupportedFormatError

MAGIC = b"LBVAULT"
VERSION = 1
ALGORITHM_AES256GCM_STREAM = 1
NONCE_PREFIX_SIZE = 7
WRAPPED_KEY_SIZE = 40
DATA_KEY_SIZE = 32
IMMUTABLE_SIZE = len(MAGIC) + 2 + NONCE_PREFIX_SIZE
MAX_KEY_ID_SIZE = 64
MAX_HEADER_SIZE = IMMUTABLE_SIZE + 1 + MAX_KEY_ID_SIZE + 1 + 255
MAX_RECORD_SIZE = 1024
STORAGE_NAME_PATTERN = re.compile(r"[0-9a-f]{32}")
WRAP_PURPOSE = "loanbot vault key wrap v1"


class MalformedHeaderError(Exception):
    """The header's lengths or fields do not parse; the caller reports an integrity failure."""


@dataclass(frozen=True)
class Header:
    """A parsed header; `encode()` gives back the exact bytes."""

    nonce_prefix: bytes
    key_id: str
    wrapped_key: bytes = field(repr=False)
    version: int = VERSION
    algorithm: int = ALGORITHM_AES256GCM_STREAM

    @property
    def immutable(self) -> bytes:
        """The bytes that stay the same through re-wrapping; bound into every segment."""
        return MAGIC + bytes((self.version, self.algorithm)) + self.nonce_prefix

    def encode(self) -> bytes:
        key_id = self.key_id.encode("ascii")
        return (
            self.immutable
            + bytes((len(key_id),))
            + key_id
            + bytes((len(self.wrapped_key),))
            + self.wrapped_key
        )

    def rewrapped(self, key_id: str, wrapped_key: bytes) -> Header:
        return Header(self.nonce_prefix, key_id, wrapped_key, self.version, self.algorithm)


def parse_header(data: bytes) -> tuple[Header, int]:
    """The header at the start of `data` (at least MAX_HEADER_SIZE bytes if the file has them).

    Returns the header and its length. Raises UnsupportedFormatError for another kind of
    file or an unknown version or algorithm, MalformedHeaderError for a damaged header.
    """
    if len(data) < IMMUTABLE_SIZE or not data.startswith(MAGIC):
        raise UnsupportedFormatError("not a vault file (no LBVAULT header)")
    version, algorithm = data[len(MAGIC)], data[len(MAGIC) + 1]
    if version != VERSION:
        raise UnsupportedFormatError(
            f"vault file format version {version} is not supported (this build reads {VERSION})"
        )
    if algorithm != ALGORITHM_AES256GCM_STREAM:
        raise UnsupportedFormatError(f"vault algorithm id {algorithm} is not supported")
    nonce_prefix = data[len(MAGIC) + 2 : IMMUTABLE_SIZE]
    offset = IMMUTABLE_SIZE
    key_id_raw, offset = _length_prefixed(data, offset)
    try:
        key_id = key_id_raw.decode("ascii")
    except UnicodeDecodeError:
        raise MalformedHeaderError("key id is not ASCII") from None
    if not KEY_ID_PATTERN.fullmatch(key_id):
        raise MalformedHeaderError("key id has invalid characters")
    wrapped_key, offset = _length_prefixed(data, offset)
    if len(wrapped_key) != WRAPPED_KEY_SIZE:
        raise MalformedHeaderError("wrapped key has the wrong length")
    return Header(nonce_prefix, key_id, wrapped_key, version, algorithm), offset


def _length_prefixed(data: bytes, offset: int) -> tuple[bytes, int]:
    if offset >= len(data):
        raise MalformedHeaderError("header ends early")
    length = data[offset]
    end = offset + 1 + length
    if length == 0 or end > len(data):
        raise MalformedHeaderError("header field has a bad length")
    return data[offset + 1 : end], end


def encode_record(record: str) -> bytes:
    """The caller's record as bytes, checked; e.g. "application:42"."""
    if not isinstance(record, str) or not record:
        raise ValueError("a vault record must be a non-empty string")
    encoded = record.encode("utf-8")
    if len(encoded) > MAX_RECORD_SIZE:
        raise ValueError(f"a vault record must be at most {MAX_RECORD_SIZE} bytes")
    return encoded


def associated_data(header: Header, storage_name: str, record: bytes) -> bytes:
    """Bytes authenticated with every segment: immutable header ‖ name ‖ record, length-prefixed.

    Binding the storage name too means two files of the same record cannot be swapped.
    """
    name = storage_name.encode("ascii")
    return (
        header.immutable
        + struct.pack(">B", len(name))
        + name
        + struct.pack(">H", len(record))
        + record
    )


def check_storage_name(storage_name: str) -> str:
    """Refuse anything but 32 lowercase hex digits, before it can touch a path."""
    if not isinstance(storage_name, str) or not STORAGE_NAME_PATTERN.fullmatch(storage_name):
        raise ValueError("a storage name is 32 lowercase hexadecimal characters")
    return storage_name
