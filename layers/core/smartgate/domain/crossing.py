"""A vehicle's detections at a lane become one passage, a clearance decision and a barrier command.

``ingest_detection`` places a detection in its passage (:mod:`smartgate.domain.correlation`), matches
the vehicle to its booking, evaluates the lane's rule set and decides — as soon as nothing the rules
wait for is missing, or when the settle time runs out (``settle``). A detection after the decision
re-evaluates the passage and may only tighten it (GREEN -> held, with a HOLD if the vehicle is still at
the barrier). The detection, its passage and the lane's memory are written in one conditional
transaction: a concurrent write makes it read again and redo (no lost update), and a detection stored
before is recognised by its ``event_id`` (at-least-once delivery changes nothing the second time).

Reads before the barrier command goes out, at most: the lane's memory, the passage it joins, the
bookings for its plate; then one transactional write.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from smartgate.domain.biometrics import FaceChecks, FaceRecord
from smartgate.domain.clearance import (
    BookedVehicle,
    PassCheck,
    choose_booking,
    passage_facts,
    vehicle_reads,
)
from smartgate.domain.commands import CommandKeys, CommandSigner
from smartgate.domain.correlation import AnyDetection, LaneTrack, PassageRef, associate
from smartgate.domain.gates import GateRegistry, LaneSpec, UnknownLane
from smartgate.domain.intake import RejectedDetection
from smartgate.domain.matching import fold_plate
from smartgate.domain.passages import Outcome, apply_evaluation, depart
from smartgate.domain.plates import plate_key
from smartgate.domain.rules import evaluate
from smartgate.ports import (
    BookingRepository,
    Clock,
    CommandPublisher,
    Conflict,
    DuplicateDetection,
    LaneCommit,
    PassageStore,
    PassVerifier,
    RuleSetSource,
    SettleScheduler,
)
from smartgate.schemas import (
    BarrierAction,
    BarrierCommand,
    Camera,
    Channel,
    ContainerRead,
    Contract,
    FaceVerified,
    Passage,
    PassageDetections,
    PassageStatus,
    PassScanned,
    PlateRead,
)
from smartgate.schemas.clearance import MAX_DETECTIONS

COMMAND_TTL = timedelta(seconds=60)
READS_TOO_OLD = timedelta(seconds=180)
"""A first decision on reads captured longer ago than this sends no barrier command: they come from a lane's
backlog after an outage, the vehicle is no longer waiting, and an OPEN would lift the barrier for whoever
stands there now."""
MAX_ATTEMPTS = 10


class IngestResult(Contract):
    event_id: str
    outcome: Literal["decided", "tightened", "waiting", "recorded", "duplicate"]
    passage_id: str | None = None
    channel: Channel | None = None
    status: PassageStatus | None = None
    command_id: str | None = None


@dataclass(frozen=True)
class CrossingDeps:
    gates: GateRegistry
    rulesets: RuleSetSource
    bookings: BookingRepository
    store: PassageStore
    passes: PassVerifier
    commands: CommandPublisher
    settle: SettleScheduler
    clock: Clock
    signer: CommandSigner
    command_ttl: timedelta = COMMAND_TTL
    faces: FaceChecks | None = None
    """the booked driver's face for lanes with a cab camera (None: no face data in this stack)"""


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def passage_id_for(detection: AnyDetection) -> str:
    """The id of the passage a detection opens (stable, so that a retry opens the same one)."""
    return f"psg-{_digest(detection.gate_id, detection.lane_id, detection.event_id)}"


# --------------------------------------------------------------------------- barrier commands


def sign(command: BarrierCommand, signer: CommandSigner) -> BarrierCommand:
    return signer.sign(command)


def signature_valid(command: BarrierCommand, keys: CommandKeys) -> bool:
    return keys.valid(command)


