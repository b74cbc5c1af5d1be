"""A truck's detections at a lane become a passage, a clearance decision and a barrier command.

Every step is idempotent by construction, so that an at-least-once delivery (MQTT QoS 1, IoT rule
retries) changes nothing the second time: the detection is stored once by its ``event_id``, the
passage id and the command id are derived from the detection, a passage that exists is reused as
stored, and a repeated command carries the same ``command_id`` so the lane can drop it.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from smartgate.domain.clearance import decide
from smartgate.domain.plates import plate_key
from smartgate.ports import (
    AnyDetection,
    BookingRepository,
    Clock,
    CommandPublisher,
    DetectionRepository,
    PassageRepository,
)
from smartgate.schemas import (
    BarrierAction,
    BarrierCommand,
    Channel,
    ClearanceDecided,
    Contract,
    Passage,
    PassageStatus,
    PlateRead,
)

COMMAND_TTL = timedelta(seconds=60)


class IngestResult(Contract):
    event_id: str
    outcome: Literal["decided", "recorded", "duplicate"]
    passage_id: str | None = None
    channel: Channel | None = None
    command_id: str | None = None


@dataclass(frozen=True)
class CrossingDeps:
    bookings: BookingRepository
    passages: PassageRepository
    detections: DetectionRepository
    commands: CommandPublisher
    clock: Clock
    signing_key: bytes
    command_ttl: timedelta = COMMAND_TTL


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def passage_id_for(read: PlateRead) -> str:
    return f"psg-{_digest(read.gate_id, read.lane_id, read.event_id)}"


def sign(command: BarrierCommand, key: bytes) -> BarrierCommand:
    signature = hmac.new(key, command.signing_payload(), hashlib.sha256).hexdigest()
    return command.model_copy(update={"signature": signature})


def signature_valid(command: BarrierCommand, key: bytes) -> bool:
    expected = hmac.new(key, command.signing_payload(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, command.signature)


def barrier_command_for(passage: Passage, deps: CrossingDeps) -> BarrierCommand:
    """Open for GREEN, hold otherwise; the reason is what the lane display shows."""
    assert passage.channel is not None and passage.decided_at is not None
    action = BarrierAction.OPEN if passage.channel == Channel.GREEN else BarrierAction.HOLD
    reasons = "; ".join(rule.explanation for rule in passage.rules_fired)
    command = BarrierCommand(
        command_id=f"cmd-{_digest(passage.passage_id, action.value)}",
        gate_id=passage.gate_id,
        lane_id=passage.lane_id,
        action=action,
        passage_id=passage.passage_id,
        reason=f"{passage.channel.value}: {reasons}"[:500],
        issued_at=passage.decided_at,
        expires_at=passage.decided_at + deps.command_ttl,
    )
    return sign(command, deps.signing_key)


def open_and_decide(read: PlateRead, deps: CrossingDeps) -> Passage:
    """Open the passage for this plate read and decide it in one step (first, minimal ruleset)."""
    now = deps.clock.now()
    key = plate_key(read.plate_text)
    booking = deps.bookings.find_for_plate(read.gate_id, key)
    decision = decide(read.plate_text, read.gate_id, booking, now, read_valid=read.format_valid,
                      read_confidence=read.confidence)
    passage = Passage(
        passage_id=passage_id_for(read),
        gate_id=read.gate_id,
        lane_id=read.lane_id,
        plate_text=read.plate_text,
        plate_key=key,
        country=read.country,
        booking_id=booking.booking_id if booking else None,
        status=PassageStatus.DECIDED,
        channel=decision.channel,
        rules_fired=list(decision.rules_fired),
        ruleset_version=decision.ruleset_version,
        detection_ids=[read.event_id],
        opened_at=now,
        decided_at=now,
    )
    return deps.passages.create(passage)


def ingest_detection(detection: AnyDetection, deps: CrossingDeps) -> IngestResult:
    """Store the detection; a plate read opens and decides a passage and commands the barrier.

    A detection handled before returns ``duplicate`` and changes nothing. One whose handling was
    cut short (a crash between the writes) is finished from what is stored, never decided twice.
    """
    if not deps.detections.record(detection):
        return IngestResult(event_id=detection.event_id, outcome="duplicate")
    if not isinstance(detection, PlateRead):
        deps.detections.mark_handled(detection.event_id)
        return IngestResult(event_id=detection.event_id, outcome="recorded")
    passage = deps.passages.get(passage_id_for(detection)) or open_and_decide(detection, deps)
    command = barrier_command_for(passage, deps)
    deps.commands.publish(command)
    deps.detections.mark_handled(detection.event_id)
    return IngestResult(event_id=detection.event_id, outcome="decided", passage_id=passage.passage_id,
                        channel=passage.channel, command_id=command.command_id)


def clearance_decided(passage: Passage) -> ClearanceDecided:
    """The bus event for a decided passage; its event_id is stable so consumers can drop repeats."""
    if passage.status != PassageStatus.DECIDED or passage.channel is None or passage.decided_at is None:
        raise ValueError(f"passage {passage.passage_id} is not decided")
    return ClearanceDecided(
        event_id=f"evt-{_digest(passage.passage_id, 'decided')}",
        passage_id=passage.passage_id,
        booking_id=passage.booking_id,
        gate_id=passage.gate_id,
        lane_id=passage.lane_id,
        plate_text=passage.plate_text,
        channel=passage.channel,
        rules_fired=passage.rules_fired,
        ruleset_version=passage.ruleset_version or "",
        decided_at=passage.decided_at,
    )
