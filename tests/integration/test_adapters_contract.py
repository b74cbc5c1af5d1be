"""The same contract for each port's in-memory adapter and its DynamoDB adapter (against the emulator)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from smartgate.adapters.memory import InMemoryBookings, InMemoryDetections, InMemoryPassages
from smartgate.domain.plates import plate_key
from smartgate.schemas import Booking, BookingStatus, Channel, Passage, PassageStatus, WeightReading

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "dynamodb"])
def repos(request, stack_client):  # type: ignore[no-untyped-def]
    if request.param == "memory":
        return InMemoryBookings(), InMemoryPassages(), InMemoryDetections()
    return stack_client.bookings, stack_client.passages, stack_client.detections


def booking(plate: str, start_offset_h: int = 0, status: BookingStatus = BookingStatus.BOOKED) -> Booking:
    return Booking(booking_id=f"BK-{uuid.uuid4().hex[:8]}", trader_id="TR", gate_id="kimthanh2",
                   direction="VN_TO_CN", plate_text=plate, country="VN",  # type: ignore[arg-type]
                   slot_start=NOW + timedelta(hours=start_offset_h), slot_end=NOW + timedelta(hours=start_offset_h + 1),
                   status=status, created_at=NOW)


def test_bookings_found_by_plate_key_latest_live_slot(repos) -> None:  # type: ignore[no-untyped-def]
    bookings, _, _ = repos
    plate = f"88A-{uuid.uuid4().int % 1000:03d}.{uuid.uuid4().int % 100:02d}"
    early, late, cancelled = booking(plate, 0), booking(plate, 3), booking(plate, 6, BookingStatus.CANCELLED)
    for b in (early, late, cancelled):
        bookings.put(b)
    assert bookings.get(early.booking_id) == early
    assert bookings.find_for_plate("kimthanh2", plate_key(plate)) == late
    assert bookings.find_for_plate("mongcai", plate_key(plate)) is None
    assert bookings.get("BK-missing") is None


def test_passage_create_is_idempotent_and_keeps_the_first(repos) -> None:  # type: ignore[no-untyped-def]
    _, passages, _ = repos
    passage = Passage(passage_id=f"psg-{uuid.uuid4().hex}", gate_id="kimthanh2", lane_id="in-1", plate_text="29A",
                      plate_key="29A", country="VN", status=PassageStatus.DECIDED,  # type: ignore[arg-type]
                      channel=Channel.GREEN, opened_at=NOW, decided_at=NOW)
    assert passages.create(passage) == passage
    other = passage.model_copy(update={"channel": Channel.RED})
    assert passages.create(other) == passage
    assert passages.get(passage.passage_id) == passage
    assert passages.get("psg-missing") is None


def test_detection_recorded_once_and_handled_once(repos) -> None:  # type: ignore[no-untyped-def]
    _, _, detections = repos
    reading = WeightReading(event_id=f"ev-{uuid.uuid4().hex}", gate_id="kimthanh2", lane_id="in-1",
                            gross_kg=31_500, stable=True, captured_at=NOW)
    assert detections.record(reading) is True
    assert detections.record(reading) is True  # stored but not yet handled: a retry must finish the job
    detections.mark_handled(reading.event_id)
    assert detections.record(reading) is False