def make_command(
    passage: Passage,
    action: BarrierAction,
    reason: str,
    at: datetime,
    cause: str,
    signer: CommandSigner,
    ttl: timedelta,
) -> BarrierCommand:
    """A signed command for the passage's lane; its id is the same for the same ``cause`` (a repeat is
    recognised by the lane)."""
    command = BarrierCommand(
        command_id=f"cmd-{_digest(passage.passage_id, cause, action.value)}",
        gate_id=passage.gate_id,
        lane_id=passage.lane_id,
        action=action,
        passage_id=passage.passage_id,
        reason=reason[:500],
        issued_at=at,
        expires_at=at + ttl,
    )
    return sign(command, signer)


def barrier_command_for(passage: Passage, deps: CrossingDeps) -> BarrierCommand:
    """Open for GREEN, hold otherwise; one command id per decision, so a repeat is recognised."""
    decision = passage.decision
    assert decision is not None
    action = BarrierAction.OPEN if decision.channel == Channel.GREEN else BarrierAction.HOLD
    return make_command(
        passage,
        action,
        decision.reason(),
        decision.decided_at,
        str(decision.decision_no),
        deps.signer,
        deps.command_ttl,
    )


# --------------------------------------------------------------------------- building the passage


def _new_passage(detection: AnyDetection, lane: LaneSpec, now: datetime) -> Passage:
    return Passage(
        passage_id=passage_id_for(detection),
        gate_id=detection.gate_id,
        lane_id=detection.lane_id,
        direction=lane.direction,
        version=1,
        status_at=now,
        first_seen=detection.captured_at,
        last_seen=detection.captured_at,
        opened_at=now,
    )


def _with_detection(passage: Passage, d: AnyDetection) -> Passage:
    det = passage.detections
    field = (
        "plates"
        if isinstance(d, PlateRead)
        else "containers"
        if isinstance(d, ContainerRead)
        else "passes"
        if isinstance(d, PassScanned)
        else "faces"
        if isinstance(d, FaceVerified)
        else "weights"
    )
    group = list(getattr(det, field))
    if len(group) >= MAX_DETECTIONS:
        raise RejectedDetection(
            f"event_id: passage {passage.passage_id} already holds {MAX_DETECTIONS} "
            f"{field}; more from one vehicle is a lane fault"
        )
    group.append(d)
    changes: dict[str, object] = {
        "detections": PassageDetections.model_validate({**det.model_dump(), field: group}),
        "first_seen": min(passage.first_seen, d.captured_at),
        "last_seen": max(passage.last_seen, d.captured_at),
    }
    if isinstance(d, PlateRead) and d.camera != Camera.TRAILER:
        changes["plate_text"], changes["plate_key"], changes["country"] = (
            d.plate_text,
            plate_key(d.plate_text),
            d.country,
        )
    return passage.model_copy(update=changes)


def passage_ref(passage: Passage) -> PassageRef:
    det = passage.detections
    folds: set[str] = set()
    trailer: set[str] = set()
    for read in det.plates:
        try:
            (trailer if read.camera == Camera.TRAILER else folds).add(fold_plate(read.plate_text))
        except ValueError:
            continue
    declared = list(passage.consignment.container_nos) if passage.consignment else []
    if passage.consignment and passage.consignment.trailer_plate:
        trailer.add(fold_plate(passage.consignment.trailer_plate))
    return PassageRef(
        passage_id=passage.passage_id,
        plate_folds=sorted(folds),
        trailer_folds=sorted(trailer),
        containers_declared=declared,
        containers_read=sorted({c.container_no.upper() for c in det.containers}),
        booking_id=passage.booking_id,
        declaration_known=passage.booking is not None,
        weighed=any(w.stable for w in det.weights),
        has_pass=bool(det.passes),
        trailer_read=any(r.camera == Camera.TRAILER for r in det.plates),
        first_seen=passage.first_seen,
        last_seen=passage.last_seen,
    )


def pass_checks(passage: Passage, deps: CrossingDeps) -> dict[str, PassCheck]:
    return {
        p.event_id: deps.passes.check(p.token, passage.gate_id, passage.direction.value, p.captured_at)
        for p in passage.detections.passes
    }


