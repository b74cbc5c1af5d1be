"""What the domain needs from the outside world, named for the need, not for the AWS service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from smartgate.domain.clearance import BookedVehicle, PassCheck
from smartgate.domain.correlation import AnyDetection, LaneTrack
from smartgate.domain.rules import RuleSet
from smartgate.schemas import (
    AuditEntry,
    BarrierCommand,
    Booking,
    Consignment,
    Contract,
    Passage,
    PassageStatus,
    RejectedMessage,
)

__all__ = ["AnyDetection"]


class Conflict(RuntimeError):
    """Another write came first (a version moved on); read again and redo the change."""


class DuplicateDetection(RuntimeError):
    """This detection (event_id) is stored already."""


class BookingRepository(Protocol):
    def get(self, booking_id: str) -> Booking | None: ...
    def booked(self, booking_id: str) -> BookedVehicle | None:
        """The booking with the declaration it carries."""
        ...
    def candidates(self, gate_id: str, plate_fold: str) -> list[BookedVehicle]:
        """Bookings at this gate whose plate folds to this key (exact and OCR-confused matches)."""
        ...
    def put(self, booking: Booking, consignment: Consignment | None = None) -> None: ...


class ConsignmentRepository(Protocol):
    def get(self, consignment_id: str) -> Consignment | None: ...
    def put(self, consignment: Consignment) -> None: ...


@dataclass(frozen=True)
class DetectionRecord:
    event_id: str
    passage_id: str
    handled: bool


@dataclass(frozen=True)
class LaneCommit:
    """One detection's effect, written all or nothing: the detection, its passage, the lane's memory."""

    detection: AnyDetection
    passage: Passage
    expected_passage_version: int | None    # None: a new passage
    track: LaneTrack
    expected_track_version: int


class PassageStore(Protocol):
    def lane(self, gate_id: str, lane_id: str) -> LaneTrack:
        """The lane's recent passages (version 0 and none for a lane never seen)."""
        ...
    def get(self, passage_id: str) -> Passage | None: ...
    def commit(self, change: LaneCommit) -> None:
        """Write it atomically; Conflict if a version moved, DuplicateDetection if the detection is stored."""
        ...
    def save(self, passage: Passage, expected_version: int) -> None:
        """Store a changed passage (version = expected + 1); Conflict if the stored one is not expected."""
        ...
    def detection(self, event_id: str) -> DetectionRecord | None: ...
    def mark_handled(self, event_id: str) -> None:
        """Everything the detection causes has been done; a redelivery is now a no-op."""
        ...
    def in_status(self, gate_id: str, statuses: Sequence[PassageStatus]) -> list[Passage]: ...


class RuleSetSource(Protocol):
    def for_lane(self, gate_id: str, direction: str) -> RuleSet: ...
    def by_digest(self, digest: str) -> RuleSet | None:
        """An archived rule set (any that was ever in force), for replay."""
        ...


class PassVerifier(Protocol):
    def check(self, token: str, gate_id: str, direction: str, at: datetime) -> PassCheck: ...


class SettleScheduler(Protocol):
    def schedule(self, passage_id: str, at: datetime) -> None:
        """Ask for ``settle(passage_id)`` at (or just after) ``at``."""
        ...


class CommandPublisher(Protocol):
    def publish(self, command: BarrierCommand) -> None: ...


class EventPublisher(Protocol):
    def publish(self, events: Sequence[Contract]) -> None: ...


class RejectedSink(Protocol):
    def put(self, message: RejectedMessage) -> None: ...


class AuditLog(Protocol):
    def last(self, gate_id: str, fresh: bool = False) -> AuditEntry | None:
        """The gate's newest entry (an adapter may answer from what it appended itself unless ``fresh``)."""
        ...
    def append(self, entry: AuditEntry) -> bool:
        """Store the entry as the next link; False if its entry_id is recorded already. Conflict if the
        seq is taken (another append came first)."""
        ...
    def entries(self, gate_id: str) -> list[AuditEntry]: ...
    def for_passage(self, passage_id: str) -> list[AuditEntry]: ...


class Clock(Protocol):
    def now(self) -> datetime: ...
