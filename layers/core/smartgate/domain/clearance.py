"""From a passage to the facts its rule set reads, and from the bookings found to the one it is.

Pure: no AWS, no I/O, no clock of its own. Every fact is a function of the *set* of the passage's
detections (never of their order), the booking and declaration it was matched to, the pass checks
and the rule set's settings; times are the detections' own (when the vehicle was seen), so a
decision replays and does not depend on when a late detection was delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from smartgate.domain.containers import container_check_digit_ok, normalise_container
from smartgate.domain.gates import LaneSpec
from smartgate.domain.matching import NO_MATCH, PlateMatch, match_plates
from smartgate.domain.plates import plate_key
from smartgate.domain.rules import RuleSet
from smartgate.schemas import (
    Booking,
    BookingStatus,
    Camera,
    Consignment,
    FactValue,
    Passage,
    PlateRead,
)


@dataclass(frozen=True)
class PassCheck:
    """A pass token as the verifier found it: valid or why not, and what it claims."""

    valid: bool  # signed by a key of ours, for this gate and direction
    problem: str | None = None
    booking_id: str | None = None
    plate: str | None = None
    in_window: bool = True  # shown within its validity window


@dataclass(frozen=True)
class BookedVehicle:
    """A booking with the declaration it carries (None when none was declared)."""

    booking: Booking
    consignment: Consignment | None


@dataclass(frozen=True)
class BookingChoice:
    booked: BookedVehicle | None
    kind: str  # exact | fuzzy | pass | none
    score: float


def vehicle_reads(passage: Passage) -> list[PlateRead]:
    return [r for r in passage.detections.plates if r.camera in (Camera.FRONT, Camera.REAR)]


def _read_rank(read: PlateRead) -> tuple[int, int, float, str]:
    """Front before rear, valid before invalid, surer before less sure; event_id breaks ties."""
    return (read.camera != Camera.FRONT, not read.format_valid, -read.confidence, read.event_id)


def primary_read(passage: Passage) -> PlateRead | None:
    """The read that stands for the vehicle's plate (order-independent)."""
    reads = vehicle_reads(passage)
    return min(reads, key=_read_rank) if reads else None


def _best_match(reads: Sequence[PlateRead], booking: Booking) -> PlateMatch:
    best = NO_MATCH
    for read in reads:
        m = match_plates(read.plate_text, read.country, booking.plate_text, booking.country)
        if m.score > best.score:
            best = m
    return best


def choose_booking(
    passage: Passage, candidates: Sequence[BookedVehicle], pass_checks: Mapping[str, PassCheck]
) -> BookingChoice:
    """The booking this vehicle is: the best plate match (live before cancelled), else the pass's."""
    reads = vehicle_reads(passage)
    scored = []
    for c in candidates:
        if c.booking.gate_id != passage.gate_id:
            continue
        m = _best_match(reads, c.booking)
        if m.score > 0:
            live = c.booking.status != BookingStatus.CANCELLED
            scored.append(((live, m.score, c.booking.slot_start, c.booking.booking_id), c, m))
    if scored:
        _, best, m = max(scored, key=lambda t: t[0])
        return BookingChoice(best, m.kind, m.score)
    by_pass = {check.booking_id for check in pass_checks.values() if check.valid and check.booking_id}
    for c in sorted(candidates, key=lambda c: c.booking.booking_id):
        if c.booking.booking_id in by_pass and c.booking.gate_id == passage.gate_id:
            return BookingChoice(c, "pass", 0.0)
    return BookingChoice(None, "none", 0.0)