def _matched(passage: Passage, deps: CrossingDeps, checks: dict[str, PassCheck]) -> Passage:
    """The passage with its booking: looked up by its plates unless one matched exactly, else by its pass."""
    if passage.booking is not None and passage.match == "exact":
        return passage
    candidates: dict[str, BookedVehicle] = {}
    for fold in sorted({fold_plate(r.plate_text) for r in vehicle_reads(passage)}):
        for booked in deps.bookings.candidates(passage.gate_id, fold):
            candidates[booked.booking.booking_id] = booked
    for check in checks.values():
        if check.valid and check.booking_id and check.booking_id not in candidates:
            by_pass = deps.bookings.booked(check.booking_id)
            if by_pass is not None:
                candidates[check.booking_id] = by_pass
    choice = choose_booking(passage, list(candidates.values()), checks)
    return passage.model_copy(
        update={
            "booking": choice.booked.booking if choice.booked else None,
            "consignment": choice.booked.consignment if choice.booked else None,
            "match": choice.kind,
            "match_score": choice.score,
        }
    )


def evaluate_passage(
    passage: Passage,
    lane: LaneSpec,
    deps: CrossingDeps,
    now: datetime,
    *,
    settled: bool = False,
    checks: dict[str, PassCheck] | None = None,
    settle_clock: datetime | None = None,
) -> Outcome:
    checks = pass_checks(passage, deps) if checks is None else checks
    rule_set = deps.rulesets.for_lane(passage.gate_id, passage.direction.value)
    facts = passage_facts(passage, lane, rule_set, checks)
    return apply_evaluation(
        passage, evaluate(rule_set, facts), rule_set, facts, now, settled=settled, settle_clock=settle_clock
    )


def passage_clock(passage: Passage, now: datetime) -> datetime:
    """The clock a detection judges an open passage's settle time by: the earlier of the cloud's ``now`` and
    the lane's own time in this passage (when it was opened plus the span of its detections' capture
    times). When the cloud is slow (a cold start, a backlog), detections the lane captured together arrive
    late, but together: by the lane's time the settle time is not over between them. When the lane sends
    late (a queue it kept while offline), detections captured seconds apart arrive together: by the
    cloud's time it is not over either. The settle timer decides on the cloud's clock alone when nothing
    more comes."""
    d = passage.detections
    captured = [x.captured_at for group in (d.plates, d.containers, d.passes, d.weights, d.faces) for x in group]
    lane = passage.opened_at + (max(captured) - min(captured)) if captured else passage.opened_at
    return min(now, lane)


def _lane(deps: CrossingDeps, gate_id: str, lane_id: str) -> LaneSpec:
    try:
        return deps.gates.lane(gate_id, lane_id)
    except UnknownLane as err:
        raise RejectedDetection(str(err)) from err


# --------------------------------------------------------------------------- the flow


def at_barrier(passage: Passage, track: LaneTrack) -> bool:
    """The vehicle is the lane's newest and has not left: the lane's barrier is in front of it."""
    newest = track.newest
    return newest is not None and newest.passage_id == passage.passage_id and passage.status != PassageStatus.DEPARTED


def _act(outcome: Outcome, before: Passage | None, track: LaneTrack, deps: CrossingDeps) -> str | None:
    """Send what the stored change calls for: a barrier command, a settle timer. Returns the command id."""
    passage = outcome.passage
    if outcome.waiting and passage.settle_deadline is not None and (before is None or before.settle_deadline is None):
        deps.settle.schedule(passage.passage_id, passage.settle_deadline)
    first = before is None or before.decision is None  # the vehicle waits at the closed barrier for it
    if outcome.decided and (first or (outcome.tightened and at_barrier(passage, track))):
        if first and passage.last_seen < deps.clock.now() - READS_TOO_OLD:
            return None  # a lane's backlog: the truck is long gone (the lane decided it, or an officer will)
        command = barrier_command_for(passage, deps)
        deps.commands.publish(command)
        return command.command_id
    return None


