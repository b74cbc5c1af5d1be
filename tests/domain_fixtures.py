"""Builders for domain tests: a consignment, a booking, detections, and crossing deps on in-memory adapters."""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from smartgate.adapters.memory import (
    FixedClock,
    FixedRuleSets,
    InMemoryBookings,
    InMemoryPassageStore,
    RecordingCommands,
    RecordingSettle,
    TablePasses,
)
from smartgate.domain.biometrics import LaneFaces
from smartgate.domain.clearance import PassCheck
from smartgate.domain.commands import CommandSigner
from smartgate.domain.crossing import CrossingDeps
from smartgate.domain.gates import default_gates
from smartgate.domain.rules import RuleSet, builtin_rule_sets
from smartgate.schemas import (
    Booking,
    Camera,
    Consignment,
    ContainerRead,
    FaceDecision,
    FaceQuality,
    FaceReference,
    FaceVerified,
    GoodsLine,
    PassScanned,
    PlateRead,
    WeightReading,
)

T0 = datetime.fromisoformat("2026-12-01T08:00:00+00:00")
TEST_SIGNER = CommandSigner.from_seed("test-1", "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=")
GATE, LANE = "sandbox", "out-01"
_ids = itertools.count(1)


class ContextCipher:
    """A stand-in for KMS: bytes XORed with a keystream of the context, so the wrong context gives garbage."""

    def _stream(self, n: int, context: dict[str, str]) -> bytes:
        seed = repr(sorted(context.items())).encode()
        out = b""
        while len(out) < n:
            seed = hashlib.sha256(seed).digest()
            out += seed
        return out[:n]

    def encrypt(self, plaintext: bytes, context: dict[str, str]) -> bytes:
        return bytes(a ^ b for a, b in zip(plaintext, self._stream(len(plaintext), context), strict=True))

    decrypt = encrypt


class AccessLog:
    """The personal-data access log, in memory."""

    def __init__(self) -> None:
        self.rows: list[tuple[str, str, str, str]] = []

    def log_access(self, subject: str, who: str, what: str, at: datetime) -> None:
        self.rows.append((subject, at.isoformat(), who, what))

    def accesses_of(self, subject: str) -> list[tuple[str, str, str]]:
        return [(at, who, what) for s, at, who, what in self.rows if s == subject]


@dataclass
class RecordingFaces:
    """Face references a lane was sent."""

    sent: list[FaceReference] = field(default_factory=list)

    def publish(self, reference: FaceReference) -> None:
        self.sent.append(reference)


def default_rules() -> RuleSet:
    return builtin_rule_sets()["vn-cn-road"]


def goods(**changes: Any) -> GoodsLine:
    base: dict[str, Any] = dict(
        hs_code="4001.22",
        description="natural rubber, TSR 20",
        quantity=20,
        unit="bale",
        net_kg=20_000,
        gross_kg=20_400,
        value=31_000,
        currency="USD",
        origin="VN",
    )
    return GoodsLine.model_validate({**base, **changes})


def consignment(
    cid: str = "C-1",
    plate: str = "24C-123.45",
    containers: tuple[str, ...] = ("MSKU6011672",),
    lines: list[GoodsLine] | None = None,
    **changes: Any,
) -> Consignment:
    base: dict[str, Any] = dict(
        consignment_id=cid,
        trader_id="TR-VN-0107",
        gate_id=GATE,
        direction="VN_TO_CN",
        plate_text=plate,
        country="VN",
        container_nos=list(containers),
        driver_ref="DRV-1",
        vehicle_tare_kg=15_000,
        goods=lines or [goods()],
        declared_at=T0 - timedelta(days=1),
    )
    return Consignment.model_validate({**base, **changes})


def booking(c: Consignment, bid: str = "BK-1", start: int = -30, end: int = 90, **changes: Any) -> Booking:
    base: dict[str, Any] = dict(
        booking_id=bid,
        trader_id=c.trader_id,
        gate_id=c.gate_id,
        direction=c.direction,
        plate_text=c.plate_text,
        country=c.country,
        consignment_id=c.consignment_id,
        slot_start=T0 + timedelta(minutes=start),
        slot_end=T0 + timedelta(minutes=end),
        created_at=T0 - timedelta(days=1),
    )
    return Booking.model_validate({**base, **changes})


