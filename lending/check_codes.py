"""Check-character algorithms of the Chinese national identifier standards.

- GB 32100-2015, the 18-character unified social credit code (统一社会信用代码);
- GB 11714-1997, the organisation code (组织机构代码) embedded in it at positions 9–17;
- GB 11643-1999, the 18-digit resident identity number (公民身份号码).

Functions here take already-normalised text of the right length and charset; `answers`
does the normalising and turns failures into messages for the applicant.
"""

from __future__ import annotations

# GB 32100 uses digits and capital letters without I, O, Z, S, V (easily misread).
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_VALUES = {char: value for value, char in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_CODE_WEIGHTS = tuple(pow(3, i, 31) for i in range(17))

# GB 32100 table 1: registration authority → the entity types it may register.
CREDIT_CODE_ENTITY_TYPES: dict[str, frozenset[str]] = {
    "1": frozenset("1239"),  # organisation establishment authorities: organs, institutions
    "2": frozenset("19"),  # foreign affairs
    "3": frozenset("123459"),  # justice: law firms, notaries, arbitration
    "4": frozenset("19"),  # culture
    "5": frozenset("1239"),  # civil affairs: social groups, foundations
    "6": frozenset("129"),  # tourism
    "7": frozenset("129"),  # religious affairs
    "8": frozenset("19"),  # trade unions
    "9": frozenset("123"),  # market regulation: enterprises, individual businesses, co-ops
    "A": frozenset("19"),  # military
    "N": frozenset("1239"),  # agriculture: rural collective economic organisations
    "Y": frozenset("1"),  # other
}

# First two digits of a GB/T 2260 division code: provinces, plus 71 Taiwan, 81 Hong Kong,
# 82 Macao (used by residence permits; 83 by permits for Taiwan residents).
PROVINCE_CODES = frozenset(
    {"11", "12", "13", "14", "15", "21", "22", "23"}
    | {"31", "32", "33", "34", "35", "36", "37"}
    | {"41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54"}
    | {"61", "62", "63", "64", "65", "71", "81", "82", "83"}
)
# Organisations registered by a national authority carry the code for the whole country.
NATIONAL_DIVISION = "100000"

_ORGANISATION_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ID_WEIGHTS = tuple(pow(2, 17 - position, 11) for position in range(17))
_ID_CHECK_CHARS = "10X98765432"


def credit_code_check_char(first_17: str) -> str:
    """GB 32100 check character: weights 3^i mod 31, result 31 − (sum mod 31), 31 → 0."""
    total = sum(
        _CREDIT_CODE_VALUES[char] * weight
        for char, weight in zip(first_17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARSET[-total % 31]


def organisation_code_check_char(body: str) -> str:
    """GB 11714 check character of an 8-character organisation code body (0–9 or X)."""
    total = sum(
        int(char, 36) * weight for char, weight in zip(body, _ORGANISATION_WEIGHTS, strict=True)
    )
    remainder = -total % 11
    return "X" if remainder == 10 else str(remainder)


def is_plausible_division(code: str) -> bool:
    """A six-digit administrative division inside a known province (or the national code)."""
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return False
    return code == NATIONAL_DIVISION or code[:2] in PROVINCE_CODES


def id_number_check_char(first_17: str) -> str:
    """GB 11643 check character: weights 2^(17−i) mod 11, then the table "10X98765432"."""
    total = sum(int(char) * weight for char, weight in zip(first_17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]
