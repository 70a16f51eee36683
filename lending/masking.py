"""Masks for personal data shown to officers (design §4 item 6).

An 18-character ID number shows its first 6 and last 4 characters (``110101********1234``), an
11-digit phone its first 3 and last 4 (``138****5678``). Anything shorter than expected hides
at least as many characters as the full pattern does, and at least half of its own, so a
truncated or malformed value cannot leak more than a well-formed one.
"""

from __future__ import annotations

MASK = "*"


def mask_id_number(value: str) -> str:
    """``110101199003071234`` → ``110101********1234``."""
    return _mask(value, keep_start=6, keep_end=4, full_length=18)


def mask_phone(value: str) -> str:
    """``13812345678`` → ``138****5678``."""
    return _mask(value, keep_start=3, keep_end=4, full_length=11)


def _mask(value: str, *, keep_start: int, keep_end: int, full_length: int) -> str:
    length = len(value)
    if length >= full_length:
        start, end = keep_start, keep_end
    else:
        hidden = max(full_length - keep_start - keep_end, (length + 1) // 2)
        shown = max(0, length - hidden)
        start = min(keep_start, shown * keep_start // (keep_start + keep_end))
        end = min(keep_end, shown - start)
    return value[:start] + MASK * (length - start - end) + value[length - end :]