def _eid(prefix: str) -> str:
    return f"{prefix}-{next(_ids):06d}"


def plate(
    text: str,
    at: datetime = T0,
    camera: str = "front",
    confidence: float = 0.97,
    valid: bool = True,
    lane: str = LANE,
    country: str | None = None,
    **kw: Any,
) -> PlateRead:
    return PlateRead(
        event_id=kw.pop("event_id", None) or _eid("pl"),
        gate_id=GATE,
        lane_id=lane,
        camera=Camera(camera),
        plate_text=text,
        country=country or ("CN" if not text[0].isascii() else "VN"),
        format_valid=valid,
        confidence=confidence,
        captured_at=at,
        **kw,
    )


def container(no: str, at: datetime = T0, lane: str = LANE, ok: bool = True, **kw: Any) -> ContainerRead:
    return ContainerRead(
        event_id=kw.pop("event_id", None) or _eid("ct"),
        gate_id=GATE,
        lane_id=lane,
        container_no=no,
        check_digit_ok=ok,
        confidence=0.93,
        captured_at=at,
    )


def weight(kg: float, at: datetime = T0, lane: str = LANE, stable: bool = True, **kw: Any) -> WeightReading:
    return WeightReading(
        event_id=kw.pop("event_id", None) or _eid("wt"),
        gate_id=GATE,
        lane_id=lane,
        gross_kg=kg,
        stable=stable,
        captured_at=at,
    )


def pass_scan(token: str, at: datetime = T0, lane: str = LANE, **kw: Any) -> PassScanned:
    return PassScanned(
        event_id=kw.pop("event_id", None) or _eid("ps"), gate_id=GATE, lane_id=lane, token=token, captured_at=at
    )


def face(decision: str, booking_id: str = "BK-1", at: datetime = T0, lane: str = LANE, **kw: Any) -> FaceVerified:
    """The lane's 1:1 face check: compared (match / mismatch, with a score) or not (unusable, no_reference)."""
    compared = decision in ("match", "mismatch")
    score = kw.pop("score", 0.62 if decision == "match" else 0.28)
    return FaceVerified(
        event_id=kw.pop("event_id", None) or _eid("fc"),
        gate_id=GATE,
        lane_id=lane,
        booking_id=booking_id,
        decision=FaceDecision(decision),
        score=score if compared else None,
        threshold=0.55,
        quality=None
        if decision == "unusable"
        else FaceQuality(face_px=140, sharpness=80.0, detector_score=0.93, frames=4, rejected={"blurred": 1}),
        captured_at=at,
    )


@dataclass
class World:
    """Crossing deps over in-memory adapters, with what they recorded."""

    rules: RuleSet = field(default_factory=default_rules)
    now: datetime = T0
    bookings: InMemoryBookings = field(default_factory=InMemoryBookings)
    store: InMemoryPassageStore = field(default_factory=InMemoryPassageStore)
    commands: RecordingCommands = field(default_factory=RecordingCommands)
    settled: RecordingSettle = field(default_factory=RecordingSettle)
    passes: dict[str, PassCheck] = field(default_factory=dict)
    clock: FixedClock = field(default_factory=lambda: FixedClock(T0))
    faces: LaneFaces | None = None

    def __post_init__(self) -> None:
        self.clock.at = self.now

    @property
    def deps(self) -> CrossingDeps:
        return CrossingDeps(
            default_gates("local"),
            FixedRuleSets(self.rules),
            self.bookings,
            self.store,
            TablePasses(self.passes),
            self.commands,
            self.settled,
            self.clock,
            TEST_SIGNER,
            faces=self.faces,
        )

    def book(self, c: Consignment, **changes: Any) -> Booking:
        b = booking(c, **changes)
        self.bookings.put(b, c)
        return b

    def later(self, seconds: float) -> None:
        self.clock.at = self.clock.at + timedelta(seconds=seconds)


def race(work: Any, items: list[Any]) -> list[BaseException]:
    """Run ``work(item)`` for every item at the same moment, one thread each; the errors they raised."""
    import threading

    barrier = threading.Barrier(len(items))
    errors: list[BaseException] = []

    def run(item: Any) -> None:
        barrier.wait()
        try:
            work(item)
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(item,)) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors
