"""The machine itself: one shared definition, a pure layer, steps, FLOW.md, message ids."""

from __future__ import annotations

import ast
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import transitions

import conversations
from conversations import machine
from conversations.diagram import flow_document, mermaid
from conversations.effects import SaveAnswer
from conversations.events import Command, Start, Text
from conversations.flow import STATES, Snapshot, handle, step_of
from conversations.memory import InMemoryChat
from conversations.replies import messages_in

PACKAGE = Path(conversations.__file__).parent
LENDING = PACKAGE.parent / "lending"
TODAY = date(2026, 11, 27)


def sources(*folders: Path) -> list[Path]:
    return sorted(path for folder in folders for path in folder.glob("*.py"))


def marked_message_ids() -> set[str]:
    """Every string literal passed to N_ in the conversation and lending packages."""
    found = set()
    for path in sources(PACKAGE, LENDING):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "N_"
                and len(node.args) == 1
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found.add(node.args[0].value)
    return found


def test_the_package_is_pure() -> None:
    forbidden_modules = {"telegram", "aiohttp", "sqlalchemy", "storage", "bot", "backoffice"}
    # No clock, randomness, files, processes or sockets either.
    forbidden_modules |= {
        "time",
        "random",
        "secrets",
        "os",
        "pathlib",
        "io",
        "socket",
        "subprocess",
    }
    forbidden_calls = {"now", "today", "utcnow", "open", "read_text", "write_text", "read_bytes"}
    for path in sources(PACKAGE):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else []
                if isinstance(node, ast.ImportFrom) and node.module:
                    names.append(node.module)
                for name in names:
                    assert name.split(".")[0] not in forbidden_modules, (path.name, name)
            if isinstance(node, ast.Call):
                func = node.func
                called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                assert called not in forbidden_calls, (path.name, called)


def test_one_machine_serves_every_chat() -> None:
    constructions = [
        path.name
        for path in sources(PACKAGE)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and str(getattr(node.func, "id", "")).endswith("Machine")
    ]
    assert constructions == ["machine.py"]


def test_handling_events_builds_no_machine_and_leaves_no_model_behind(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a Machine was built while handling an event")

    monkeypatch.setattr(transitions.Machine, "__init__", refuse)
    applicant = InMemoryChat(today=TODAY, telegram_language="zh-cn")
    applicant.advance_to("summary")
    assert applicant.state == "summary"
    assert machine.MACHINE.models == []


def test_a_failing_event_leaves_no_model_on_the_shared_machine(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("conversations.chat.parse_answer", explode)
    applicant = InMemoryChat(today=TODAY)
    applicant.advance_to("company_name")
    with pytest.raises(RuntimeError, match="boom"):
        applicant.send(Text("Acme"))
    assert machine.MACHINE.models == []


def test_handle_is_deterministic_and_does_not_touch_its_snapshot() -> None:
    applicant = InMemoryChat(today=TODAY)
    applicant.advance_to("annual_revenue")
    snapshot = applicant.snapshot()
    context_before = dict(snapshot.context)
    first = handle(snapshot, Text("200万"))
    second = handle(snapshot, Text("200万"))
    assert first == second
    assert dict(snapshot.context) == context_before
    (saved,) = first.effects
    assert isinstance(saved, SaveAnswer)
    assert (saved.field, saved.value) == ("annual_revenue", Decimal("2000000.00"))


def test_steps() -> None:
    assert step_of("language") == (1, 7)
    assert step_of("consent_declined") == (2, 7)
    assert step_of("annual_revenue") == (3, 7)
    assert step_of("phone") == (4, 7)
    assert step_of("security_details") == (5, 7)
    assert step_of("document_upload") == (6, 7)
    assert step_of("edit_choice") == (7, 7)
    for state in ("new", "idle", "submitting", "confirm_cancel"):
        assert step_of(state) is None
    assert all(step_of(state) is not None for state in machine.DRAFT_STATES)


def test_flow_md_is_generated_from_the_machine() -> None:
    assert (PACKAGE / "FLOW.md").read_text(encoding="utf-8") == flow_document()


def test_the_diagram_covers_every_state_and_trigger() -> None:
    diagram = mermaid()
    assert diagram.startswith("stateDiagram-v2\n")
    for state in STATES:
        assert f" {state}" in diagram
    for trigger in machine.MACHINE.events:
        per_section = trigger.startswith("edit_") and trigger != "edit_documents"
        shown = "edit_" if per_section else trigger
        assert f": {shown}" in diagram, trigger


def test_every_message_of_a_full_application_is_marked_for_translation() -> None:
    marked = marked_message_ids()
    applicant = InMemoryChat(today=TODAY, telegram_language="en")
    seen: set[str] = set()
    for step in range(60):
        if applicant.state == "idle":
            break
        replies = applicant.send(Start()) if step == 0 else applicant.answer_current()
        replies += applicant.send(Command("help")) + applicant.send(Command("status"))
        seen |= {message.msgid for reply in replies for message in messages_in(reply)}
    applicant.send(Command("language"))
    seen |= {message.msgid for reply in applicant.last for message in messages_in(reply)}
    assert applicant.state == "idle"
    assert seen - marked == set()
    assert len(seen) > 60


def test_context_holds_only_small_json_and_no_personal_data() -> None:
    applicant = InMemoryChat(today=TODAY)
    contexts = []
    for _ in range(60):
        if applicant.state == "idle":
            break
        if applicant.state == "new":
            applicant.send(Start())
        else:
            applicant.answer_current()
        contexts.append(json.dumps(applicant.context))
    assert all(set(json.loads(text)) <= {"q", "editing", "doc_type", "resume"} for text in contexts)
    assert not any("330106" in text or "13905712468" in text for text in contexts)


def test_reprs_hide_personal_data() -> None:
    applicant = InMemoryChat(today=TODAY)
    applicant.advance_to("phone")
    snapshot: Snapshot = applicant.snapshot()
    assert "330106198001011235" not in repr(snapshot)
    saved = SaveAnswer("owner_id_number", "330106198001011235")
    assert "330106198001011235" not in repr(saved)
