"""What the domain needs from the outside world, named for the need, not for the AWS service."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from smartgate.domain.clearance import BookedVehicle, PassCheck
from smartgate.domain.correlation import AnyDetection, LaneTrack
from smartgate.domain.passes import PassClaims
from smartgate.domain.rules import RuleSet
from smartgate.domain.slots import WindowState
from smartgate.schemas import (
    AuditEntry,
    BarrierCommand,
    Booking,
    BookingStatus,
    Consignment,
    Contract,
    Passage,
    PassageStatus,
    RejectedMessage,
)
from smartgate.schemas.api import Company, Driver, Notification, TimelineEntry, Vehicle
from smartgate.schemas.officers import OfficerAlert, PlateCorrection

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
    expected_passage_version: int | None  # None: a new passage
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


# --------------------------------------------------------------------------- the trade side


class Refused(Exception):
    """A conditional write that did not happen; ``reason`` says which condition (``window_full`` ...)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TradeStore(Protocol):
    """Companies, their fleets, declarations, slot windows and bookings; every count kept atomically."""

    def company(self, company_id: str) -> Company | None: ...
    def put_company(self, company: Company) -> bool: ...
    def put_vehicle(self, vehicle: Vehicle) -> None: ...
    def vehicle(self, company_id: str, plate: str) -> Vehicle | None: ...
    def vehicles(self, company_id: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Vehicle], Any]: ...
    def put_driver(self, driver: Driver) -> None: ...
    def driver(self, company_id: str, driver_id: str) -> Driver | None: ...
    def drivers(self, company_id: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Driver], Any]: ...
    def put_consignment(self, consignment: Consignment) -> bool: ...
    def consignment(self, consignment_id: str) -> tuple[Consignment, str | None] | None: ...
    def company_consignments(
        self, company_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Consignment], Any]: ...
    def windows(self, gate_id: str, direction: str, day: datetime) -> list[WindowState]: ...
    def window(self, gate_id: str, direction: str, start: datetime) -> WindowState: ...
    def set_capacity(
        self, gate_id: str, direction: str, start: datetime, default: int, ours: int | None, partner: int | None
    ) -> WindowState: ...
    def bookings_in_window(self, gate_id: str, direction: str, start: datetime) -> list[Booking]: ...
    def open_bookings_of_vehicle(self, plate_text: str, gate_id: str) -> list[Booking]: ...
    def book(
        self,
        booking: Booking,
        consignment: Consignment,
        default_capacity: int,
        company_limit: int,
        entry: TimelineEntry,
        note: Notification,
    ) -> None: ...
    def booked(self, booking_id: str) -> tuple[Booking, Consignment | None] | None: ...
    def company_bookings(
        self, company_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Booking], Any]: ...
    def end(
        self, booking: Booking, status: BookingStatus, consignment: Consignment | None, entry: TimelineEntry
    ) -> Booking: ...
    def arrive(
        self,
        booking: Booking,
        consignment: Consignment | None,
        entry: TimelineEntry,
        event_id: str,
        note: Notification,
    ) -> bool: ...
    def move(
        self,
        booking: Booking,
        to_start: datetime,
        default_capacity: int,
        consignment: Consignment | None,
        entry: TimelineEntry,
    ) -> Booking: ...
    def set_status(
        self,
        booking: Booking,
        status: BookingStatus,
        consignment: Consignment | None,
        only_from: Sequence[BookingStatus] = (),
    ) -> bool: ...
    def due_no_shows(self, before: datetime) -> list[Booking]: ...
    def add_timeline(self, booking_id: str, entry: TimelineEntry, event_id: str) -> None: ...
    def timeline_of(self, booking_id: str) -> list[TimelineEntry]: ...
    def notifications(
        self, company_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Notification], Any]: ...
    def log_access(self, subject: str, who: str, what: str, at: datetime) -> None: ...
    def take(self, key: str, limit: int, ttl: timedelta) -> bool: ...


class TraderNotifier(Protocol):
    def notify(self, note: Notification) -> None:
        """Keep it in the company's outbox and send it to the company's subscribers."""
        ...


class PassIssuer(Protocol):
    key_id: str

    def issue(self, claims: PassClaims) -> str: ...


# --------------------------------------------------------------------------- officers


class AlertStore(Protocol):
    def create(self, alert: OfficerAlert) -> bool:
        """Store a new alert; False when its id is stored already."""
        ...

    def get(self, alert_id: str) -> OfficerAlert | None: ...
    def save(self, alert: OfficerAlert, expected_version: int) -> None:
        """Conflict when the stored alert is not at ``expected_version``."""
        ...

    def for_passage(self, passage_id: str) -> list[OfficerAlert]: ...


class AlertSender(Protocol):
    def publish(self, topic_arn: str, subject: str, text: str, attributes: dict[str, str]) -> str:
        """Hand a message to a topic; returns its message id."""
        ...


class EscalationTimer(Protocol):
    def schedule(self, alert_id: str, level: int, at: datetime) -> None: ...


class RateLimiter(Protocol):
    def take(self, key: str, limit: int, ttl: timedelta) -> bool:
        """One more use of the key; False when ``limit`` uses were made within ``ttl``."""
        ...


class LabelledExamples(Protocol):
    def keep(self, correction: PlateCorrection, source_crop_key: str | None) -> str | None:
        """Keep the corrected read with a copy of its crop; returns the copy's key (None without a crop)."""
        ...
