"""In-memory adapters, one per port, for unit tests; each passes the same contract tests as the real one."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime

from smartgate.domain.clearance import BookedVehicle, PassCheck
from smartgate.domain.correlation import LaneTrack
from smartgate.domain.matching import fold_plate
from smartgate.domain.rules import RuleSet
from smartgate.ports import Conflict, DetectionRecord, DuplicateDetection, LaneCommit
from smartgate.schemas import (
    AuditEntry,
    BarrierCommand,
    Booking,
    Consignment,
    Contract,
    Passage,
    PassageStatus,
    RejectedMessage,
    utc_now,
)


class InMemoryBookings:
    """Bookings, each with the copy of the declaration it was stored with (as the DynamoDB adapter keeps it)."""

    def __init__(self, bookings: Sequence[Booking] = (), consignments: Sequence[Consignment] = ()) -> None:
        by_id = {c.consignment_id: c for c in consignments}
        self.items: dict[str, Booking] = {}
        self.copies: dict[str, Consignment | None] = {}
        for b in bookings:
            self.put(b, by_id.get(b.consignment_id or ""))

    def get(self, booking_id: str) -> Booking | None:
        return self.items.get(booking_id)

    def booked(self, booking_id: str) -> BookedVehicle | None:
        booking = self.items.get(booking_id)
        return BookedVehicle(booking, self.copies.get(booking_id)) if booking else None

    def candidates(self, gate_id: str, plate_fold: str) -> list[BookedVehicle]:
        found = [b for b in self.items.values() if b.gate_id == gate_id and fold_plate(b.plate_text) == plate_fold]
        return [BookedVehicle(b, self.copies.get(b.booking_id)) for b in sorted(found, key=lambda b: b.booking_id)]

    def put(self, booking: Booking, consignment: Consignment | None = None) -> None:
        self.items[booking.booking_id] = booking
        self.copies[booking.booking_id] = consignment


class InMemoryConsignments:
    def __init__(self) -> None:
        self.items: dict[str, Consignment] = {}

    def get(self, consignment_id: str) -> Consignment | None:
        return self.items.get(consignment_id)

    def put(self, consignment: Consignment) -> None:
        self.items[consignment.consignment_id] = consignment


class InMemoryPassageStore:
    """Lanes, passages and detections with the same conditional semantics as the DynamoDB store."""

    def __init__(self) -> None:
        self.tracks: dict[tuple[str, str], LaneTrack] = {}
        self.passages: dict[str, Passage] = {}
        self.detections: dict[str, DetectionRecord] = {}
        self.lock = threading.Lock()
        self.writes = 0

    def lane(self, gate_id: str, lane_id: str) -> LaneTrack:
        return self.tracks.get((gate_id, lane_id)) or LaneTrack(gate_id=gate_id, lane_id=lane_id)

    def get(self, passage_id: str) -> Passage | None:
        return self.passages.get(passage_id)

    def commit(self, change: LaneCommit) -> None:
        with self.lock:
            d, p, t = change.detection, change.passage, change.track
            if d.event_id in self.detections:
                raise DuplicateDetection(d.event_id)
            stored_track = self.lane(t.gate_id, t.lane_id)
            if stored_track.version != change.expected_track_version:
                raise Conflict(f"lane {t.gate_id}/{t.lane_id} is at version {stored_track.version}")
            stored = self.passages.get(p.passage_id)
            if (stored.version if stored else None) != change.expected_passage_version:
                raise Conflict(f"passage {p.passage_id} is at version {stored.version if stored else None}")
            self.tracks[(t.gate_id, t.lane_id)] = t
            self.passages[p.passage_id] = p
            self.detections[d.event_id] = DetectionRecord(d.event_id, p.passage_id, False)
            self.writes += 1

    def save(self, passage: Passage, expected_version: int) -> None:
        with self.lock:
            stored = self.passages.get(passage.passage_id)
            if stored is None or stored.version != expected_version:
                raise Conflict(f"passage {passage.passage_id} is not at version {expected_version}")
            if passage.version != expected_version + 1:
                raise ValueError(f"version: a save of version {expected_version} writes {expected_version + 1}")
            self.passages[passage.passage_id] = passage
            self.writes += 1

    def detection(self, event_id: str) -> DetectionRecord | None:
        return self.detections.get(event_id)

    def mark_handled(self, event_id: str) -> None:
        record = self.detections.get(event_id)
        if record is not None:
            self.detections[event_id] = DetectionRecord(record.event_id, record.passage_id, True)

    def in_status(self, gate_id: str, statuses: Sequence[PassageStatus]) -> list[Passage]:
        return sorted(
            (p for p in self.passages.values() if p.gate_id == gate_id and p.status in statuses),
            key=lambda p: (p.opened_at, p.passage_id),
        )


class FixedRuleSets:
    """One rule set for every lane (and an archive of whatever it was given)."""

    def __init__(self, rule_set: RuleSet, *others: RuleSet) -> None:
        self.rule_set = rule_set
        self.archive = {rs.digest: rs for rs in (rule_set, *others)}

    def for_lane(self, gate_id: str, direction: str) -> RuleSet:
        return self.rule_set

    def by_digest(self, digest: str) -> RuleSet | None:
        return self.archive.get(digest)


class TablePasses:
    """Pass checks looked up in a table of token -> check (tests write the tokens they need)."""

    def __init__(self, checks: dict[str, PassCheck] | None = None) -> None:
        self.checks = checks or {}

    def check(self, token: str, gate_id: str, direction: str, at: datetime) -> PassCheck:
        return self.checks.get(token, PassCheck(False, "unknown token"))


class RecordingSettle:
    def __init__(self) -> None:
        self.scheduled: list[tuple[str, datetime]] = []

    def schedule(self, passage_id: str, at: datetime) -> None:
        self.scheduled.append((passage_id, at))


class RecordingCommands:
    def __init__(self) -> None:
        self.sent: list[BarrierCommand] = []

    def publish(self, command: BarrierCommand) -> None:
        self.sent.append(command)


class RecordingEvents:
    def __init__(self) -> None:
        self.sent: list[Contract] = []

    def publish(self, events: Sequence[Contract]) -> None:
        self.sent.extend(events)


class RecordingRejects:
    def __init__(self) -> None:
        self.items: list[RejectedMessage] = []

    def put(self, message: RejectedMessage) -> None:
        self.items.append(message)


class InMemoryAudit:
    def __init__(self) -> None:
        self.chains: dict[str, list[AuditEntry]] = {}
        self.ids: set[str] = set()
        self.lock = threading.Lock()

    def last(self, gate_id: str, fresh: bool = False) -> AuditEntry | None:
        chain = self.chains.get(gate_id)
        return chain[-1] if chain else None

    def append(self, entry: AuditEntry) -> bool:
        with self.lock:
            if entry.entry_id in self.ids:
                return False
            chain = self.chains.setdefault(entry.gate_id, [])
            if (chain[-1].seq if chain else 0) + 1 != entry.seq:
                raise Conflict(f"audit seq {entry.seq} of gate {entry.gate_id} is taken")
            chain.append(entry)
            self.ids.add(entry.entry_id)
            return True

    def entries(self, gate_id: str) -> list[AuditEntry]:
        return list(self.chains.get(gate_id, []))

    def for_passage(self, passage_id: str) -> list[AuditEntry]:
        return [e for chain in self.chains.values() for e in chain if e.passage_id == passage_id]


class FixedClock:
    def __init__(self, at: datetime | None = None) -> None:
        self.at = at or utc_now()

    def now(self) -> datetime:
        return self.at
