"""TOTP second factor (RFC 6238: SHA-1, 6 digits, 30 s) with one step of clock drift allowed.

A code is accepted once: the caller stores the matched time-step counter and refuses any
counter at or below it, so a code seen over someone's shoulder cannot be replayed.
"""

from __future__ import annotations

import base64
import hmac
import io
import os
from datetime import datetime

import segno
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor.totp import TOTP

ISSUER = "SME Loan Assistant"
DIGITS = 6
TIME_STEP_SECONDS = 30
DRIFT_STEPS = 1
SECRET_BYTES = 20


def new_secret() -> bytes:
    return os.urandom(SECRET_BYTES)


def encode_secret(secret: bytes) -> str:
    """Base32, the form authenticator apps and the field cipher both take."""
    return base64.b32encode(secret).decode("ascii")


def decode_secret(text: str) -> bytes:
    return base64.b32decode(text)


def _totp(secret: bytes) -> TOTP:
    # SHA-1 is what RFC 6238 authenticator apps implement; here it is an HMAC, where
    # SHA-1's collision weakness does not apply.
    return TOTP(secret, DIGITS, SHA1(), TIME_STEP_SECONDS)  # noqa: S303


def provisioning_uri(secret: bytes, account_name: str) -> str:
    return _totp(secret).get_provisioning_uri(account_name, issuer=ISSUER)


def counter_at(moment: datetime) -> int:
    return int(moment.timestamp()) // TIME_STEP_SECONDS


def code_for_counter(secret: bytes, counter: int) -> str:
    return _totp(secret).generate(counter * TIME_STEP_SECONDS).decode("ascii")


def matching_counter(secret: bytes, code: str, moment: datetime) -> int | None:
    """The time-step counter whose code equals `code` (within the drift window), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isascii() or not code.isdigit():
        return None
    now = counter_at(moment)
    matched = None
    for counter in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_for_counter(secret, counter), code):
            matched = counter
    return matched


def terminal_qr(uri: str) -> str:
    """A QR code of `uri` drawn with block characters, for the `officer add` command."""
    out = io.StringIO()
    segno.make(uri).terminal(out=out, compact=True)
    return out.getvalue()


def qr_data_uri(uri: str) -> str:
    """A QR code of `uri` as an SVG data URI, allowed by our CSP (img-src data:)."""
    return str(segno.make(uri).svg_data_uri(scale=5))
