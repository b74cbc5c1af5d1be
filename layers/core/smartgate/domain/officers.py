"""What an officer may do, and what an action does to a passage. Pure.

An officer is in the ``officers`` group and in one or more role groups (customs, border guard,
quarantine, supervisor); the ``custom:gates`` attribute names the gates they serve (``*``: all). An action
names the passage version the officer saw: if anyone (the rules, the lab, another officer) changed the
passage since, the action is refused and the officer looks again. So of two officers acting on the same
passage at once, exactly one wins; the other is told who did what.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from smartgate.domain.passages import IllegalTransition, PassageError, register_sample, transition
from smartgate.domain.plates import plate_key, validate_plate
from smartgate.schemas import BarrierAction, Country, LabSample, LabTest, Passage, PassageStatus
from smartgate.schemas.officers import LOCALES, OfficerAction, OfficerRole

A = OfficerAction
ALL_GATES = "*"
MIN_REASON = 3
PERMISSIONS: dict[OfficerRole, frozenset[OfficerAction]] = {
    OfficerRole.CUSTOMS: frozenset({A.RELEASE, A.HOLD, A.INSPECT, A.CORRECT_PLATE}),
    OfficerRole.BORDER_GUARD: frozenset({A.HOLD, A.CORRECT_PLATE}),
    OfficerRole.QUARANTINE: frozenset({A.HOLD, A.SAMPLE}),
    OfficerRole.SUPERVISOR: frozenset(OfficerAction),
}
"""Customs clears goods; border guards stop vehicles and fix what identifies them; quarantine samples;
a supervisor may do everything (and is who unacknowledged alerts escalate to)."""

TARGET = {A.RELEASE: PassageStatus.RELEASED, A.HOLD: PassageStatus.HELD, A.INSPECT: PassageStatus.IN_INSPECTION}
BARRIER = {A.RELEASE: BarrierAction.OPEN, A.HOLD: BarrierAction.HOLD, A.INSPECT: BarrierAction.HOLD}
CLOSED = (PassageStatus.DEPARTED, PassageStatus.REFUSED)


class ActionRefused(Exception):
    """The action is not done; ``field`` is what was wrong (for the API), ``status`` its HTTP status."""

    def __init__(self, field: str, message: str, status: int) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Officer:
    username: str
    roles: frozenset[OfficerRole]
    gates: frozenset[str]
    locale: str = "vi"

    @classmethod
    def from_groups(cls, username: str, groups: frozenset[str], gates: str | None, locale: str | None) -> Officer:
        roles = frozenset(OfficerRole(g) for g in groups if g in OfficerRole._value2member_map_)
        served = frozenset(g.strip() for g in (gates or "").split(",") if g.strip())
        return cls(username, roles, served, locale if locale in LOCALES else "vi")

    def serves(self, gate_id: str) -> bool:
        return ALL_GATES in self.gates or gate_id in self.gates

    def may(self, action: OfficerAction) -> bool:
        return any(action in PERMISSIONS[r] for r in self.roles)

    @property
    def actor(self) -> str:
        return f"officer:{self.username}"


def authorise(officer: Officer, gate_id: str, action: OfficerAction) -> None:
    if not officer.roles:
        raise ActionRefused(
            "roles", "this account has no officer role (customs, border_guard, quarantine, supervisor)", 403
        )
    if not officer.serves(gate_id):
        raise ActionRefused("gate_id", f"you do not serve gate {gate_id}", 403)
    if not officer.may(action):
        roles = ", ".join(sorted(r.value for r in officer.roles))
        allowed = sorted({a.value for r in officer.roles for a in PERMISSIONS[r]})
        raise ActionRefused(
            "body.action", f"{roles} may not {action.value} (may: {', '.join(allowed) or 'nothing'})", 403
        )


@dataclass(frozen=True)
class ActionRequest:
    action: OfficerAction
    reason: str
    version: int
    plate: str | None = None
    country: str | None = None
    sample_id: str | None = None
    tests: tuple[LabTest, ...] = ()


def check_request(request: ActionRequest) -> None:
    """What is wrong with the request itself, whatever the passage (a missing reason first)."""
    if len(request.reason.strip()) < MIN_REASON:
        raise ActionRefused("body.reason", f"say why (at least {MIN_REASON} characters): it goes on the record", 422)
    if request.action == A.CORRECT_PLATE and not (request.plate or "").strip():
        raise ActionRefused("body.plate", "the corrected plate is required to correct a plate read", 422)
    if request.action == A.SAMPLE and (not request.sample_id or not request.tests):
        field = "body.sample_id" if not request.sample_id else "body.tests"
        raise ActionRefused(field, "a sample needs its id and at least one test", 422)


def _stale(passage: Passage, version: int) -> ActionRefused:
    return ActionRefused(
        "body.version",
        f"the passage changed since you looked at it (version {version}, now {passage.version}: "
        f"{passage.status.value} by {passage.status_by} — {passage.status_reason[:120]}); look again and decide",
        409,
    )


def corrected_plate(request: ActionRequest) -> tuple[str, str]:
    """The corrected plate as printed and its country; a text no VN or CN plate can be is refused."""
    text = " ".join((request.plate or "").split()).upper()
    check = validate_plate(text, request.country)
    if not check.valid or check.country is None:
        raise ActionRefused("body.plate", f"{text!r} is not a VN or CN plate: {check.reason}", 422)
    return check.display, check.country.value


def apply_action(passage: Passage, request: ActionRequest, officer: Officer, at: datetime) -> Passage:
    """The passage after the officer's action, or ActionRefused saying why not (nothing is changed then)."""
    check_request(request)
    authorise(officer, passage.gate_id, request.action)
    if passage.status in CLOSED:
        raise ActionRefused(
            "path.passage_id",
            f"the passage is closed ({passage.status.value} by {passage.status_by}); nothing can be changed",
            409,
        )
    if passage.version != request.version:
        raise _stale(passage, request.version)
    reason = f"{request.action.value} by {officer.username}: {request.reason.strip()}"
    try:
        if request.action in TARGET:
            target = TARGET[request.action]
            if passage.status == target:
                raise ActionRefused("body.action", f"the passage is {target.value} already", 409)
            return transition(passage, target, reason, at, officer.actor)
        if request.action == A.SAMPLE:
            sample = LabSample(
                sample_id=request.sample_id or "", tests=list(request.tests), taken_by=officer.username, taken_at=at
            )
            return register_sample(passage, sample)
        text, country = corrected_plate(request)
        return passage.model_copy(
            update={
                "plate_text": text,
                "plate_key": plate_key(text),
                "country": Country(country),
                "version": passage.version + 1,
            }
        )
    except (IllegalTransition, PassageError) as err:
        raise ActionRefused("body.action", str(err).split(": ", 1)[-1], 409) from err


def barrier_action(request: ActionRequest) -> BarrierAction | None:
    """The barrier command an action is answered with on its lane (none for a sample or a correction)."""
    return BARRIER.get(request.action)
