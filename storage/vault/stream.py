"""The STREAM construction over AES-256-GCM: one file's segments, sealed and opened in order.

Each 64 KiB plaintext segment becomes its ciphertext followed by a 16-byte tag, under the
nonce `prefix(7) ‖ counter(4, big-endian) ‖ last(1)`. The counter stops reordering and
dropping of middle segments; the last flag stops truncation at a segment boundary and
appending. Only the final segment may be shorter than 64 KiB, and it may be empty (an
empty file is one empty final segment).

These classes work on batches of segments and do no I/O. `open_batch` yields the plaintext
of a segment only after its tag verified.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator, Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from storage.vault.format import NONCE_PREFIX_SIZE

SEGMENT_SIZE = 64 * 1024
TAG_SIZE = 16
SEALED_SEGMENT_SIZE = SEGMENT_SIZE + TAG_SIZE
MAX_SEGMENTS = 2**32
_NONCE_TAIL = struct.Struct(">IB")

BytesLike = bytes | bytearray | memoryview


class StreamError(Exception):
    """A segment failed authentication or the stream is cut in the wrong place."""


class _Stream:
    def __init__(self, data_key: bytes, nonce_prefix: bytes, associated_data: bytes) -> None:
        if len(nonce_prefix) != NONCE_PREFIX_SIZE:
            raise ValueError("the nonce prefix must be 7 bytes")
        self._aead = AESGCM(data_key)
        self._prefix = nonce_prefix
        self._associated_data = associated_data
        self._counter = 0
        self.finished = False

    def _nonces(self, count: int, *, final: bool) -> list[bytes]:
        """Nonces for the next `count` segments, the last one flagged if `final`."""
        if self.finished:
            raise StreamError("the stream already ended with its last segment")
        first = self._counter
        if first + count > MAX_SEGMENTS:
            raise StreamError("a vault file holds at most 2**32 segments")
        prefix, pack = self._prefix, _NONCE_TAIL.pack
        nonces = [prefix + pack(counter, 0) for counter in range(first, first + count)]
        if final:
            nonces[-1] = prefix + pack(first + count - 1, 1)
            self.finished = True
        self._counter = first + count
        return nonces


class SegmentSealer(_Stream):
    """Encrypts one file's plaintext, batch after batch, in segment order."""

    def seal_into(self, segments: Sequence[BytesLike], out: bytearray, *, final: bool) -> int:
        """Seal each segment into `out`, back to back; returns how many bytes were written.

        Every segment is 64 KiB, except that in the final batch the last segment (sealed
        with the last flag) may be shorter, even empty. Writing into one reused buffer
        instead of a fresh bytes object per segment saves the page faults that otherwise
        cost as much as the AES itself.
        """
        if not segments:
            raise ValueError("a batch needs at least one segment")
        short = [len(segment) != SEGMENT_SIZE for segment in segments]
        if any(short[:-1]) or (short[-1] and (not final or len(segments[-1]) > SEGMENT_SIZE)):
            raise ValueError("only the last segment may be shorter than 64 KiB")
        target = memoryview(out)
        encrypt_into, associated_data = self._aead.encrypt_into, self._associated_data
        position = 0
        for nonce, segment in zip(self._nonces(len(segments), final=final), segments, strict=True):
            end = position + len(segment) + TAG_SIZE
            encrypt_into(nonce, segment, associated_data, target[position:end])
            position = end
        return position


class SegmentOpener(_Stream):
    """Decrypts one file's sealed segments in order; the last one must carry the last flag."""

    def open_batch(self, sealed: BytesLike, *, final: bool) -> Iterator[bytes]:
        """The plaintext of each segment in `sealed`, each yielded only after its tag verified.

        A non-final batch must be whole sealed segments; the final batch ends with the last
        segment, which holds at least its tag. Anything else raises StreamError.
        """
        view = memoryview(sealed).cast("B")
        length = len(view)
        if not final and (length == 0 or length % SEALED_SEGMENT_SIZE):
            raise StreamError("the stream is cut inside a segment")
        starts = range(0, length, SEALED_SEGMENT_SIZE)
        if final and (not starts or length - starts[-1] < TAG_SIZE):
            raise StreamError("the stream ends without a complete last segment")
        decrypt, associated_data = self._aead.decrypt, self._associated_data
        for nonce, start in zip(self._nonces(len(starts), final=final), starts, strict=True):
            try:
                plaintext = decrypt(
                    nonce, view[start : start + SEALED_SEGMENT_SIZE], associated_data
                )
            except InvalidTag:
                raise StreamError("a segment failed authentication") from None
            yield plaintext
