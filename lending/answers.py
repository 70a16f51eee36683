"""Validators for the applicant's answers: raw chat text in, a normalised value out.

Every `parse_*` function is total: for any `str` it either returns the normalised value or
raises `InvalidAnswer`, never another exception. Input is folded with NFKC first, so
full-width digits, letters and punctuation typed on a Chinese keyboard (`３０万`, `300，000`,
`ｘ`) are read like their ASCII forms; company names keep their full-width brackets (NFC only),
because that is how they are registered.

Numeric answers (amount, revenue, term, counts) are parsed in `lending.amounts` and
re-exported here, so callers import every validator from this module.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from itertools import pairwise

from lending.amounts import parse_amount, parse_count, parse_revenue, parse_term
from lending.check_codes import (
    CREDIT_CODE_CHARSET,
    CREDIT_CODE_ENTITY_TYPES,
    PROVINCE_CODES,
    credit_code_check_char,
    id_number_check_char,
    is_plausible_division,
    organisation_code_check_char,
)
from lending.invalid_answer import InvalidAnswer, refusal
from locales import N_

__all__ = [
    "InvalidAnswer",
    "parse_amount",
    "parse_company_name",
    "parse_count",
    "parse_credit_code",
    "parse_id_number",
    "parse_mobile",
    "parse_person_name",
    "parse_revenue",
    "parse_term",
]

# Longer answers are refused before any normalisation work is spent on them.
_MAX_RAW_LENGTH = 1000


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text)


def _without_spaces(text: str) -> str:
    return "".join(text.split())


def _collapse_spaces(text: str) -> str:
    return " ".join(text.split())


# --- company -----------------------------------------------------------------------------

COMPANY_EXAMPLE = "杭州示例科技有限公司"
_LINE_BREAKS_AND_TABS = frozenset("\t\n\r")


def _is_control(char: str) -> bool:
    # Cc control, Cf format (zero-width and bidi overrides), Cs surrogates, Co private use,
    # Cn unassigned: none of them belongs in a name, and bidi overrides can disguise one.
    return char not in _LINE_BREAKS_AND_TABS and unicodedata.category(char).startswith("C")


def _is_letter(char: str) -> bool:
    return unicodedata.category(char).startswith("L")


def parse_company_name(text: str) -> str:
    """The registered company name, whitespace collapsed; any script, HTML kept as data."""
    if len(text) > _MAX_RAW_LENGTH:
        raise refusal(
            N_("That company name is too long: it can have at most {maximum} characters."),
            COMPANY_EXAMPLE,
            maximum=100,
        )
    name = unicodedata.normalize("NFC", text)
    # Checked before collapsing: str.split() would silently turn some controls into spaces.
    if any(_is_control(char) for char in name):
        raise InvalidAnswer(
            N_(
                "That company name contains invisible control characters. "
                "Please type the name again without copying it from elsewhere."
            ),
            COMPANY_EXAMPLE,
        )
    name = _collapse_spaces(name)
    if len(name) < 2:
        raise refusal(
            N_(
                "That company name is too short. Please send the full registered name "
                "(at least {minimum} characters), as on the business licence."
            ),
            COMPANY_EXAMPLE,
            minimum=2,
        )
    if len(name) > 100:
        raise refusal(
            N_("That company name is too long: it can have at most {maximum} characters."),
            COMPANY_EXAMPLE,
            maximum=100,
        )
    if not any(_is_letter(char) for char in name):
        raise InvalidAnswer(
            N_(
                "A company name needs letters or Chinese characters, not only digits or "
                "symbols. Please send the name as on the business licence."
            ),
            COMPANY_EXAMPLE,
        )
    return name


# --- unified social credit code (GB 32100-2015) --------------------------------------------

CREDIT_CODE_EXAMPLE = "91350100M000100Y43"


def parse_credit_code(text: str) -> str:
    """An 18-character unified social credit code, upper case, with both check characters."""
    code = _without_spaces(_fold(text[:_MAX_RAW_LENGTH])).upper()
    if any(char not in CREDIT_CODE_CHARSET for char in code):
        raise InvalidAnswer(
            N_(
                "A unified social credit code uses only digits and capital letters, and never "
                "the letters I, O, Z, S or V. Please check it and send it again."
            ),
            CREDIT_CODE_EXAMPLE,
        )
    if len(text) > _MAX_RAW_LENGTH or len(code) != 18:
        raise refusal(
            N_(
                "A unified social credit code has exactly 18 characters, but this one has "
                "{count}. Please copy it from the business licence and send it again."
            ),
            CREDIT_CODE_EXAMPLE,
            count=len(code) if len(text) <= _MAX_RAW_LENGTH else len(text),
        )
    if code[1] not in CREDIT_CODE_ENTITY_TYPES.get(code[0], frozenset()):
        raise InvalidAnswer(
            N_(
                "That unified social credit code is not valid: its first two characters "
                "(registration authority and entity type) do not exist. For a company they "
                "are usually 91. Please check it and send it again."
            ),
            CREDIT_CODE_EXAMPLE,
        )
    if not is_plausible_division(code[2:8]):
        raise InvalidAnswer(
            N_(
                "That unified social credit code is not valid: characters 3 to 8 must be the "
                "six-digit code of a Chinese administrative region. Please check them and "
                "send the code again."
            ),
            CREDIT_CODE_EXAMPLE,
        )
    if credit_code_check_char(code[:17]) != code[17]:
        raise InvalidAnswer(
            N_(
                "That unified social credit code is not valid: its last character does not "
                "match. Please check it and send it again."
            ),
            CREDIT_CODE_EXAMPLE,
        )
    if organisation_code_check_char(code[8:16]) != code[16]:
        raise InvalidAnswer(
            N_(
                "That unified social credit code is not valid: characters 9 to 17 (the "
                "organisation code) do not match their check character. Please check them "
                "and send the code again."
            ),
            CREDIT_CODE_EXAMPLE,
        )
    return code


# --- person ------------------------------------------------------------------------------

PERSON_NAME_EXAMPLE = "张伟"
_NAME_PUNCTUATION = frozenset(" ·-'")
_SPACED_DOT = re.compile(r" ?· ?")
# Look-alikes a phone keyboard may produce for the separator in names such as 阿依古丽·买买提.
_NAME_LOOKALIKES = str.maketrans(
    {
        "•": "·",
        "・": "·",
        "‧": "·",
        "∙": "·",
        "⋅": "·",
        "‐": "-",
        "‑": "-",
        "–": "-",
        "’": "'",
        "‘": "'",
    }
)


def parse_person_name(text: str) -> str:
    """A person's name: letters of any script, with spaces, ·, hyphens and apostrophes."""
    if len(text) > _MAX_RAW_LENGTH:
        raise refusal(
            N_("That name is too long: it can have at most {maximum} characters."),
            PERSON_NAME_EXAMPLE,
            maximum=50,
        )
    name = _fold(text).translate(_NAME_LOOKALIKES)
    if not all(
        _is_letter(char)
        or unicodedata.category(char).startswith(("M", "Zs"))
        or char in _NAME_PUNCTUATION
        or char in _LINE_BREAKS_AND_TABS
        for char in name
    ):
        raise InvalidAnswer(
            N_(
                "A name can contain only letters or Chinese characters, spaces, the middle "
                "dot (·), hyphens and apostrophes. Please send the name as on the ID card."
            ),
            PERSON_NAME_EXAMPLE,
        )
    name = _SPACED_DOT.sub("·", _collapse_spaces(name))
    if len(name) < 2:
        raise refusal(
            N_(
                "That name is too short. Please send the full name (at least {minimum} characters)."
            ),
            PERSON_NAME_EXAMPLE,
            minimum=2,
        )
    if len(name) > 50:
        raise refusal(
            N_("That name is too long: it can have at most {maximum} characters."),
            PERSON_NAME_EXAMPLE,
            maximum=50,
        )
    if (
        not _is_letter(name[0])
        or name[-1] in _NAME_PUNCTUATION
        or any(a in _NAME_PUNCTUATION and b in _NAME_PUNCTUATION for a, b in pairwise(name))
    ):
        raise InvalidAnswer(
            N_(
                "A name must start and end with a Chinese character or a letter, and "
                "punctuation marks cannot stand next to each other. Please send the name again."
            ),
            PERSON_NAME_EXAMPLE,
        )
    return name


