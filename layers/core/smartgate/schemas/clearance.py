"""The cloud's state and events: a passage and its decision, the lab, the bus events, the audit trail."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field

from smartgate.schemas.base import Channel, Contract, Country, Direction, Identifier, LabTest, UtcDatetime
from smartgate.schemas.lane import ContainerRead, FaceVerified, PassScanned, PlateRead, WeightReading
from smartgate.schemas.trade import Booking, Consignment

FactValue = bool | int | float | str | list[str] | None
"""A fact a decision was made on: a flag, a number, a text or a list of texts (None: not known)."""

MAX_DETECTIONS = 24
"""Per kind and passage; more is a lane fault (or a flood), not a truck."""


class RuleFired(Contract):
    """A rule that fired in a decision: what it says, and what it adds (a channel, risk points or both)."""

    rule_id: Identifier
    channel: Channel | None = Field(None, description="the least channel this rule sets; None: risk points only")
    score: Annotated[int, Field(ge=0, le=1000)] = 0
    explanation: Annotated[str, Field(max_length=1000)]


class Decision(Contract):
    """One evaluation of the rule set on a passage, with the facts it read (so it can be replayed)."""

    decision_no: Annotated[int, Field(ge=1, description="1 for the first decision; later ones may only tighten")]
    channel: Channel
    risk_score: Annotated[int, Field(ge=0)]
    rules_fired: list[RuleFired]
    lab_tests: list[LabTest] = Field(default_factory=list)
    ruleset_id: str
    ruleset_version: str
    ruleset_digest: str = Field(description="sha256 of the rule set as evaluated (its archived copy)")
    facts: dict[str, FactValue]
    settled: bool = Field(False, description="made when the settle time ran out, with evidence still missing")
    decided_at: UtcDatetime

    def reason(self) -> str:
        """What the lane display and the officers see first."""
        shown = [r.explanation for r in self.rules_fired if r.channel == self.channel] or [
            r.explanation for r in self.rules_fired
        ]
        return f"{self.channel.value}: " + "; ".join(shown)


class PassageStatus(StrEnum):
    """Where a passage stands. A decision moves OPEN to RELEASED (GREEN), HELD (YELLOW: document check)
    or IN_INSPECTION (RED: physical inspection); a lab sample to SAMPLED; a result or an officer to
    RELEASED or REFUSED; the vehicle leaving to DEPARTED."""

    OPEN = "OPEN"
    RELEASED = "RELEASED"
    HELD = "HELD"
    IN_INSPECTION = "IN_INSPECTION"
    SAMPLED = "SAMPLED"
    REFUSED = "REFUSED"
    DEPARTED = "DEPARTED"


class LabParameter(Contract):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    value: float | str
    unit: Annotated[str, Field(max_length=20)] = ""
    limit: Annotated[str, Field(max_length=100)] | None = None
    ok: bool


class LabResult(Contract):
    outcome: Literal["pass", "fail"]
    parameters: Annotated[list[LabParameter], Field(max_length=100)] = Field(default_factory=list)
    tested_by: Identifier
    posted_at: UtcDatetime
    note: Annotated[str, Field(max_length=1000)] = ""


class LabSample(Contract):
    sample_id: Identifier
    tests: Annotated[list[LabTest], Field(min_length=1)]
    taken_by: Identifier
    taken_at: UtcDatetime
    result: LabResult | None = None


class PassageDetections(Contract):
    plates: Annotated[list[PlateRead], Field(max_length=MAX_DETECTIONS)] = Field(default_factory=list)
    containers: Annotated[list[ContainerRead], Field(max_length=MAX_DETECTIONS)] = Field(default_factory=list)
    passes: Annotated[list[PassScanned], Field(max_length=MAX_DETECTIONS)] = Field(default_factory=list)
    weights: Annotated[list[WeightReading], Field(max_length=MAX_DETECTIONS)] = Field(default_factory=list)
    faces: Annotated[list[FaceVerified], Field(max_length=MAX_DETECTIONS)] = Field(default_factory=list)

    def event_ids(self) -> set[str]:
        groups = (self.plates, self.containers, self.passes, self.weights, self.faces)
        return {d.event_id for group in groups for d in group}


class Passage(Contract):
    """One vehicle's pass through one lane: every detection of it, what it was matched to, the decision.

    ``version`` grows by one with every stored change; a write names the version it read and fails
    if another write came first (no lost update).
    """

    schema_version: Literal["Passage.v2"] = Field("Passage.v2", alias="schema")
    passage_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    direction: Direction
    version: Annotated[int, Field(ge=1)] = 1
    status: PassageStatus = PassageStatus.OPEN
    status_reason: Annotated[str, Field(max_length=1000)] = ""
    status_by: Annotated[str, Field(max_length=200)] = Field(
        "clearance", description="who moved it: clearance (the rules), lab:<id>, officer:<id>, lane"
    )
    status_at: UtcDatetime
    plate_text: str | None = Field(None, description="the vehicle's plate as read (best front read)")
    plate_key: str | None = None
    country: Country | None = None
    booking: Booking | None = Field(None, description="the booking it was matched to, as it was then")
    consignment: Consignment | None = Field(None, description="the declaration of that booking, as it was then")
    match: Literal["exact", "fuzzy", "pass", "none"] = "none"
    match_score: Annotated[float, Field(ge=0, le=1)] = 0.0
    face_expected: bool = Field(
        False, description="the booked driver's face was sent to the lane's cab camera for a 1:1 check"
    )
    detections: PassageDetections = Field(default_factory=PassageDetections)
    first_seen: UtcDatetime
    last_seen: UtcDatetime
    opened_at: UtcDatetime
    settle_deadline: UtcDatetime | None = None
    decision: Decision | None = None
    lab_samples: Annotated[list[LabSample], Field(max_length=10)] = Field(default_factory=list)
    alerts_sent: list[str] = Field(default_factory=list, description="keys of alerts already raised")

    @property
    def booking_id(self) -> str | None:
        return self.booking.booking_id if self.booking else None

    @property
    def consignment_id(self) -> str | None:
        return self.consignment.consignment_id if self.consignment else None

    @property
    def channel(self) -> Channel | None:
        return self.decision.channel if self.decision else None


# --------------------------------------------------------------------------- events on the bus


class PassageEvent(Contract):
    """What every passage event names, so that a consumer can route it without reading the passage."""

    event_id: Identifier
    passage_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    booking_id: Identifier | None = None
    consignment_id: Identifier | None = None


class ClearanceDecided(PassageEvent):
    """``detail-type: ClearanceDecided.v2``: a passage was decided, or a later detection tightened it."""

    schema_version: Literal["ClearanceDecided.v2"] = Field("ClearanceDecided.v2", alias="schema")
    direction: Direction
    plate_text: str | None = None
    channel: Channel
    previous_channel: Channel | None = Field(None, description="set when a later detection tightened the decision")
    risk_score: int
    rules_fired: list[RuleFired]
    lab_tests: list[LabTest] = Field(default_factory=list)
    ruleset_id: str
    ruleset_version: str
    decision_no: int
    status: PassageStatus
    decided_at: UtcDatetime


class PassageStateChanged(PassageEvent):
    """``detail-type: PassageStateChanged.v1``: a passage moved from one status to another."""

    schema_version: Literal["PassageStateChanged.v1"] = Field("PassageStateChanged.v1", alias="schema")
    from_status: PassageStatus | None
    to_status: PassageStatus
    reason: str
    actor: str
    at: UtcDatetime


class LabSampleRegistered(PassageEvent):
    schema_version: Literal["LabSampleRegistered.v1"] = Field("LabSampleRegistered.v1", alias="schema")
    sample: LabSample
    perishable_deadline: UtcDatetime | None = None
    at: UtcDatetime


class LabResultPosted(PassageEvent):
    schema_version: Literal["LabResultPosted.v1"] = Field("LabResultPosted.v1", alias="schema")
    sample_id: Identifier
    result: LabResult
    status: PassageStatus = Field(description="the passage's status after the result")
    at: UtcDatetime


class ShelfLifeAlert(PassageEvent):
    """A held consignment's perishable goods are near (or past) their shelf-life deadline."""

    schema_version: Literal["ShelfLifeAlert.v1"] = Field("ShelfLifeAlert.v1", alias="schema")
    status: PassageStatus
    deadline: UtcDatetime
    hours_left: float
    at: UtcDatetime


# --------------------------------------------------------------------------- audit


class AuditEntry(Contract):
    """One link of a gate's audit chain: ``hash`` covers this entry and the previous entry's hash."""

    schema_version: Literal["AuditEntry.v1"] = Field("AuditEntry.v1", alias="schema")
    gate_id: Identifier
    seq: Annotated[int, Field(ge=1)]
    entry_id: Identifier = Field(description="stable id of what is recorded (a redelivery is not recorded twice)")
    kind: Literal["decision", "state", "lab_sample", "lab_result", "officer_action"]
    passage_id: Identifier
    actor: str
    at: UtcDatetime
    detail: dict[str, Any]
    prev_hash: str
    hash: str
