"""Masking of ID numbers and phones: the agreed patterns, and never more for odd input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lending.masking import mask_id_number, mask_phone


def test_agreed_patterns() -> None:
    assert mask_id_number("110101199003071234") == "110101********1234"
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_phone("13812345678") == "138****5678"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", ""),
        ("1", "*"),
        ("1234", "****"),
        ("12345678", "********"),
        ("110101490307123", "1101********123"),
    ],
)
def test_short_id_numbers_reveal_less(value: str, expected: str) -> None:
    assert mask_id_number(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", ""), ("138", "***"), ("1381234", "1****34"), ("1381234567", "13*****567")],
)
def test_short_phones_reveal_less(value: str, expected: str) -> None:
    assert mask_phone(value) == expected


def _check_mask(value: str, masked: str, *, start: int, end: int, full_length: int) -> None:
    """Only a prefix of at most `start` and a suffix of at most `end` characters show."""
    assert len(masked) == len(value)
    first_star = masked.find("*")
    shown_start = len(masked) if first_star < 0 else first_star
    stars = masked.count("*")
    shown_end = len(masked) - shown_start - stars
    assert shown_start <= start
    assert shown_end <= end
    assert masked == value[:shown_start] + "*" * stars + value[len(value) - shown_end :]
    assert stars >= min(len(value), full_length - start - end)
    if len(value) < full_length:
        assert stars >= (len(value) + 1) // 2


@given(st.text(alphabet="0123456789X", max_size=40))
def test_id_masks_never_reveal_more_than_the_pattern(value: str) -> None:
    _check_mask(value, mask_id_number(value), start=6, end=4, full_length=18)


@given(st.text(alphabet="0123456789", max_size=30))
def test_phone_masks_never_reveal_more_than_the_pattern(value: str) -> None:
    _check_mask(value, mask_phone(value), start=3, end=4, full_length=11)
