"""Offline clearance: when the cloud has not answered a truck for ``after_s``, the lane decides on its own.

The policy is conservative: only a pass that verifies with the lane's public pass keys, is for this gate
and this lane's direction, is inside its validity window, and names exactly the plate the front camera
read (same plate key, a well-formed read of at least ``min_plate_confidence``) opens the barrier. Anything
else — no pass, a forged, expired or foreign pass, another plate, a doubtful read — keeps the barrier
closed for an officer. The rules the cloud runs (lab results, weight, risk selection) are not known to the
lane, so an offline OPEN can disagree with what the cloud would have said: every offline decision is sent
(as a :class:`~smartgate.schemas.BarrierEvent`, kind ``offline_decision``, through the outbox) for the
cloud to reconcile once the link is back, and a conflict reaches officers.

A truck, as the lane sees it: a front plate read starts one; its other detections (rear and trailer plates,
the pass, containers, weight) join it until the next front plate of another vehicle. The cloud gives the
passage the id :func:`smartgate.domain.crossing.passage_id_for` makes of the truck's first detection, so
the lane names the same passage in its decision, and refuses the cloud's late command for it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

from smartgate.domain.crossing import passage_id_for
from smartgate.domain.passes import Ed25519PassVerifier
from smartgate.domain.plates import plate_key
from smartgate.schemas import (
    BarrierAction,
    Camera,
    ContainerRead,
    FaceDecision,
    FaceVerified,
    PassScanned,
    PlateRead,
    WeightReading,
    utc_now,
)
from smartgate_edge.barrier import BarrierController
from smartgate_edge.transport import kv

log = logging.getLogger("smartgate_edge.offline")

LaneDetection: TypeAlias = PlateRead | ContainerRead | PassScanned | WeightReading | FaceVerified


@dataclass(frozen=True)
class OfflinePolicy:
    after_s: float = 45.0  # longer than the cloud's settle time: a truck it is still deciding is not "silent"
    min_plate_confidence: float = 0.8


@dataclass
class _Truck:
    first: LaneDetection
    started: float
    last_at: float
    plate: PlateRead | None = None
    passes: list[PassScanned] = field(default_factory=list)
    faces: list[FaceVerified] = field(default_factory=list)
    detection_ids: list[str] = field(default_factory=list)
    answered: bool = False
    decided: bool = False

    @property
    def passage_id(self) -> str:
        return passage_id_for(self.first)


@dataclass(frozen=True)
class OfflineVerdict:
    action: BarrierAction
    reason: str
    booking_id: str | None = None


def offline_verdict(
    plate: PlateRead | None,
    passes: list[PassScanned],
    verifier: Ed25519PassVerifier,
    gate_id: str,
    direction: str,
    at: datetime,
    policy: OfflinePolicy,
    faces: list[FaceVerified] | None = None,
) -> OfflineVerdict:
    """The conservative offline policy (pure): OPEN only for a valid, in-window, plate-matching pass, and
    not for a driver whose face did not match the pass's booked driver (held for an officer, as online)."""
    if not passes:
        return OfflineVerdict(BarrierAction.HOLD, "offline: no pass shown; held for an officer")
    if plate is None:
        return OfflineVerdict(BarrierAction.HOLD, "offline: no front plate read; held for an officer")
    if not plate.format_valid or plate.confidence < policy.min_plate_confidence:
        return OfflineVerdict(
            BarrierAction.HOLD,
            f"offline: the plate read {plate.plate_text!r} is not certain enough "
            f"(confidence {plate.confidence:.2f}); held for an officer",
        )
    problems = []
    for shown in passes:
        check = verifier.check(shown.token, gate_id, direction, at)
        if not check.valid:
            problems.append(f"pass refused: {check.problem}")
        elif not check.in_window:
            problems.append(f"pass {check.booking_id} not valid now: {check.problem}")
        elif check.plate != plate_key(plate.plate_text):
            problems.append(f"pass {check.booking_id} is for plate {check.plate}, the lane read {plate.plate_text}")
        elif any(f.decision == FaceDecision.MISMATCH and f.booking_id == check.booking_id for f in faces or ()):
            problems.append(f"the driver's face does not match booking {check.booking_id}'s driver")
        else:
            return OfflineVerdict(
                BarrierAction.OPEN,
                f"offline: pass {check.booking_id} valid for this gate, direction and plate {plate.plate_text}",
                check.booking_id,
            )
    return OfflineVerdict(BarrierAction.HOLD, f"offline: {'; '.join(problems)}; held for an officer")


