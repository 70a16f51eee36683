"""The application status machine (design §3): who may move an application, and where to.

One `transitions.Machine` is built at import from `TRANSITIONS` and serves every call: `fire`
registers a throw-away model holding the case for the duration of one trigger, then removes
it. Guards are conditions on the machine's transitions and raise `WorkflowError` with a code
saying why a trigger was refused; an unknown edge becomes code ``illegal_transition``.

The rules, beyond the edges:

- applicants submit, answer requests, accept or decline offers and withdraw; the system
  expires offers and follows repayments; officers (role ``officer``) open, request information
  and recommend; admins and auditors fire nothing;
- ``recommend`` needs every required document; it records the recommender, ``open`` the
  assignee;
- approve / reject from ``pending_approval`` follow four eyes: never the recommender; above
  ``approver_required_above`` only role ``approver``, otherwise officer or approver;
- reject from ``under_review``: an officer or an approver, by their own decision; the system
  can never reject (PIPL art. 24), and every rejection needs a reason.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Literal

from transitions import EventData, Machine, MachineError

from locales import N_


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    UNDER_REVIEW = "under_review"
    INFO_REQUESTED = "info_requested"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    REJECTED = "rejected"
    CLOSED = "closed"
    WITHDRAWN = "withdrawn"
    REPAID = "repaid"
    OVERDUE = "overdue"


class Trigger(StrEnum):
    SUBMIT = "submit"
    OPEN = "open"
    REQUEST_INFO = "request_info"
    ANSWER_INFO = "answer_info"
    RECOMMEND = "recommend"
    APPROVE = "approve"
    REJECT = "reject"
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"
    DISBURSE = "disburse"
    FALL_OVERDUE = "fall_overdue"
    CURE = "cure"
    REPAY = "repay"
    WITHDRAW = "withdraw"


class Role(StrEnum):
    ADMIN = "admin"
    OFFICER = "officer"
    APPROVER = "approver"
    AUDITOR = "auditor"


TERMINAL_STATUSES = frozenset({Status.REJECTED, Status.CLOSED, Status.WITHDRAWN, Status.REPAID})
OPEN_STATUSES = (
    Status.SUBMITTED,
    Status.UNDER_REVIEW,
    Status.INFO_REQUESTED,
    Status.PENDING_APPROVAL,
    Status.APPROVED,
)


@dataclass(frozen=True)
class Actor:
    """Who fires a trigger: an officer (with id and role), the applicant, or the system."""

    kind: Literal["officer", "applicant", "system"]
    id: int | None
    role: Role | None


@dataclass
class ApplicationCase:
    """What the workflow needs to know about one application."""

    status: Status
    amount: Decimal
    recommended_by: int | None = None
    assigned_to: int | None = None
    documents_complete: bool = False


@dataclass(frozen=True)
class Transition:
    """A trigger that succeeded: from `source` to `target`, and the case as it is now."""

    trigger: Trigger
    source: Status
    target: Status
    case: ApplicationCase


class WorkflowError(Exception):
    """A refused trigger. `message` is an English message id; `code` is stable for callers."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


def _illegal() -> WorkflowError:
    return WorkflowError(
        N_("This action is not possible while the application has its current status."),
        "illegal_transition",
    )


def _forbidden() -> WorkflowError:
    return WorkflowError(N_("Your role does not allow this action."), "forbidden_role")


class _Attempt:
    """The throw-away model one trigger runs on; `transitions` binds its methods onto it."""

    def __init__(
        self, case: ApplicationCase, actor: Actor, threshold: Decimal, reason: str | None
    ) -> None:
        self.state: str = case.status.value
        self.case = case
        self.actor = actor
        self.threshold = threshold
        self.reason = reason


def _attempt(event: EventData) -> _Attempt:
    model = event.model
    assert isinstance(model, _Attempt)
    return model


# --- guards (conditions on the machine's transitions); each raises or returns True ----------


def _by_applicant(event: EventData) -> bool:
    if _attempt(event).actor.kind != "applicant":
        raise _forbidden()
    return True


def _by_system(event: EventData) -> bool:
    if _attempt(event).actor.kind != "system":
        raise _forbidden()
    return True


def _officer_role(actor: Actor, allowed: frozenset[Role]) -> Role:
    if actor.kind != "officer" or actor.id is None or actor.role not in allowed:
        raise _forbidden()
    return actor.role


def _by_officer(event: EventData) -> bool:
    _officer_role(_attempt(event).actor, frozenset({Role.OFFICER}))
    return True


def _by_officer_or_approver(event: EventData) -> bool:
    _officer_role(_attempt(event).actor, frozenset({Role.OFFICER, Role.APPROVER}))
    return True


def _documents_complete(event: EventData) -> bool:
    if not _attempt(event).case.documents_complete:
        raise WorkflowError(
            N_(
                "Some required documents are missing. The application can be recommended "
                "once every required document has been received."
            ),
            "documents_missing",
        )
    return True


