"""The crossing service with in-memory adapters: decision, barrier command, idempotency."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smartgate.adapters.memory import (
    FixedClock,
    InMemoryBookings,
    InMemoryDetections,
    InMemoryPassages,
    RecordingCommands,
)
from smartgate.domain.clearance import decide
from smartgate.domain.crossing import (
    CrossingDeps,
    clearance_decided,
    ingest_detection,
    passage_id_for,
    signature_valid,
)
from smartgate.domain.plates import plate_key
from smartgate.schemas import (
    BarrierAction,
    Booking,
    BookingStatus,
    Channel,
    ContainerRead,
    PassageStatus,
    PlateRead,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
KEY = b"unit-test-signing-key"


def booking(plate: str = "29A-123.45", gate: str = "kimthanh2", **changes: object) -> Booking:
    data = dict(booking_id="BK-1", trader_id="TR-1", gate_id=gate, direction="VN_TO_CN", plate_text=plate,
                country="VN", slot_start=NOW - timedelta(minutes=30), slot_end=NOW + timedelta(minutes=90),
                created_at=NOW - timedelta(days=1))
    data.update(changes)
    return Booking.model_validate(data)


def plate_read(plate: str = "29A 123.45", event_id: str = "ev-1", lane: str = "in-1") -> PlateRead:
    return PlateRead(event_id=event_id, gate_id="kimthanh2", lane_id=lane, plate_text=plate, country="VN",
                     format_valid=True, confidence=0.96, captured_at=NOW)


class FailingOnce(RecordingCommands):
    """A publisher that fails the first time, as the IoT data plane may."""

    def __init__(self) -> None:
        super().__init__()
        self.failed = False

    def publish(self, command):  # type: ignore[no-untyped-def]
        if not self.failed:
            self.failed = True
            raise ConnectionError("iot-data unavailable")
        super().publish(command)


def deps(bookings: list[Booking], commands: RecordingCommands | None = None) -> CrossingDeps:
    return CrossingDeps(bookings=InMemoryBookings(bookings), passages=InMemoryPassages(),
                        detections=InMemoryDetections(), commands=commands or RecordingCommands(),
                        clock=FixedClock(NOW), signing_key=KEY)


def test_booked_plate_opens_the_barrier_with_a_signed_command() -> None:
    # Given a booking for the plate, written differently from how the camera reads it
    d = deps([booking("29A-123.45")])
    # When the lane reads the plate
    result = ingest_detection(plate_read("29a 12345"), d)
    # Then the passage is GREEN, stored, and the barrier is told to open, signed
    assert result.outcome == "decided" and result.channel == Channel.GREEN
    passage = d.passages.get(result.passage_id or "")
    assert passage is not None and passage.status == PassageStatus.DECIDED and passage.booking_id == "BK-1"
    [command] = d.commands.sent  # type: ignore[attr-defined]
    assert command.action == BarrierAction.OPEN and command.passage_id == passage.passage_id
    assert signature_valid(command, KEY) and not signature_valid(command, b"another key")
    assert command.expires_at - command.issued_at == timedelta(seconds=60)


def test_unknown_plate_holds_the_barrier_and_says_why() -> None:
    d = deps([booking("29A-123.45")])
    result = ingest_detection(plate_read("51F-999.99"), d)
    assert result.channel == Channel.RED
    [command] = d.commands.sent  # type: ignore[attr-defined]
    assert command.action == BarrierAction.HOLD
    assert "no booking for plate 51F-999.99" in command.reason


def test_booking_at_another_gate_does_not_count() -> None:
    d = deps([booking("29A-123.45", gate="mongcai")])
    assert ingest_detection(plate_read(), d).channel == Channel.RED


def test_redelivered_detection_changes_nothing() -> None:
    # Given a plate read that was handled
    d = deps([booking()])
    first = ingest_detection(plate_read(), d)
    stored = d.passages.get(first.passage_id or "")
    # When the same detection is delivered again
    again = ingest_detection(plate_read(), d)
    # Then nothing new is sent or stored
    assert again.outcome == "duplicate"
    assert len(d.commands.sent) == 1  # type: ignore[attr-defined]
    assert d.passages.get(first.passage_id or "") == stored
    assert len(d.passages.items) == 1  # type: ignore[attr-defined]


def test_retry_after_a_failure_part_way_finishes_the_job_once() -> None:
    # Given a publisher that fails on the first attempt (after the passage was stored)
    commands = FailingOnce()
    d = deps([booking()], commands)
    with pytest.raises(ConnectionError):
        ingest_detection(plate_read(), d)
    assert len(d.passages.items) == 1  # type: ignore[attr-defined]
    # When the platform retries the same detection
    result = ingest_detection(plate_read(), d)
    # Then the stored decision is reused and the command goes out exactly once
    assert result.outcome == "decided"
    assert len(commands.sent) == 1
    assert len(d.passages.items) == 1  # type: ignore[attr-defined]


def test_other_detections_are_recorded_without_a_decision() -> None:
    d = deps([booking()])
    read = ContainerRead(event_id="ev-c", gate_id="kimthanh2", lane_id="in-1", container_no="MSKU6011672",
                         check_digit_ok=True, confidence=0.9, captured_at=NOW)
    assert ingest_detection(read, d).outcome == "recorded"
    assert ingest_detection(read, d).outcome == "duplicate"
    assert d.commands.sent == []  # type: ignore[attr-defined]


def test_passage_id_is_stable_per_detection_and_lane() -> None:
    assert passage_id_for(plate_read()) == passage_id_for(plate_read())
    assert passage_id_for(plate_read()) != passage_id_for(plate_read(event_id="ev-2"))
    assert passage_id_for(plate_read()) != passage_id_for(plate_read(lane="in-2"))


def test_clearance_event_carries_the_decision_and_a_stable_id() -> None:
    d = deps([])
    result = ingest_detection(plate_read(), d)
    passage = d.passages.get(result.passage_id or "")
    assert passage is not None
    event = clearance_decided(passage)
    assert event.channel == Channel.RED and event.rules_fired[0].rule_id == "R-NO-BOOKING"
    assert event.event_id == clearance_decided(passage).event_id
    with pytest.raises(ValueError, match="not decided"):
        clearance_decided(passage.model_copy(update={"status": PassageStatus.OPEN}))


@pytest.mark.parametrize(("status", "offset_hours", "expected", "rule"), [
    (BookingStatus.BOOKED, 0, Channel.GREEN, "R-BOOKED"),
    (BookingStatus.BOOKED, 1.9, Channel.GREEN, "R-BOOKED"),      # within the grace
    (BookingStatus.BOOKED, 5, Channel.YELLOW, "R-OUTSIDE-SLOT"),  # early
    (BookingStatus.BOOKED, -5, Channel.YELLOW, "R-OUTSIDE-SLOT"),  # late
    (BookingStatus.CANCELLED, 0, Channel.RED, "R-BOOKING-CANCELLED"),
])
def test_decide(status: BookingStatus, offset_hours: float, expected: Channel, rule: str) -> None:
    b = booking(status=status)
    b = b.model_copy(update={"slot_start": b.slot_start + timedelta(hours=offset_hours),
                             "slot_end": b.slot_end + timedelta(hours=offset_hours)})
    decision = decide("29A-123.45", "kimthanh2", b, NOW + timedelta(minutes=30) if offset_hours == 1.9 else NOW)
    assert decision.channel == expected
    assert [r.rule_id for r in decision.rules_fired] == [rule]


def test_cancelled_bookings_are_not_found_for_a_plate() -> None:
    repo = InMemoryBookings([booking(status=BookingStatus.CANCELLED)])
    assert repo.find_for_plate("kimthanh2", plate_key("29A-123.45")) is None


@pytest.mark.parametrize(("text", "key"), [
    ("29A-123.45", "29A12345"), ("29a 123 45", "29A12345"), ("云A·88K21", "云A88K21"), ("59-T1 385.06", "59T138506"),
])
def test_plate_key(text: str, key: str) -> None:
    assert plate_key(text) == key


def test_plate_key_rejects_empty_text() -> None:
    with pytest.raises(ValueError, match="no characters"):
        plate_key(" -. ")


@pytest.mark.parametrize(("booked", "valid", "confidence", "expected", "rules"), [
    (False, False, 0.95, Channel.YELLOW, ["R-UNCERTAIN-READ"]),        # misread, not an unbooked truck
    (False, True, 0.4, Channel.YELLOW, ["R-UNCERTAIN-READ"]),
    (True, False, 0.95, Channel.YELLOW, ["R-UNCERTAIN-READ", "R-BOOKED"]),  # matches, but check by eye
    (False, True, 0.9, Channel.RED, ["R-NO-BOOKING"]),
    (True, True, 0.9, Channel.GREEN, ["R-BOOKED"]),
])
def test_an_uncertain_plate_read_goes_to_an_officer_not_to_inspection(
        booked: bool, valid: bool, confidence: float, expected: Channel, rules: list[str]) -> None:
    decision = decide("29A-123.45", "kimthanh2", booking() if booked else None, NOW,
                      read_valid=valid, read_confidence=confidence)
    assert decision.channel == expected
    assert [r.rule_id for r in decision.rules_fired] == rules
    if "R-UNCERTAIN-READ" in rules:
        assert "check the plate by eye" in decision.rules_fired[0].explanation


def test_the_lane_read_quality_reaches_the_decision() -> None:
    d = deps([])
    read = plate_read("67W2 3789").model_copy(update={"format_valid": False, "confidence": 0.9})
    result = ingest_detection(read, d)
    assert result.channel == Channel.YELLOW
    [command] = d.commands.sent  # type: ignore[attr-defined]
    assert command.action == BarrierAction.HOLD and "uncertain" in command.reason
