"""What the domain needs from the outside world, named for the need, not for the AWS service."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from smartgate.schemas import (
    BarrierCommand,
    Booking,
    ClearanceDecided,
    ContainerRead,
    Passage,
    PassScanned,
    PlateRead,
    RejectedMessage,
    WeightReading,
)

AnyDetection = PlateRead | ContainerRead | PassScanned | WeightReading


class BookingRepository(Protocol):
    def get(self, booking_id: str) -> Booking | None: ...
    def find_for_plate(self, gate_id: str, plate_key: str) -> Booking | None:
        """The live booking (not cancelled, latest slot) of this plate at this gate, if any."""
        ...
    def put(self, booking: Booking) -> None: ...


class PassageRepository(Protocol):
    def get(self, passage_id: str) -> Passage | None: ...
    def create(self, passage: Passage) -> Passage:
        """Store a new passage; if one with this id exists already, return the stored one unchanged."""
        ...


class DetectionRepository(Protocol):
    def record(self, detection: AnyDetection) -> bool:
        """Store a detection once by its event_id; False when it was fully handled before.

        True for a new detection, and for one stored before whose handling did not finish
        (a crash part-way), so that the retry completes the job.
        """
        ...

    def mark_handled(self, event_id: str) -> None:
        """Everything the detection causes has been done; a redelivery is now a no-op."""
        ...


class CommandPublisher(Protocol):
    def publish(self, command: BarrierCommand) -> None: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[ClearanceDecided]) -> None: ...


class RejectedSink(Protocol):
    def put(self, message: RejectedMessage) -> None: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