def ingest_detection(detection: AnyDetection, deps: CrossingDeps) -> IngestResult:
    """Place the detection in its passage, decide if it can be, and command the barrier.

    Raises RejectedDetection for a detection of an unknown lane (or a flood of one vehicle's reads).
    """
    lane = _lane(deps, detection.gate_id, detection.lane_id)
    for _ in range(MAX_ATTEMPTS):
        now = deps.clock.now()
        track = deps.store.lane(detection.gate_id, detection.lane_id)
        rule_set = deps.rulesets.for_lane(detection.gate_id, lane.direction.value)
        gap = timedelta(seconds=rule_set.settings.gap_seconds)
        pass_booking = None
        if isinstance(detection, PassScanned):
            pass_booking = deps.passes.check(
                detection.token, detection.gate_id, lane.direction.value, detection.captured_at
            ).booking_id
        joined = associate(detection, track, gap, pass_booking)
        before = deps.store.get(joined) if joined else None
        if before is not None and detection.event_id in before.detections.event_ids():
            return _redelivered(detection, deps)
        base = before or _new_passage(detection, lane, now)
        passage = _with_detection(base, detection)
        checks = pass_checks(passage, deps)
        if isinstance(detection, PlateRead | PassScanned) or before is None:
            passage = _matched(passage, deps, checks)
        face = _face_to_check(passage, lane, deps, checks) if isinstance(detection, PassScanned) else None
        if face is not None:
            passage = passage.model_copy(update={"face_expected": True})
        outcome = evaluate_passage(passage, lane, deps, now, checks=checks, settle_clock=passage_clock(passage, now))
        stored = outcome.passage.model_copy(update={"version": (before.version if before else 0) + 1})
        new_track = track.with_ref(passage_ref(stored), now)
        try:
            deps.store.commit(
                LaneCommit(detection, stored, before.version if before else None, new_track, track.version)
            )
        except Conflict:
            _back_off()
            continue
        except DuplicateDetection:
            return _redelivered(detection, deps)
        outcome = Outcome(stored, outcome.decided, outcome.tightened, outcome.waiting)
        command_id = _act(outcome, before, new_track, deps)
        if face is not None:
            _send_face(face, stored, deps)
        if before is None or (outcome.decided and before.decision is None):
            _departures(new_track, stored, deps)
        deps.store.mark_handled(detection.event_id)
        kind: Literal["decided", "tightened", "waiting", "recorded"] = (
            "tightened"
            if outcome.tightened
            else "decided"
            if outcome.decided
            else "waiting"
            if outcome.waiting
            else "recorded"
        )
        return IngestResult(
            event_id=detection.event_id,
            outcome=kind,
            passage_id=stored.passage_id,
            channel=stored.channel,
            status=stored.status,
            command_id=command_id,
        )
    raise Conflict(
        f"detection {detection.event_id}: {MAX_ATTEMPTS} concurrent writes in a row won; giving up for a retry"
    )


def _face_to_check(
    passage: Passage, lane: LaneSpec, deps: CrossingDeps, checks: dict[str, PassCheck]
) -> FaceRecord | None:
    """The booked driver's face record when the lane can check it: a cab camera, the pass of the very booking
    the vehicle matched, an enrolled driver, and no reference sent for this passage yet (one read)."""
    booking, consignment = passage.booking, passage.consignment
    if deps.faces is None or not lane.cab_camera or passage.face_expected or booking is None or consignment is None:
        return None
    if not any(c.valid and c.booking_id == booking.booking_id for c in checks.values()):
        return None
    driver = booking.driver_id or consignment.driver_ref
    return deps.faces.enrolled(consignment.trader_id, driver) if driver else None


def _send_face(record: FaceRecord, passage: Passage, deps: CrossingDeps) -> None:
    """The face reference to the lane, after the passage that expects it is stored (its use on the record)."""
    assert deps.faces is not None and passage.booking is not None
    deps.faces.send(
        record,
        gate_id=passage.gate_id,
        lane_id=passage.lane_id,
        passage_id=passage.passage_id,
        booking_id=passage.booking.booking_id,
    )


def _back_off() -> None:
    """After losing a race: a short random pause, so that the writers of one truck's detections spread out."""
    time.sleep(random.uniform(0.002, 0.02))  # noqa: S311 - jitter, not security