def _four_eyes_decision(event: EventData) -> bool:
    attempt = _attempt(event)
    role = _officer_role(attempt.actor, frozenset({Role.OFFICER, Role.APPROVER}))
    recommender = attempt.case.recommended_by
    # A case without a recorded recommender cannot prove four eyes, so it is refused too.
    if recommender is None or recommender == attempt.actor.id:
        raise WorkflowError(
            N_(
                "Four-eyes rule: the officer who recommended this application cannot decide "
                "on it. Another officer or an approver must decide."
            ),
            "four_eyes",
        )
    if attempt.case.amount > attempt.threshold and role is not Role.APPROVER:
        raise WorkflowError(
            N_("The amount is above the limit for officers: an approver must decide."),
            "approver_required",
        )
    return True


def _reason_given(event: EventData) -> bool:
    reason = _attempt(event).reason
    if reason is None or not reason.strip():
        raise WorkflowError(N_("Please give the reason for this rejection."), "reason_required")
    return True


def _assign(event: EventData) -> None:
    attempt = _attempt(event)
    attempt.case = replace(attempt.case, assigned_to=attempt.actor.id)


def _record_recommender(event: EventData) -> None:
    attempt = _attempt(event)
    attempt.case = replace(attempt.case, recommended_by=attempt.actor.id)


# --- the machine ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edge:
    trigger: Trigger
    sources: tuple[Status, ...]
    target: Status
    guards: tuple[Callable[[EventData], bool], ...]
    effects: tuple[Callable[[EventData], None], ...] = ()


_EDGES = (
    _Edge(Trigger.SUBMIT, (Status.DRAFT,), Status.SUBMITTED, (_by_applicant,)),
    _Edge(Trigger.OPEN, (Status.SUBMITTED,), Status.UNDER_REVIEW, (_by_officer,), (_assign,)),
    _Edge(Trigger.REQUEST_INFO, (Status.UNDER_REVIEW,), Status.INFO_REQUESTED, (_by_officer,)),
    _Edge(Trigger.ANSWER_INFO, (Status.INFO_REQUESTED,), Status.UNDER_REVIEW, (_by_applicant,)),
    _Edge(
        Trigger.RECOMMEND,
        (Status.UNDER_REVIEW,),
        Status.PENDING_APPROVAL,
        (_by_officer, _documents_complete),
        (_record_recommender,),
    ),
    _Edge(Trigger.APPROVE, (Status.PENDING_APPROVAL,), Status.APPROVED, (_four_eyes_decision,)),
    _Edge(
        Trigger.REJECT,
        (Status.UNDER_REVIEW,),
        Status.REJECTED,
        (_by_officer_or_approver, _reason_given),
    ),
    _Edge(
        Trigger.REJECT,
        (Status.PENDING_APPROVAL,),
        Status.REJECTED,
        (_four_eyes_decision, _reason_given),
    ),
    _Edge(Trigger.ACCEPT, (Status.APPROVED,), Status.ACCEPTED, (_by_applicant,)),
    _Edge(Trigger.DECLINE, (Status.APPROVED,), Status.CLOSED, (_by_applicant,)),
    _Edge(Trigger.EXPIRE, (Status.APPROVED,), Status.CLOSED, (_by_system,)),
    _Edge(Trigger.DISBURSE, (Status.ACCEPTED,), Status.ACTIVE, (_by_officer_or_approver,)),
    _Edge(Trigger.FALL_OVERDUE, (Status.ACTIVE,), Status.OVERDUE, (_by_system,)),
    _Edge(Trigger.CURE, (Status.OVERDUE,), Status.ACTIVE, (_by_system,)),
    _Edge(Trigger.REPAY, (Status.ACTIVE, Status.OVERDUE), Status.REPAID, (_by_system,)),
    _Edge(Trigger.WITHDRAW, OPEN_STATUSES, Status.WITHDRAWN, (_by_applicant,)),
)

MACHINE = Machine(
    model=None,
    states=[status.value for status in Status],
    transitions=[
        {
            "trigger": edge.trigger.value,
            "source": [source.value for source in edge.sources],
            "dest": edge.target.value,
            "conditions": list(edge.guards),
            "after": list(edge.effects),
        }
        for edge in _EDGES
    ],
    initial=Status.DRAFT.value,
    send_event=True,
    auto_transitions=False,
    ignore_invalid_triggers=False,
)
# Registering a model mutates the shared machine; one trigger at a time keeps that safe even
# if a caller runs workflow code in worker threads.
_MACHINE_LOCK = threading.Lock()


def fire(
    case: ApplicationCase,
    trigger: Trigger,
    actor: Actor,
    *,
    approver_required_above: Decimal,
    reason: str | None = None,
) -> Transition:
    """Apply `trigger` for `actor`; the returned case is new and `case` itself is unchanged."""
    attempt = _Attempt(replace(case), actor, approver_required_above, reason)
    with _MACHINE_LOCK:
        MACHINE.add_model(attempt, initial=case.status.value)
        try:
            MACHINE.events[trigger.value].trigger(attempt)
        except MachineError:
            raise _illegal() from None
        finally:
            MACHINE.remove_model(attempt)
    target = Status(attempt.state)
    return Transition(trigger, case.status, target, replace(attempt.case, status=target))


