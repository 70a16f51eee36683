"""Wording rules across the English message ids of conversations/ and lending/.

The translator works from these ids, so a term used two ways here becomes two terms in
Chinese. The ids are read the way pybabel extracts them: string literals marked with `N_`.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conversations import questions
from conversations.progress import SECTIONS

REPO = Path(__file__).resolve().parents[1]
GIVES_AN_EXAMPLE = re.compile(r"for example|for instance|e\.g\.|\bas in\b", re.IGNORECASE)


def message_ids(*paths: Path) -> set[str]:
    """Every `N_("...")` literal in the files."""
    found = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "N_"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


ALL_IDS = message_ids(*(REPO / "conversations").glob("*.py"), *(REPO / "lending").glob("*.py"))


def test_the_scan_sees_the_message_ids() -> None:
    assert questions.PHONE_QUESTION in ALL_IDS
    assert "Please send a whole number using digits." in ALL_IDS
    assert len(ALL_IDS) > 150


def test_the_legal_representative_is_named_once_in_the_owner_sections_first_question() -> None:
    owner_section = dict(SECTIONS)["Owner"]
    first_question = questions.TEXT_PROMPTS[owner_section[0]].question
    assert "the owner (legal representative)" in first_question
    mentions = [msgid for msgid in ALL_IDS if "representative" in msgid.lower()]
    assert mentions == [first_question]


def test_the_owner_is_called_the_owner_everywhere_else() -> None:
    # Not "business owner", "proprietor" or "the owner who is applying": one person, one name.
    for other_name in ("business owner", "proprietor", "owner who", "legal person", "boss"):
        assert not [msgid for msgid in ALL_IDS if other_name in msgid.lower()], other_name
    owner_ids = [msgid for msgid in ALL_IDS if "owner" in msgid.lower()]
    assert len(owner_ids) >= 8


def test_refusal_reasons_leave_the_example_to_the_example_line() -> None:
    validators = message_ids(
        REPO / "lending" / "amounts.py",
        REPO / "lending" / "answers.py",
        REPO / "conversations" / "validation.py",
    )
    assert len(validators) > 30
    offenders = [msgid for msgid in validators if GIVES_AN_EXAMPLE.search(msgid)]
    assert offenders == []
