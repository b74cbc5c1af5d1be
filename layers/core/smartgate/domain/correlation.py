"""Which passage a detection belongs to: one vehicle's reads at one lane, told apart from the next one's.

A lane remembers its recent passages (:class:`LaneTrack`, a few of them, newest last) with what
tells vehicles apart: their plates (folded keys), their declared and read containers, their booking,
and the time span (``captured_at``) of their detections. A detection joins:

1. the passage whose vehicle it names — a plate read of the same plate (up to OCR confusions), a
   container that passage declared or read, a pass for that passage's booking, a trailer plate the
   booking declared;
2. otherwise the passage nearest in time, within the rule set's gap, that still expects that kind of
   detection (a plate read joins a passage with no plate yet; a container one with containers still
   missing or nothing known of its declaration; a weight one not yet weighed; a pass one with no pass
   yet; or any of these the passage of the vehicle at the lane when it was captured) — so that two
   trucks close together on one lane do not share their reads;
3. otherwise it opens a new passage.

Within one vehicle, arrival order does not matter: a detection that arrives late or out of order is
placed by its ``captured_at`` and by what it names, not by when it came. Between two vehicles the
lane has no identity but what the reads name: an unnamed read (a weight, an undeclared container)
captured within the gap after one vehicle and before the next vehicle's plate was *captured* is taken
for the first, whenever it arrives. Lanes should publish a vehicle's plate first (LaneVision does).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from pydantic import Field

from smartgate.domain.matching import fold_plate
from smartgate.schemas import (
    Camera,
    ContainerRead,
    Contract,
    FaceVerified,
    PassScanned,
    PlateRead,
    UtcDatetime,
    WeightReading,
)

AnyDetection = PlateRead | ContainerRead | PassScanned | WeightReading | FaceVerified

KEEP = 6
"""Passages a lane remembers."""
FORGET_AFTER = timedelta(minutes=30)
"""A passage not seen for this long is no longer matched at its lane."""


class PassageRef(Contract):
    """What a lane remembers of one of its recent passages."""

    passage_id: str
    plate_folds: list[str] = Field(default_factory=list)
    trailer_folds: list[str] = Field(default_factory=list)
    containers_declared: list[str] = Field(default_factory=list)
    containers_read: list[str] = Field(default_factory=list)
    booking_id: str | None = None
    declaration_known: bool = False
    weighed: bool = False
    has_pass: bool = False
    trailer_read: bool = False
    first_seen: UtcDatetime
    last_seen: UtcDatetime


class LaneTrack(Contract):
    """A lane's recent passages, newest last; ``version`` guards concurrent updates."""

    gate_id: str
    lane_id: str
    version: Annotated[int, Field(ge=0)] = 0
    recent: list[PassageRef] = Field(default_factory=list)

    def ref(self, passage_id: str) -> PassageRef | None:
        return next((r for r in self.recent if r.passage_id == passage_id), None)

    def with_ref(self, ref: PassageRef, now: datetime) -> LaneTrack:
        """This track with the passage remembered (replacing its older reference), trimmed to the newest.

        Forgetting follows the lane's own clock (the newest capture it knows), not the cloud's: reads that
        arrive late, after an outage, still find the passages of their time.
        """
        others = [r for r in self.recent if r.passage_id != ref.passage_id]
        latest = max([ref.last_seen, *(r.last_seen for r in others)])
        kept = [r for r in others if latest - r.last_seen <= FORGET_AFTER]
        kept.append(ref)
        kept.sort(key=lambda r: (r.first_seen, r.passage_id))
        return self.model_copy(update={"recent": kept[-KEEP:], "version": self.version + 1})

    @property
    def newest(self) -> PassageRef | None:
        return self.recent[-1] if self.recent else None

    def at_lane_when(self, at: datetime) -> PassageRef | None:
        """The vehicle that was at the lane when ``at`` was captured: the newest one first seen by then.

        Not the newest passage known: a read of truck N delivered after truck N+1's plate (redelivery,
        a reconnecting lane's backlog) was still captured while N stood at the barrier."""
        before = [r for r in self.recent if r.first_seen <= at]
        return before[-1] if before else None


def _vehicle_plate(d: PlateRead) -> bool:
    return d.camera in (Camera.FRONT, Camera.REAR)


def _names(ref: PassageRef, d: AnyDetection, pass_booking_id: str | None) -> bool:
    """The detection names this passage's vehicle."""
    if isinstance(d, PlateRead):
        try:
            key = fold_plate(d.plate_text)
        except ValueError:
            return False
        return key in (ref.plate_folds if _vehicle_plate(d) else ref.trailer_folds)
    if isinstance(d, ContainerRead):
        code = d.container_no.upper()
        return code in ref.containers_declared or code in ref.containers_read
    if isinstance(d, PassScanned):
        return pass_booking_id is not None and pass_booking_id == ref.booking_id
    if isinstance(d, FaceVerified):  # compared with the driver of the booking whose pass the lane read
        return ref.booking_id is not None and d.booking_id == ref.booking_id
    return False


def _expects(ref: PassageRef, d: AnyDetection, current: bool) -> bool:
    """The passage may still take a detection of this kind that does not name a vehicle.

    A container, a weight or a pass also joins the passage of the vehicle that was at the lane when it
    was captured (``current``) when it has its own already (a second container, the scale reporting
    again, the pass shown twice): what that vehicle carries must count whatever order it was read in.
    """
    if isinstance(d, PlateRead):
        return not ref.plate_folds if _vehicle_plate(d) else not ref.trailer_read
    if isinstance(d, ContainerRead):
        missing = set(ref.containers_declared) - set(ref.containers_read)
        return bool(missing) or not ref.declaration_known or current
    if isinstance(d, WeightReading):
        return not ref.weighed or current
    if isinstance(d, FaceVerified):
        return current  # the driver in the cab at the barrier
    return not ref.has_pass or current


def _distance(ref: PassageRef, at: datetime) -> timedelta:
    if at < ref.first_seen:
        return ref.first_seen - at
    if at > ref.last_seen:
        return at - ref.last_seen
    return timedelta(0)


def associate(
    detection: AnyDetection, track: LaneTrack, gap: timedelta, pass_booking_id: str | None = None
) -> str | None:
    """The passage this detection joins, or None for a new one (see the module's rules)."""
    at = detection.captured_at
    near = [r for r in track.recent if _distance(r, at) <= gap]
    named = [r for r in track.recent if _names(r, detection, pass_booking_id) and _distance(r, at) <= gap * 1.5]
    if named:
        return min(named, key=lambda r: (_distance(r, at), -r.first_seen.timestamp())).passage_id
    # Unnamed: a passage near in time that still expects this kind of detection (a vehicle plate joins
    # one opened by a container or a pass and without a plate yet), or a new passage.
    current = track.at_lane_when(at) or track.newest
    candidates = [r for r in near if _expects(r, detection, r is current)]
    if not candidates:
        return None
    return min(candidates, key=lambda r: (_distance(r, at), -r.first_seen.timestamp())).passage_id