class OfflineClearance:
    """Watches the lane's own detections and the cloud's answers; ``tick()`` decides a truck the cloud left
    waiting: nothing authentic from the cloud since the truck came, and ``after_s`` since its last detection.
    ``degraded`` is True from such a decision until the cloud answers again."""

    def __init__(
        self,
        gate_id: str,
        lane_id: str,
        direction: str,
        verifier: Ed25519PassVerifier,
        barrier: BarrierController,
        *,
        policy: OfflinePolicy | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gate_id = gate_id
        self.lane_id = lane_id
        self.direction = direction
        self.verifier = verifier
        self.barrier = barrier
        self.policy = policy or OfflinePolicy()
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._truck: _Truck | None = None
        self._last_answer = float("-inf")
        self.degraded = False
        self.decisions = 0
        self.opened = 0

    def on_detection(self, detection: LaneDetection) -> None:
        """A front plate read starts a truck (unless the current one has no plate yet and is waiting: a pass or
        a container read first); any other detection joins the current one — a rear camera's read as the
        truck drives off must not start a phantom truck. A vehicle with no readable front plate is therefore
        never decided offline: it waits for the cloud or an officer."""
        if (detection.gate_id, detection.lane_id) != (self.gate_id, self.lane_id):
            return
        now = self._monotonic()
        with self._lock:
            truck = self._truck
            front = isinstance(detection, PlateRead) and detection.camera == Camera.FRONT
            settled = truck is not None and (truck.decided or truck.answered)
            if truck is None or (front and (truck.plate is not None or settled)):
                truck = self._truck = _Truck(first=detection, started=now, last_at=now)
            truck.last_at = now
            truck.detection_ids.append(detection.event_id)
            if isinstance(detection, PlateRead) and front and truck.plate is None:
                truck.plate = detection
            elif isinstance(detection, PassScanned):
                truck.passes.append(detection)
            elif isinstance(detection, FaceVerified):
                truck.faces.append(detection)

    def on_cloud_answer(self, passage_id: str | None) -> None:
        """An authentic, fresh command for this lane arrived: the cloud is answering (this truck, if it names
        the truck's passage; in any case a truck that arrived before it is not left to the lane)."""
        with self._lock:
            self._last_answer = self._monotonic()
            truck = self._truck
            if truck is not None and not truck.decided and passage_id == truck.passage_id:
                truck.answered = True
            if self.degraded:
                log.info(kv("cloud answering again: degraded mode over", gate_id=self.gate_id, lane_id=self.lane_id))
            self.degraded = False

    def tick(self) -> OfflineVerdict | None:
        """Decide the waiting truck if the cloud has been silent on it for ``after_s``."""
        with self._lock:
            truck = self._truck
            if truck is None or truck.decided or truck.answered or self._last_answer >= truck.started:
                return None  # the cloud said something since this truck came: it is answering
            if self._monotonic() - truck.last_at < self.policy.after_s:
                return None
            truck.decided = True
            self.degraded = True
            self.decisions += 1
        verdict = offline_verdict(
            truck.plate,
            truck.passes,
            self.verifier,
            self.gate_id,
            self.direction,
            self._clock(),
            self.policy,
            truck.faces,
        )
        done = self.barrier.decide_offline(
            verdict.action,
            verdict.reason,
            truck.passage_id,
            plate_text=truck.plate.plate_text if truck.plate else None,
            booking_id=verdict.booking_id,
            detection_ids=truck.detection_ids[:50],
        )
        if done is None:  # the cloud signed a command for this truck meanwhile: it answered after all
            with self._lock:
                truck.decided, truck.answered, self.decisions = False, True, self.decisions - 1
                self.degraded = False
            return None
        self.opened += done == BarrierAction.OPEN
        return verdict if done == verdict.action else OfflineVerdict(done, verdict.reason, verdict.booking_id)
