"""FLOW.md: a Mermaid state diagram of the applicant conversation, generated from the machine.

The test suite checks that the committed FLOW.md equals `flow_document()`; regenerate with
`python -c "from conversations.diagram import flow_document as f; print(f(), end='')"
> conversations/FLOW.md`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from transitions.core import Condition

from conversations.machine import ANYWHERE, MACHINE, STATES
from conversations.progress import SECTIONS

# Sections drawn as composite states, so an edge shared by a whole section is drawn once.
_GROUPS = {
    "CompanyStep": SECTIONS[2][1],
    "OwnerStep": SECTIONS[3][1],
    "LoanStep": SECTIONS[4][1],
    "DocumentsStep": SECTIONS[5][1],
    "SummaryStep": SECTIONS[6][1],
}
# Names that end in their destination, shortened so one edge can stand for a section's.
_PER_DESTINATION = ("edit_", "was_at_")
# Stands for every state a transition leaves from when it leaves from all of machine.ANYWHERE.
_ANY_STATE = "AnyState"

_INTRO = """# The applicant conversation

Generated from `conversations/machine.py` by `conversations.diagram.flow_document()`; do not
edit by hand (a test compares this file with the machine).

Every question state re-asks itself on invalid input, unsupported messages, stale buttons,
/start, /help, /status and a language change; those self-loops change nothing and are not
drawn. A trigger or condition named after its destination (`edit_<state>`,
`was_at_<state>`) is drawn once per section as `edit_·` / `was_at_·`. The buttons of an
officer's request for information work from every state but `submitting`; those edges leave
from `AnyState`.
"""


def mermaid() -> str:
    """The conversation as a Mermaid stateDiagram-v2, one edge per distinct transition."""
    lines = ["stateDiagram-v2", "    [*] --> new"]
    grouped = {state for states in _GROUPS.values() for state in states}
    for name, states in _GROUPS.items():
        lines.append(f"    state {name} {{")
        lines.extend(f"        {state}" for state in states)
        lines.append("    }")
    lines.extend(f"    {state}" for state in STATES if state not in grouped and state != "new")
    lines.append(f"    {_ANY_STATE} : any state but submitting")
    lines.extend(f"    {source} --> {dest} : {label}" for source, dest, label in _edges())
    return "\n".join(lines) + "\n"


def flow_document() -> str:
    """The full text of conversations/FLOW.md."""
    return f"{_INTRO}\n```mermaid\n{mermaid()}```\n"


def _edges() -> list[tuple[str, str, str]]:
    raw: list[tuple[str, str, str]] = []
    for trigger, event in MACHINE.events.items():
        for source, transitions in event.transitions.items():
            for transition in transitions:
                dest = transition.dest or source
                raw.append((source, dest, _label(trigger, transition.conditions, dest)))
    edges = _from_anywhere(raw)
    edges = _collapse(edges, by_source=True)
    edges = _collapse(edges, by_source=False)
    # An edge to a single state keeps its full name.
    edges = [
        (source, dest, label if dest in _GROUPS else label.replace("·", dest))
        for source, dest, label in edges
    ]
    return sorted(set(edges), key=lambda edge: (_order(edge[0]), _order(edge[1]), edge[2]))


def _label(trigger: str, conditions: Sequence[Condition], dest: str) -> str:
    parts = [_shorten(trigger, dest)]
    for condition in conditions:
        func = condition.func
        name = _shorten(func if isinstance(func, str) else func.__name__, dest)
        parts.append(f"[{name}]" if condition.target else f"[not {name}]")
    return " ".join(parts)


def _shorten(name: str, dest: str) -> str:
    for prefix in _PER_DESTINATION:
        if name == prefix + dest:
            return prefix + "·"
    return name


def _from_anywhere(edges: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One edge from AnyState for a transition that every state of ANYWHERE shares."""
    sources: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, dest, label in edges:
        sources[(dest, label)].add(source)
    shared = {key for key, found in sources.items() if set(ANYWHERE) <= found}
    result = [(_ANY_STATE, dest, label) for dest, label in shared]
    result += [edge for edge in edges if (edge[1], edge[2]) not in shared]
    return result


def _collapse(edges: list[tuple[str, str, str]], *, by_source: bool) -> list[tuple[str, str, str]]:
    """Draw edges that every state of a section shares as one edge from (or to) the section."""
    ends: dict[tuple[str, str], set[str]] = defaultdict(set)
    for source, dest, label in edges:
        fixed, moving = (dest, source) if by_source else (source, dest)
        ends[(fixed, label)].add(moving)
    result = []
    for (fixed, label), found in ends.items():
        for name, states in _GROUPS.items():
            if set(states) <= found and fixed not in states:
                found = (found - set(states)) | {name}
        for end in found:
            result.append((end, fixed, label) if by_source else (fixed, end, label))
    return result


def _order(name: str) -> int:
    if name == _ANY_STATE:
        return len(STATES)
    if name in _GROUPS:
        return STATES.index(_GROUPS[name][0])
    return STATES.index(name)