def _draw(seed: str, subject: str) -> float:
    digest = hashlib.sha256(f"{seed}|{subject}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _hhmm(at: datetime) -> str:
    return at.strftime("%H:%M")


def passage_facts(
    passage: Passage, lane: LaneSpec, rule_set: RuleSet, pass_checks: Mapping[str, PassCheck]
) -> dict[str, FactValue]:
    """Every fact of :data:`smartgate.domain.facts.FACTS` for this passage."""
    settings = rule_set.settings
    doc = rule_set.document
    det = passage.detections
    booking = passage.booking
    consignment = passage.consignment
    facts: dict[str, FactValue] = {
        "gate.id": passage.gate_id,
        "lane.id": passage.lane_id,
        "direction": passage.direction.value,
        "lane.has_scale": lane.scale,
        "arrived_at": _hhmm(passage.first_seen),
    }
    # ---- plate
    reads = vehicle_reads(passage)
    primary = primary_read(passage)
    if primary is None:
        facts.update(
            {
                "plate.read": False,
                "plate.text": None,
                "plate.key": None,
                "plate.country": None,
                "plate.valid": None,
                "plate.confidence": None,
                "plate.uncertain": False,
                "plate.disagreeing": [],
            }
        )
    else:
        best = max(reads, key=lambda r: (r.format_valid, r.confidence, r.event_id))
        primary_key = plate_key(primary.plate_text)
        disagreeing = sorted(
            {
                r.plate_text
                for r in reads
                if match_plates(r.plate_text, r.country, primary.plate_text, primary.country).score == 0
                and plate_key(r.plate_text) != primary_key
            }
        )
        facts.update(
            {
                "plate.read": True,
                "plate.text": primary.plate_text,
                "plate.key": primary_key,
                "plate.country": primary.country.value,
                "plate.valid": primary.format_valid,
                "plate.confidence": primary.confidence,
                "plate.uncertain": not best.format_valid or best.confidence < settings.min_read_confidence,
                "plate.disagreeing": disagreeing,
            }
        )
    # ---- booking
    agreeing: list[str] = []
    if booking is None:
        facts.update(
            {
                "booking.found": False,
                "booking.id": None,
                "booking.plate": None,
                "booking.status": None,
                "booking.match": "none",
                "booking.match_score": 0.0,
                "booking.direction_ok": None,
                "booking.slot": None,
                "booking.minutes_early": None,
                "booking.minutes_late": None,
            }
        )
    else:
        seen = passage.first_seen
        facts.update(
            {
                "booking.found": True,
                "booking.id": booking.booking_id,
                "booking.plate": booking.plate_text,
                "booking.status": booking.status.value,
                "booking.match": passage.match,
                "booking.match_score": passage.match_score,
                "booking.direction_ok": booking.direction == passage.direction,
                "booking.slot": f"{booking.slot_start:%Y-%m-%d %H:%M}–{_hhmm(booking.slot_end)}",
                "booking.minutes_early": round(max(0.0, (booking.slot_start - seen).total_seconds() / 60), 1),
                "booking.minutes_late": round(max(0.0, (seen - booking.slot_end).total_seconds() / 60), 1),
            }
        )
        matching = [
            r for r in reads if match_plates(r.plate_text, r.country, booking.plate_text, booking.country).score > 0
        ]
        if len({r.camera for r in matching}) >= 2:
            agreeing.append("second_camera")
    # ---- declaration, containers, trailer
    declared = (
        list(consignment.container_nos)
        if consignment
        else ([normalise_container(booking.container_no)] if booking and booking.container_no else [])
    )
    checked = {normalise_container(c.container_no): container_check_digit_ok(c.container_no) for c in det.containers}
    read_ok = sorted(code for code, ok in checked.items() if ok)
    bad = sorted(code for code, ok in checked.items() if not ok)
    known_declaration = consignment is not None or booking is not None
    if set(read_ok) & set(declared):
        agreeing.append("container")
    missing_fields = []
    if consignment is not None:
        if consignment.driver_ref is None:
            missing_fields.append("driver")
        if lane.scale and consignment.vehicle_tare_kg is None:
            missing_fields.append("vehicle tare weight")
    trailer_declared = (consignment.trailer_plate if consignment else None) or (
        booking.trailer_plate if booking else None
    )
    trailer_reads = sorted(det_read.plate_text for det_read in det.plates if det_read.camera == Camera.TRAILER)
    trailer_read = trailer_reads[0] if trailer_reads else None
    trailer_ok = [t for t in trailer_reads if trailer_declared and match_plates(t, None, trailer_declared, None).score]
    if trailer_ok:
        agreeing.append("trailer")
    facts.update(
        {
            "declaration.found": consignment is not None,
            "declaration.id": consignment.consignment_id if consignment else None,
            "declaration.missing": missing_fields,
            "company.id": consignment.trader_id if consignment else booking.trader_id if booking else None,
            "containers.declared": declared,
            "containers.read": read_ok,
            "containers.missing": sorted(set(declared) - set(read_ok)) if known_declaration else [],
            "containers.unexpected": sorted(set(read_ok) - set(declared)) if known_declaration else [],
            "containers.bad_check_digit": bad,
            "trailer.declared": trailer_declared,
            "trailer.read": trailer_read,
            "trailer.mismatch": bool(trailer_reads) and not trailer_ok,
        }
    )
    # ---- weight
    stable = [w.gross_kg for w in det.weights if w.stable]
    gross = max(stable) if stable else None
    expected = None
    if consignment is not None and consignment.vehicle_tare_kg is not None:
        expected = consignment.gross_kg + consignment.vehicle_tare_kg
    deviation = round(abs(gross - expected) / expected * 100, 2) if gross is not None and expected else None
    facts.update(
        {
            "weight.read": gross is not None,
            "weight.gross_kg": gross,
            "weight.expected_kg": expected,
            "weight.deviation_pct": deviation,
        }
    )
    # ---- pass
    checks = [
        pass_checks[p.event_id] for p in sorted(det.passes, key=lambda p: p.event_id) if p.event_id in pass_checks
    ]
    valid = [c for c in checks if c.valid]
    chosen = valid[0] if valid else None
    if booking is not None and any(c.booking_id == booking.booking_id for c in valid):
        agreeing.append("pass")
        chosen = next(c for c in valid if c.booking_id == booking.booking_id)
    problem = (
        checks[0].problem
        if checks and not valid
        else chosen.problem
        if chosen is not None and not chosen.in_window
        else None
    )
    facts.update(
        {
            "pass.scanned": bool(det.passes),
            "pass.valid": bool(valid) if det.passes else None,
            "pass.in_window": chosen.in_window if chosen else None,
            "pass.problem": problem,
            "pass.booking_id": chosen.booking_id if chosen else None,
            "pass.matches_booking": (booking is not None and chosen.booking_id == booking.booking_id)
            if chosen
            else None,
            "pass.plate_matches": (
                primary is not None
                and chosen.plate is not None
                and match_plates(primary.plate_text, None, chosen.plate, None).score > 0
            )
            if chosen
            else None,
        }
    )
    # ---- the driver's face (the newest check; never a reason on its own to refuse: the rules send a
    # mismatch to an officer)
    face = max(det.faces, key=lambda f: (f.captured_at, f.event_id)) if det.faces else None
    facts.update(
        {
            "face.expected": passage.face_expected,
            "face.checked": face is not None,
            "face.decision": face.decision.value if face else None,
            "face.score": face.score if face else None,
            "face.threshold_score": round(1 - face.threshold, 4) if face else None,
            "face.matches_booking": (booking is not None and face.booking_id == booking.booking_id) if face else None,
        }
    )
    facts["evidence.agreeing"] = sorted(agreeing)
    # ---- goods
    goods = consignment.goods if consignment else []
    value_usd: float | None = 0.0
    for line in goods:
        rate = doc.usd_rates.get(line.currency)
        if rate is None:
            value_usd = None
            break
        value_usd = (value_usd or 0.0) + line.value * rate
    deadline = consignment.shelf_life_deadline() if consignment else None
    facts.update(
        {
            "goods.hs_codes": sorted({line.hs_code for line in goods}),
            "goods.origins": sorted({line.origin for line in goods}),
            "goods.lines": len(goods),
            "goods.value_usd": round(value_usd, 2) if goods and value_usd is not None else None,
            "goods.perishable": any(line.perishable for line in goods),
            "goods.reefer": any(line.reefer for line in goods),
            "goods.tests": sorted({test.value for line in goods for test in line.needs_testing}),
            "goods.hours_to_shelf_life": round((deadline - passage.first_seen).total_seconds() / 3600, 2)
            if deadline
            else None,
        }
    )
    subject = (
        consignment.consignment_id
        if consignment
        else booking.booking_id
        if booking
        else facts["plate.key"] or passage.passage_id
    )
    facts["selection.draw"] = round(_draw(doc.selection_seed, str(subject)), 6)
    recognised = booking.partner_inspection if booking else None
    facts["partner.inspected"] = recognised is not None
    facts["partner.lab_passed"] = recognised == "lab"
    return facts