# --- resident identity number (GB 11643-1999) -----------------------------------------------

ID_NUMBER_EXAMPLE = "11010519491231002X"
MINIMUM_AGE = 18
MAXIMUM_AGE = 100


def parse_id_number(text: str, *, today: date) -> str:
    """An 18-character resident ID number (final x upper-cased) of an adult born on a real date."""
    number = _without_spaces(_fold(text[:_MAX_RAW_LENGTH])).upper()
    if any(char not in "0123456789X" for char in number) or "X" in number[:-1]:
        raise InvalidAnswer(
            N_(
                "A resident ID number has only digits, except that the last character may be "
                "X. Please check it and send it again."
            ),
            ID_NUMBER_EXAMPLE,
        )
    if len(number) == 15 and number.isdigit() and len(text) <= _MAX_RAW_LENGTH:
        raise InvalidAnswer(
            N_(
                "That looks like an old 15-digit ID number. Please send the 18-digit number "
                "from the owner's current resident ID card."
            ),
            ID_NUMBER_EXAMPLE,
        )
    if len(number) != 18 or len(text) > _MAX_RAW_LENGTH:
        raise refusal(
            N_(
                "A resident ID number has exactly 18 characters, but this one has {count}. "
                "Please check it and send it again."
            ),
            ID_NUMBER_EXAMPLE,
            count=len(number) if len(text) <= _MAX_RAW_LENGTH else len(text),
        )
    if number[:2] not in PROVINCE_CODES:
        raise InvalidAnswer(
            N_(
                "That ID number is not valid: its first six digits must be the code of a "
                "Chinese region. Please check it and send it again."
            ),
            ID_NUMBER_EXAMPLE,
        )
    try:
        born = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        born = None
    if born is None or born > today:
        raise InvalidAnswer(
            N_(
                "That ID number is not valid: digits 7 to 14 must be a real date of birth "
                "(year, month, day). Please check it and send it again."
            ),
            ID_NUMBER_EXAMPLE,
        )
    if id_number_check_char(number[:17]) != number[17]:
        raise InvalidAnswer(
            N_(
                "That ID number is not valid: its last character does not match the others. "
                "There may be a typing mistake; please check it and send it again."
            ),
            ID_NUMBER_EXAMPLE,
        )
    age = today.year - born.year - ((today.month, today.day) < (born.month, born.day))
    if not MINIMUM_AGE <= age <= MAXIMUM_AGE:
        raise refusal(
            N_(
                "The owner must be between {minimum} and {maximum} years old. "
                "Please send the owner's resident ID number."
            ),
            ID_NUMBER_EXAMPLE,
            minimum=MINIMUM_AGE,
            maximum=MAXIMUM_AGE,
        )
    return number