_Recommender = Literal["none", "actor", "other"]


@dataclass(frozen=True)
class _Facts:
    """All that the guards read of a case and an actor; the offered triggers follow from it."""

    status: Status
    kind: Literal["officer", "applicant", "system"]
    role: Role | None
    has_id: bool
    documents_complete: bool
    recommender: _Recommender
    above_limit: bool


# Every application page asks for the offered triggers; trying each one on the machine cost
# more than the page's queries, and the answer depends on these few facts only.
@cache
def _allowed_for(facts: _Facts) -> tuple[Trigger, ...]:
    actor_id = 1 if facts.has_id else None
    recommended_by = {"none": None, "actor": actor_id, "other": 2}[facts.recommender]
    case = ApplicationCase(
        status=facts.status,
        amount=Decimal(1) if facts.above_limit else Decimal(0),
        recommended_by=recommended_by,
        documents_complete=facts.documents_complete,
    )
    actor = Actor(kind=facts.kind, id=actor_id, role=facts.role)
    offered = set(MACHINE.get_triggers(case.status.value))
    allowed = []
    for trigger in (trigger for trigger in Trigger if trigger.value in offered):
        try:
            fire(
                case,
                trigger,
                actor,
                approver_required_above=Decimal(0),
                reason="(reason to be given)",
            )
        except WorkflowError:
            continue
        allowed.append(trigger)
    return tuple(allowed)


def allowed_triggers(
    case: ApplicationCase, actor: Actor, *, approver_required_above: Decimal
) -> list[Trigger]:
    """The triggers `actor` could fire now (a rejection assumes a reason will be given)."""
    if case.recommended_by is None:
        recommender: _Recommender = "none"
    elif case.recommended_by == actor.id:
        recommender = "actor"
    else:
        recommender = "other"
    facts = _Facts(
        status=case.status,
        kind=actor.kind,
        role=actor.role,
        has_id=actor.id is not None,
        documents_complete=case.documents_complete,
        recommender=recommender,
        above_limit=case.amount > approver_required_above,
    )
    return list(_allowed_for(facts))


def edges() -> list[tuple[Status, Trigger, Status]]:
    """Every (source, trigger, target) edge of the machine, in definition order."""
    found: list[tuple[Status, Trigger, Status]] = []
    for name, event in MACHINE.events.items():
        for source, transitions in event.transitions.items():
            found.extend(
                (Status(source), Trigger(name), Status(transition.dest))
                for transition in transitions
                if transition.dest is not None
            )
    return found


def mermaid() -> str:
    """A Mermaid state diagram of the machine (kept in lending/WORKFLOW.md)."""
    lines = ["stateDiagram-v2", f"    [*] --> {Status.DRAFT.value}"]
    lines += [f"    {source} --> {target}: {trigger}" for source, trigger, target in edges()]
    lines += [f"    {status} --> [*]" for status in Status if status in TERMINAL_STATUSES]
    return "\n".join(lines) + "\n"


_STATUS_LABELS = {
    Status.DRAFT: N_("Draft"),
    Status.SUBMITTED: N_("Submitted"),
    Status.UNDER_REVIEW: N_("Under review"),
    Status.INFO_REQUESTED: N_("Information requested"),
    Status.PENDING_APPROVAL: N_("Awaiting approval"),
    Status.APPROVED: N_("Approved, awaiting the applicant's acceptance"),
    Status.ACCEPTED: N_("Accepted, awaiting disbursement"),
    Status.ACTIVE: N_("Active loan"),
    Status.REJECTED: N_("Rejected"),
    Status.CLOSED: N_("Closed"),
    Status.WITHDRAWN: N_("Withdrawn"),
    Status.REPAID: N_("Repaid"),
    Status.OVERDUE: N_("Overdue"),
}
_TRIGGER_LABELS = {
    Trigger.SUBMIT: N_("Submit"),
    Trigger.OPEN: N_("Open and assign to me"),
    Trigger.REQUEST_INFO: N_("Request information"),
    Trigger.ANSWER_INFO: N_("Send the requested information"),
    Trigger.RECOMMEND: N_("Recommend for approval"),
    Trigger.APPROVE: N_("Approve"),
    Trigger.REJECT: N_("Reject"),
    Trigger.ACCEPT: N_("Accept the offer"),
    Trigger.DECLINE: N_("Decline the offer"),
    Trigger.EXPIRE: N_("Expire the offer"),
    Trigger.DISBURSE: N_("Disburse"),
    Trigger.FALL_OVERDUE: N_("Mark overdue"),
    Trigger.CURE: N_("Mark back on schedule"),
    Trigger.REPAY: N_("Mark repaid"),
    Trigger.WITHDRAW: N_("Withdraw the application"),
}


def status_label(status: Status) -> str:
    """The English message id naming `status` for people (translate it)."""
    return _STATUS_LABELS[status]


def trigger_label(trigger: Trigger) -> str:
    """The English message id for a button that fires `trigger` (translate it)."""
    return _TRIGGER_LABELS[trigger]
