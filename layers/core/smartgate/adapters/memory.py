"""In-memory adapters, one per port, for unit tests; each passes the same contract tests as the real one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from smartgate.ports import AnyDetection
from smartgate.schemas import (
    BarrierCommand,
    Booking,
    BookingStatus,
    ClearanceDecided,
    Passage,
    RejectedMessage,
    utc_now,
)


class InMemoryBookings:
    def __init__(self, bookings: Sequence[Booking] = ()) -> None:
        self.items: dict[str, Booking] = {b.booking_id: b for b in bookings}

    def get(self, booking_id: str) -> Booking | None:
        return self.items.get(booking_id)

    def find_for_plate(self, gate_id: str, plate_key: str) -> Booking | None:
        from smartgate.domain.plates import plate_key as key_of

        live = [b for b in self.items.values()
                if b.gate_id == gate_id and key_of(b.plate_text) == plate_key
                and b.status != BookingStatus.CANCELLED]
        return max(live, key=lambda b: b.slot_start, default=None)

    def put(self, booking: Booking) -> None:
        self.items[booking.booking_id] = booking


class InMemoryPassages:
    def __init__(self) -> None:
        self.items: dict[str, Passage] = {}

    def get(self, passage_id: str) -> Passage | None:
        return self.items.get(passage_id)

    def create(self, passage: Passage) -> Passage:
        return self.items.setdefault(passage.passage_id, passage)


class InMemoryDetections:
    def __init__(self) -> None:
        self.items: dict[str, AnyDetection] = {}
        self.handled: set[str] = set()

    def record(self, detection: AnyDetection) -> bool:
        self.items.setdefault(detection.event_id, detection)
        return detection.event_id not in self.handled

    def mark_handled(self, event_id: str) -> None:
        self.handled.add(event_id)


class RecordingCommands:
    def __init__(self) -> None:
        self.sent: list[BarrierCommand] = []

    def publish(self, command: BarrierCommand) -> None:
        self.sent.append(command)


class RecordingEvents:
    def __init__(self) -> None:
        self.sent: list[ClearanceDecided] = []

    def publish(self, events: Sequence[ClearanceDecided]) -> None:
        self.sent.extend(events)


class RecordingRejects:
    def __init__(self) -> None:
        self.items: list[RejectedMessage] = []

    def put(self, message: RejectedMessage) -> None:
        self.items.append(message)


class FixedClock:
    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or utc_now()

    def now(self) -> datetime:
        return self.at