# --- mobile phone ------------------------------------------------------------------------

MOBILE_EXAMPLE = "13812345678"
_PHONE_SEPARATORS = str.maketrans("", "", " -()./")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def parse_mobile(text: str) -> str:
    """A mainland China mobile number as its 11 digits (+86, 0086 or 86 prefixes removed)."""
    number = _without_spaces(_fold(text[:_MAX_RAW_LENGTH])).translate(_PHONE_SEPARATORS)
    if number.startswith("+86"):
        number = number[3:]
    elif number.startswith("0086"):
        number = number[4:]
    elif number.startswith("86") and len(number) == 13:
        number = number[2:]
    elif number.startswith(("+", "00")):
        raise InvalidAnswer(
            N_(
                "Only mainland China mobile numbers (+86) can be used. Please send a mainland "
                "mobile number."
            ),
            MOBILE_EXAMPLE,
        )
    if not number.isascii() or not number.isdigit():
        raise InvalidAnswer(
            N_("A mobile number has only digits. Please send the 11-digit number."),
            MOBILE_EXAMPLE,
        )
    if len(number) != 11 or len(text) > _MAX_RAW_LENGTH:
        raise refusal(
            N_(
                "A mainland mobile number has 11 digits, but this one has {count}. "
                "Please check it and send it again."
            ),
            MOBILE_EXAMPLE,
            count=len(number) if len(text) <= _MAX_RAW_LENGTH else len(text),
        )
    if not _MOBILE.fullmatch(number):
        raise InvalidAnswer(
            N_(
                "That is not a mainland mobile number: they start with 13 to 19. "
                "Landline numbers cannot be used."
            ),
            MOBILE_EXAMPLE,
        )
    return number