def _departures(track: LaneTrack, current: Passage, deps: CrossingDeps) -> None:
    """The next vehicle at the lane (opened or decided) means the one before it has left, if it was free to;
    and a vehicle decided after the next one came (its reads arrived late) has left too, if it is free to.
    Whatever order the lane's reads arrive in, a released vehicle that was followed ends DEPARTED."""
    ids = [r.passage_id for r in track.recent]
    if current.passage_id not in ids:
        return
    at = ids.index(current.passage_id)
    if at > 0:
        _depart(track.recent[at - 1].passage_id, current.first_seen, deps)
    if at + 1 < len(ids):
        _depart(current.passage_id, track.recent[at + 1].first_seen, deps)


def _depart(passage_id: str, next_seen: datetime, deps: CrossingDeps) -> None:
    for _ in range(3):
        stored = deps.store.get(passage_id)
        if stored is None:
            return
        gone = depart(stored, max(next_seen, stored.status_at))
        if gone is None:
            return
        try:
            deps.store.save(gone, stored.version)
            return
        except Conflict:
            continue


def _redelivered(detection: AnyDetection, deps: CrossingDeps) -> IngestResult:
    """A detection seen before: if its handling was cut short, finish it from what is stored."""
    record = deps.store.detection(detection.event_id)
    if record is None or record.handled:
        return IngestResult(
            event_id=detection.event_id, outcome="duplicate", passage_id=record.passage_id if record else None
        )
    passage = deps.store.get(record.passage_id)
    command_id = None
    if passage is not None:
        track = deps.store.lane(passage.gate_id, passage.lane_id)
        if passage.decision is None and passage.settle_deadline is not None:
            deps.settle.schedule(passage.passage_id, passage.settle_deadline)
        elif (
            passage.decision is not None
            and at_barrier(passage, track)
            and passage.decision.decided_at + deps.command_ttl > deps.clock.now()
        ):
            command = barrier_command_for(passage, deps)
            deps.commands.publish(command)
            command_id = command.command_id
    deps.store.mark_handled(detection.event_id)
    return IngestResult(
        event_id=detection.event_id,
        outcome="duplicate",
        passage_id=record.passage_id,
        channel=passage.channel if passage else None,
        status=passage.status if passage else None,
        command_id=command_id,
    )


SETTLE_EARLY = timedelta(milliseconds=500)
"""A settle timer that fires this much before the deadline still settles (timers are coarse)."""


def settle(passage_id: str, deps: CrossingDeps) -> IngestResult:
    """The settle time of an open passage ran out: decide it with what is there."""
    for _ in range(MAX_ATTEMPTS):
        passage = deps.store.get(passage_id)
        if passage is None or passage.decision is not None:
            return IngestResult(
                event_id=passage_id,
                outcome="recorded",
                passage_id=passage_id,
                channel=passage.channel if passage else None,
                status=passage.status if passage else None,
            )
        now = deps.clock.now()
        deadline = passage.settle_deadline or now
        if now + SETTLE_EARLY < deadline:
            deps.settle.schedule(passage_id, deadline)
            return IngestResult(event_id=passage_id, outcome="waiting", passage_id=passage_id, status=passage.status)
        lane = deps.gates.lane(passage.gate_id, passage.lane_id)
        outcome = evaluate_passage(passage, lane, deps, now, settled=True)
        stored = outcome.passage.model_copy(update={"version": passage.version + 1})
        try:
            deps.store.save(stored, passage.version)
        except Conflict:
            continue
        track = deps.store.lane(passage.gate_id, passage.lane_id)
        command_id = _act(Outcome(stored, outcome.decided, outcome.tightened, outcome.waiting), passage, track, deps)
        if outcome.decided:
            _departures(track, stored, deps)
        return IngestResult(
            event_id=passage_id,
            outcome="decided",
            passage_id=passage_id,
            channel=stored.channel,
            status=stored.status,
            command_id=command_id,
        )
    raise Conflict(f"passage {passage_id}: {MAX_ATTEMPTS} concurrent writes in a row won; giving up for a retry")
