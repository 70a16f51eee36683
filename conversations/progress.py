"""Where a state sits in the seven steps of an application, and the line that shows it."""

from __future__ import annotations

from conversations.replies import Message
from locales import N_

SECTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (N_("Language"), ("language",)),
    (N_("Consent"), ("consent", "consent_declined")),
    (
        N_("Company"),
        (
            "company_name",
            "credit_code",
            "industry",
            "years_in_operation",
            "employees",
            "annual_revenue",
        ),
    ),
    (N_("Owner"), ("owner_name", "owner_id_number", "phone")),
    (
        N_("Loan"),
        (
            "amount",
            "term_months",
            "purpose",
            "repayment_method",
            "security_type",
            "security_details",
        ),
    ),
    (N_("Documents"), ("documents", "document_upload")),
    (N_("Summary"), ("summary", "edit_choice")),
)
TOTAL_STEPS = len(SECTIONS)

PROGRESS = N_("Step {step}/{total} · {section}\n{bar}")

_STEP_OF = {
    state: (number, section)
    for number, (section, states) in enumerate(SECTIONS, start=1)
    for state in states
}


def step_of(state: str) -> tuple[int, int] | None:
    """(step, total) for a state that belongs to a step, e.g. (3, 7) for any company question."""
    found = _STEP_OF.get(state)
    return None if found is None else (found[0], TOTAL_STEPS)


def progress_line(state: str) -> Message | None:
    """ "Step 3/7 · Company" with a bar like ▰▰▰▱▱▱▱, or None outside the seven steps."""
    found = _STEP_OF.get(state)
    if found is None:
        return None
    step, section = found
    bar = "▰" * step + "▱" * (TOTAL_STEPS - step)
    return Message(
        PROGRESS, {"step": step, "total": TOTAL_STEPS, "section": Message(section), "bar": bar}
    )
