"""The application workflow: edges, roles, four eyes, and a randomised state-machine test."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from lending.workflow import (
    MACHINE,
    Actor,
    ApplicationCase,
    Role,
    Status,
    Transition,
    Trigger,
    WorkflowError,
    allowed_triggers,
    edges,
    fire,
    mermaid,
    status_label,
    trigger_label,
)

THRESHOLD = Decimal("1000000")
SMALL = Decimal("500000")
LARGE = Decimal("2000000")

APPLICANT = Actor("applicant", None, None)
SYSTEM = Actor("system", None, None)
OFFICER_1 = Actor("officer", 1, Role.OFFICER)
OFFICER_2 = Actor("officer", 2, Role.OFFICER)
APPROVER = Actor("officer", 3, Role.APPROVER)
ADMIN = Actor("officer", 4, Role.ADMIN)
AUDITOR = Actor("officer", 5, Role.AUDITOR)
EVERYONE = (APPLICANT, SYSTEM, OFFICER_1, OFFICER_2, APPROVER, ADMIN, AUDITOR)

# Design §3, written out independently of the machine so that a changed edge fails here.
OPEN = ("submitted", "under_review", "info_requested", "pending_approval", "approved")
EXPECTED_EDGES = {
    ("draft", "submit", "submitted"),
    ("submitted", "open", "under_review"),
    ("under_review", "request_info", "info_requested"),
    ("info_requested", "answer_info", "under_review"),
    ("under_review", "recommend", "pending_approval"),
    ("pending_approval", "approve", "approved"),
    ("under_review", "reject", "rejected"),
    ("pending_approval", "reject", "rejected"),
    ("approved", "accept", "accepted"),
    ("approved", "decline", "closed"),
    ("approved", "expire", "closed"),
    ("accepted", "disburse", "active"),
    ("active", "fall_overdue", "overdue"),
    ("overdue", "cure", "active"),
    ("active", "repay", "repaid"),
    ("overdue", "repay", "repaid"),
} | {(status, "withdraw", "withdrawn") for status in OPEN}
TERMINAL = {Status.REJECTED, Status.CLOSED, Status.WITHDRAWN, Status.REPAID}
CODES = {
    "illegal_transition",
    "forbidden_role",
    "four_eyes",
    "approver_required",
    "documents_missing",
    "reason_required",
}


def go(
    case: ApplicationCase, trigger: Trigger, actor: Actor, reason: str | None = None
) -> Transition:
    return fire(case, trigger, actor, approver_required_above=THRESHOLD, reason=reason)


def refusal(
    case: ApplicationCase, trigger: Trigger, actor: Actor, reason: str | None = None
) -> str:
    with pytest.raises(WorkflowError) as caught:
        go(case, trigger, actor, reason)
    return caught.value.code


def pending(amount: Decimal = SMALL, recommender: int = 1) -> ApplicationCase:
    return ApplicationCase(
        Status.PENDING_APPROVAL,
        amount,
        recommended_by=recommender,
        assigned_to=recommender,
        documents_complete=True,
    )


def test_the_machine_has_exactly_the_designed_edges() -> None:
    found = {(str(source), str(trigger), str(target)) for source, trigger, target in edges()}
    assert found == EXPECTED_EDGES


def test_a_loan_from_draft_to_repaid() -> None:
    case = ApplicationCase(Status.DRAFT, SMALL)
    case = go(case, Trigger.SUBMIT, APPLICANT).case
    opened = go(case, Trigger.OPEN, OFFICER_1)
    assert (opened.source, opened.target) == (Status.SUBMITTED, Status.UNDER_REVIEW)
    assert opened.case.assigned_to == 1
    case = go(opened.case, Trigger.REQUEST_INFO, OFFICER_1).case
    case = go(case, Trigger.ANSWER_INFO, APPLICANT).case
    case = replace(case, documents_complete=True)
    recommended = go(case, Trigger.RECOMMEND, OFFICER_1)
    assert recommended.case.recommended_by == 1
    approved = go(recommended.case, Trigger.APPROVE, OFFICER_2)
    assert approved.case.status is Status.APPROVED
    assert approved.case.recommended_by == 1
    case = go(approved.case, Trigger.ACCEPT, APPLICANT).case
    case = go(case, Trigger.DISBURSE, APPROVER).case
    case = go(case, Trigger.FALL_OVERDUE, SYSTEM).case
    case = go(case, Trigger.CURE, SYSTEM).case
    assert go(case, Trigger.REPAY, SYSTEM).case.status is Status.REPAID


def test_the_input_case_is_not_mutated() -> None:
    case = ApplicationCase(Status.SUBMITTED, SMALL)
    result = go(case, Trigger.OPEN, OFFICER_1)
    assert case == ApplicationCase(Status.SUBMITTED, SMALL)
    assert result.case is not case
    assert result.case.status is Status.UNDER_REVIEW


def test_the_shared_machine_keeps_no_models() -> None:
    go(ApplicationCase(Status.DRAFT, SMALL), Trigger.SUBMIT, APPLICANT)
    refusal(ApplicationCase(Status.DRAFT, SMALL), Trigger.APPROVE, APPROVER)
    refusal(pending(), Trigger.APPROVE, OFFICER_1)
    assert MACHINE.models == []


def test_recommend_needs_every_document() -> None:
    case = ApplicationCase(Status.UNDER_REVIEW, SMALL, assigned_to=1)
    assert refusal(case, Trigger.RECOMMEND, OFFICER_1) == "documents_missing"


def test_four_eyes_refuses_the_recommender_for_approval_and_rejection() -> None:
    assert refusal(pending(recommender=1), Trigger.APPROVE, OFFICER_1) == "four_eyes"
    assert refusal(pending(recommender=3), Trigger.APPROVE, APPROVER) == "four_eyes"
    assert refusal(pending(recommender=1), Trigger.REJECT, OFFICER_1, "no") == "four_eyes"
    # A case without a recorded recommender cannot satisfy four eyes either.
    unrecorded = replace(pending(), recommended_by=None)
    assert refusal(unrecorded, Trigger.APPROVE, APPROVER) == "four_eyes"


def test_above_the_threshold_only_an_approver_decides() -> None:
    assert refusal(pending(LARGE), Trigger.APPROVE, OFFICER_2) == "approver_required"
    assert refusal(pending(LARGE), Trigger.REJECT, OFFICER_2, "weak") == "approver_required"
    assert go(pending(LARGE), Trigger.APPROVE, APPROVER).target is Status.APPROVED
    at_threshold = pending(THRESHOLD)
    assert go(at_threshold, Trigger.APPROVE, OFFICER_2).target is Status.APPROVED


def test_rejection_needs_a_reason_and_a_person() -> None:
    reviewing = ApplicationCase(Status.UNDER_REVIEW, SMALL, assigned_to=1)
    assert refusal(reviewing, Trigger.REJECT, OFFICER_1) == "reason_required"
    assert refusal(reviewing, Trigger.REJECT, OFFICER_1, "   ") == "reason_required"
    assert refusal(reviewing, Trigger.REJECT, SYSTEM, "score too low") == "forbidden_role"
    assert refusal(pending(), Trigger.REJECT, SYSTEM, "score too low") == "forbidden_role"
    assert go(reviewing, Trigger.REJECT, OFFICER_1, "incomplete").target is Status.REJECTED
    assert go(reviewing, Trigger.REJECT, APPROVER, "incomplete").target is Status.REJECTED


@pytest.mark.parametrize("actor", [ADMIN, AUDITOR])
def test_admins_and_auditors_fire_nothing(actor: Actor) -> None:
    for status in Status:
        case = ApplicationCase(status, SMALL, recommended_by=1, documents_complete=True)
        for trigger in Trigger:
            assert refusal(case, trigger, actor, "reason") in {
                "forbidden_role",
                "illegal_transition",
            }


@pytest.mark.parametrize(
    ("status", "trigger", "wrong_actor"),
    [
        (Status.DRAFT, Trigger.SUBMIT, OFFICER_1),
        (Status.SUBMITTED, Trigger.OPEN, APPLICANT),
        (Status.SUBMITTED, Trigger.OPEN, APPROVER),
        (Status.UNDER_REVIEW, Trigger.REQUEST_INFO, SYSTEM),
        (Status.INFO_REQUESTED, Trigger.ANSWER_INFO, OFFICER_1),
        (Status.APPROVED, Trigger.ACCEPT, OFFICER_1),
        (Status.APPROVED, Trigger.EXPIRE, OFFICER_1),
        (Status.ACCEPTED, Trigger.DISBURSE, SYSTEM),
        (Status.ACTIVE, Trigger.REPAY, APPROVER),
        (Status.UNDER_REVIEW, Trigger.WITHDRAW, OFFICER_1),
        (Status.PENDING_APPROVAL, Trigger.APPROVE, APPLICANT),
    ],
)
def test_triggers_belong_to_their_actors(
    status: Status, trigger: Trigger, wrong_actor: Actor
) -> None:
    case = ApplicationCase(status, SMALL, recommended_by=1, documents_complete=True)
    assert refusal(case, trigger, wrong_actor, "reason") == "forbidden_role"


def test_officers_without_id_or_role_are_refused() -> None:
    case = ApplicationCase(Status.SUBMITTED, SMALL)
    assert refusal(case, Trigger.OPEN, Actor("officer", None, Role.OFFICER)) == "forbidden_role"
    assert refusal(case, Trigger.OPEN, Actor("officer", 1, None)) == "forbidden_role"


@pytest.mark.parametrize("status", sorted(TERMINAL))
def test_final_statuses_accept_no_trigger(status: Status) -> None:
    case = ApplicationCase(status, SMALL, recommended_by=1, documents_complete=True)
    for trigger in Trigger:
        for actor in EVERYONE:
            assert refusal(case, trigger, actor, "reason") == "illegal_transition"


def test_withdraw_only_from_open_statuses() -> None:
    for status in Status:
        case = ApplicationCase(status, SMALL, recommended_by=1)
        if status.value in OPEN:
            assert go(case, Trigger.WITHDRAW, APPLICANT).target is Status.WITHDRAWN
        else:
            assert refusal(case, Trigger.WITHDRAW, APPLICANT) == "illegal_transition"


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize("amount", [SMALL, LARGE])
@pytest.mark.parametrize("recommended_by", [None, 1, 2])
@pytest.mark.parametrize("documents_complete", [True, False])
def test_allowed_triggers_are_exactly_those_that_fire(
    status: Status, amount: Decimal, recommended_by: int | None, documents_complete: bool
) -> None:
    # allowed_triggers answers from a cache keyed by the case's facts; `go` runs the machine.
    case = ApplicationCase(
        status, amount, recommended_by=recommended_by, documents_complete=documents_complete
    )
    for actor in EVERYONE:
        offered = allowed_triggers(case, actor, approver_required_above=THRESHOLD)
        for trigger in Trigger:
            try:
                go(case, trigger, actor, "reason")
            except WorkflowError:
                assert trigger not in offered
            else:
                assert trigger in offered


def test_allowed_triggers_for_a_pending_application() -> None:
    def offered(actor: Actor, amount: Decimal = SMALL) -> list[Trigger]:
        return allowed_triggers(pending(amount), actor, approver_required_above=THRESHOLD)

    assert offered(OFFICER_1) == []  # the recommender
    assert offered(OFFICER_2) == [Trigger.APPROVE, Trigger.REJECT]
    assert offered(OFFICER_2, LARGE) == []
    assert offered(APPROVER, LARGE) == [Trigger.APPROVE, Trigger.REJECT]
    assert offered(APPLICANT) == [Trigger.WITHDRAW]
    assert offered(SYSTEM) == []


def test_workflow_doc_shows_the_current_diagram() -> None:
    doc = (Path(__file__).parent.parent / "lending" / "WORKFLOW.md").read_text(encoding="utf-8")
    assert f"```mermaid\n{mermaid()}```" in doc
    assert mermaid().startswith("stateDiagram-v2\n    [*] --> draft\n")


def test_every_status_and_trigger_has_a_label() -> None:
    assert len({status_label(status) for status in Status}) == len(Status)
    assert len({trigger_label(trigger) for trigger in Trigger}) == len(Trigger)


def test_errors_have_a_message_and_a_known_code() -> None:
    with pytest.raises(WorkflowError) as caught:
        go(pending(), Trigger.APPROVE, OFFICER_1)
    assert caught.value.code in CODES
    assert str(caught.value) == caught.value.message
    assert "recommended" in caught.value.message


# --- randomised: officers 1..4 with random roles, the applicant and the system --------------

DECIDED = {Status.APPROVED, Status.ACCEPTED, Status.ACTIVE, Status.OVERDUE, Status.REPAID}
WHO = st.one_of(st.integers(min_value=1, max_value=4), st.sampled_from(["applicant", "system"]))
DETOURS = {
    Trigger.REQUEST_INFO,
    Trigger.WITHDRAW,
    Trigger.REJECT,
    Trigger.DECLINE,
    Trigger.EXPIRE,
    Trigger.REPAY,
}
REASONS = st.one_of(st.none(), st.sampled_from(["", "  ", "cash flow too weak"]))


class WorkflowStateMachine(RuleBasedStateMachine):
    """Random actors fire random triggers; the invariants of design §3 must always hold."""

    def __init__(self) -> None:
        super().__init__()
        self.case = ApplicationCase(Status.DRAFT, SMALL)
        self.roles: dict[int, Role] = {}
        self.approver: Actor | None = None
        self.path = [Status.DRAFT]

    @initialize(
        roles=st.lists(st.sampled_from(Role), min_size=4, max_size=4),
        amount=st.sampled_from([SMALL, THRESHOLD, LARGE]),
        documents_complete=st.booleans(),
    )
    def start(self, roles: list[Role], amount: Decimal, documents_complete: bool) -> None:
        self.roles = dict(enumerate(roles, start=1))
        self.case = ApplicationCase(Status.DRAFT, amount, documents_complete=documents_complete)

    def actor(self, who: int | str) -> Actor:
        if isinstance(who, int):
            return Actor("officer", who, self.roles[who])
        return APPLICANT if who == "applicant" else SYSTEM

    def apply(self, trigger: Trigger, actor: Actor, reason: str | None) -> bool:
        before = replace(self.case)
        try:
            result = go(self.case, trigger, actor, reason)
        except WorkflowError as error:
            assert error.code in CODES
            assert self.case == before
            if before.status in TERMINAL:
                assert error.code == "illegal_transition"
            return False
        assert self.case == before
        assert (result.source, result.trigger) == (before.status, trigger)
        assert (str(result.source), str(trigger), str(result.target)) in EXPECTED_EDGES
        assert result.case.status is result.target
        assert actor.role not in {Role.ADMIN, Role.AUDITOR}
        if trigger is Trigger.REJECT:
            assert actor.kind == "officer"
            assert reason is not None and reason.strip()
        if (
            trigger in {Trigger.APPROVE, Trigger.REJECT}
            and before.status is Status.PENDING_APPROVAL
        ):
            assert actor.id != before.recommended_by
            if before.amount > THRESHOLD:
                assert actor.role is Role.APPROVER
        if trigger is Trigger.APPROVE:
            self.approver = actor
        if trigger is Trigger.RECOMMEND:
            assert before.documents_complete
            assert result.case.recommended_by == actor.id
        self.case = result.case
        self.path.append(result.target)
        return True

    @rule(trigger=st.sampled_from(Trigger), who=WHO, reason=REASONS)
    def fire_any(self, trigger: Trigger, who: int | str, reason: str | None) -> None:
        self.apply(trigger, self.actor(who), reason)

    @rule(who=WHO, data=st.data())
    def fire_an_offered_trigger(self, who: int | str, data: st.DataObject) -> None:
        actor = self.actor(who)
        offered = allowed_triggers(self.case, actor, approver_required_above=THRESHOLD)
        if offered:
            trigger = data.draw(st.sampled_from(offered))
            assert self.apply(trigger, actor, "documented reason")

    @rule(who=WHO)
    def move_forward(self, who: int | str) -> None:
        """Bias towards the long path, so that approvals and disbursements are exercised."""
        actor = self.actor(who)
        offered = allowed_triggers(self.case, actor, approver_required_above=THRESHOLD)
        forward = [trigger for trigger in offered if trigger not in DETOURS]
        if forward:
            assert self.apply(forward[0], actor, None)

    @rule()
    def documents_arrive(self) -> None:
        self.case = replace(self.case, documents_complete=True)

    @invariant()
    def decided_applications_had_four_eyes(self) -> None:
        if self.case.status in DECIDED:
            assert self.case.recommended_by is not None
            assert self.approver is not None
            assert self.approver.id != self.case.recommended_by
            if self.case.amount > THRESHOLD:
                assert self.approver.role is Role.APPROVER

    @invariant()
    def no_status_was_skipped(self) -> None:
        assert self.path[-1] is self.case.status
        for source, target in pairwise(self.path):
            assert any(s == source and t == target for s, _, t in EXPECTED_EDGES)


WorkflowStateMachine.TestCase.settings = settings(max_examples=150, stateful_step_count=40)
test_workflow_state_machine = WorkflowStateMachine.TestCase
