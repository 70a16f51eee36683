"""Who may use which route: the vocabulary of the deny-by-default permission layer.

Every route is declared with a `RouteSpec` naming its `access`: a set of roles, `PUBLIC`
(the sign-in page, static files) or `SIGNING_IN` (the second-factor step, for a session that
has passed the password only). A route without a declaration is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import Enum

from aiohttp import web

from lending.workflow import Role

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Gate(Enum):
    PUBLIC = "public"
    SIGNING_IN = "signing_in"


PUBLIC = Gate.PUBLIC
SIGNING_IN = Gate.SIGNING_IN
Access = frozenset[Role] | Gate

ADMIN = Role.ADMIN
OFFICER = Role.OFFICER
APPROVER = Role.APPROVER
AUDITOR = Role.AUDITOR

EVERY_ROLE: frozenset[Role] = frozenset(Role)
# Those who read applications; administrators manage accounts and do not see loans.
APPLICATION_READERS = frozenset({OFFICER, APPROVER, AUDITOR})
# Those who may unmask personal data; auditors read applications masked only.
UNMASKERS = frozenset({OFFICER, APPROVER})
ADMINISTRATORS = frozenset({ADMIN})
# Loan officers review: open, request information, recommend (lending/workflow.py).
REVIEWERS = frozenset({OFFICER})
# Approve, reject and disburse; the workflow adds four eyes and the approver-only limit.
DECIDERS = frozenset({OFFICER, APPROVER})
# Those who write to applicants.
MESSENGERS = frozenset({OFFICER, APPROVER})
# The audit trail: auditors, and administrators who answer for the system.
AUDIT_READERS = frozenset({AUDITOR, ADMIN})


@dataclass(frozen=True)
class RouteSpec:
    """One route of the back-office and who may use it."""

    method: str
    path: str
    handler: Handler
    access: Access
    name: str | None = None


def allows(access: Access, role: Role | None, *, signing_in: bool) -> bool:
    """Whether a request with this role (None: nobody signed in) may use the route."""
    if isinstance(access, Gate):
        return access is Gate.PUBLIC or (access is Gate.SIGNING_IN and signing_in)
    return role is not None and not signing_in and role in access
