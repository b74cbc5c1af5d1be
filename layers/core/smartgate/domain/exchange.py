"""The partner gate exchange in our domain: which of our facts become which cross-border event, and what
the partner's events mean for our bookings and slots. Pure; the functions do the I/O.

Outbound (we tell the partner): a booking made -> ExpectedArrival; a booked vehicle's passage released ->
VehicleCleared (with what we actually checked), held or in inspection -> ConsignmentHeld, refused ->
ConsignmentRefused, departed after release -> VehicleDeparted. The reference is the booking id; event ids
are stable per fact (a redelivered stream record or bus event makes the same event, which the partner
keeps once).

Inbound (the partner tells us): its clearance, hold, refusal and departure go on the booking's timeline
(the trader sees "released at Hekou"); its published capacity becomes the partner's capacity of our
window (bookings beyond it move on, as when an operator lowers it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from smartgate.schemas import Booking, Channel, Consignment, Passage, PassageStateChanged, PassageStatus
from smartgate.schemas.partner import (
    CapacityPublished,
    ConsignmentHeld,
    ConsignmentRefused,
    ExpectedArrival,
    Inspection,
    PartnerEvent,
    PartnerGoodsLine,
    ReasonCode,
    VehicleCleared,
    VehicleDeparted,
)


def _event_id(*parts: str) -> str:
    return "x-" + hashlib.sha256("|".join(parts).encode()).hexdigest()[:28]


def expected_arrival(
    booking: Booking, consignment: Consignment, our_gate: str, partner_gate: str, at: datetime
) -> ExpectedArrival:
    return ExpectedArrival(
        event_id=_event_id(our_gate, booking.booking_id, "expected", str(booking.slot_start.isoformat())),
        from_gate=our_gate,
        to_gate=partner_gate,
        occurred_at=at,
        reference=booking.booking_id,
        plate_text=booking.plate_text,
        country=consignment.country,
        trailer_plate=consignment.trailer_plate,
        container_nos=list(consignment.container_nos),
        direction=booking.direction,
        slot_start=booking.slot_start,
        slot_end=booking.slot_end,
        goods=[
            PartnerGoodsLine(
                hs_code=g.hs_code,
                description=g.description,
                quantity=g.quantity,
                unit=g.unit,
                gross_kg=g.gross_kg,
                origin=g.origin,
                perishable=g.perishable,
            )
            for g in consignment.goods
        ],
        declared_gross_kg=consignment.gross_kg,
    )


def _inspection(passage: Passage) -> tuple[Inspection, list[str] | None, str | None]:
    """What we actually checked: the lab (and its outcome), a physical inspection, the documents, nothing."""
    samples = [s for s in passage.lab_samples if s.result is not None]
    if samples:
        outcome = "fail" if any(s.result and s.result.outcome == "fail" for s in samples) else "pass"
        tests = sorted({t.value for s in samples for t in s.tests})
        return Inspection.LAB, tests or None, outcome
    channel = passage.channel
    if channel == Channel.RED:
        return Inspection.PHYSICAL, None, None
    if channel == Channel.YELLOW:
        return Inspection.DOCUMENTS, None, None
    return Inspection.NONE, None, None


_HELD_REASON = {
    PassageStatus.HELD: ReasonCode.DOCUMENTS,
    PassageStatus.IN_INSPECTION: ReasonCode.INSPECTION,
    PassageStatus.SAMPLED: ReasonCode.LAB,
}


def passage_event(
    event: PassageStateChanged, passage: Passage, our_gate: str, partner_gate: str
) -> PartnerEvent | None:
    """The cross-border event a booked vehicle's status change makes, or None (unbooked, or nothing the
    partner is told)."""
    if not event.booking_id or passage.plate_text is None:
        return None
    common = {
        "event_id": _event_id(our_gate, event.event_id),
        "from_gate": our_gate,
        "to_gate": partner_gate,
        "occurred_at": event.at,
        "reference": event.booking_id,
    }
    vehicle = {
        "plate_text": passage.plate_text,
        "country": passage.country or "VN",
        "container_nos": sorted({c.container_no for c in passage.detections.containers if c.check_digit_ok})
        or (list(passage.consignment.container_nos) if passage.consignment else []),
        "direction": passage.direction,
    }
    if event.to_status == PassageStatus.RELEASED:
        inspection, tests, outcome = _inspection(passage)
        return VehicleCleared(
            **common,
            **vehicle,
            channel=passage.channel or Channel.GREEN,
            inspection=inspection,
            lab_tests=tests,
            lab_outcome=outcome,
            cleared_at=event.at,
        )
    if event.to_status == PassageStatus.DEPARTED and event.from_status == PassageStatus.RELEASED:
        return VehicleDeparted(**common, **vehicle, departed_at=event.at)
    if event.to_status in _HELD_REASON:
        return ConsignmentHeld(
            **common,
            direction=passage.direction,
            plate_text=passage.plate_text,
            reason_code=_HELD_REASON[event.to_status],
            note=None,
        )
    if event.to_status == PassageStatus.REFUSED:
        return ConsignmentRefused(
            **common, direction=passage.direction, plate_text=passage.plate_text, reason_code=ReasonCode.OTHER
        )
    return None


# --------------------------------------------------------------------------- inbound


@dataclass(frozen=True)
class TimelineNote:
    """What a partner's consignment event puts on the booking's timeline."""

    booking_id: str
    status: str  # a TimelineStatus: partner_cleared | partner_held | partner_refused | partner_departed
    at: datetime
    detail: str


def timeline_note(event: PartnerEvent, partner_name: str) -> TimelineNote | None:
    """The partner's clearance, hold, refusal or departure as a timeline entry of our booking (its reference)."""
    if isinstance(event, VehicleCleared):
        checked = {"none": "", "documents": "documents checked, ", "physical": "inspected, ", "lab": "lab tested, "}
        detail = f"{partner_name}: {checked[event.inspection.value]}released"
        if event.lab_outcome:
            detail += f" (lab {event.lab_outcome})"
        return TimelineNote(event.reference, "partner_cleared", event.cleared_at, detail)
    if isinstance(event, ConsignmentHeld):
        note = f": {event.note}" if event.note else ""
        return TimelineNote(
            event.reference,
            "partner_held",
            event.occurred_at,
            f"{partner_name}: held ({event.reason_code.value}){note}",
        )
    if isinstance(event, ConsignmentRefused):
        note = f": {event.note}" if event.note else ""
        detail = f"{partner_name}: refused ({event.reason_code.value}){note}"
        return TimelineNote(event.reference, "partner_refused", event.occurred_at, detail)
    if isinstance(event, VehicleDeparted):
        return TimelineNote(event.reference, "partner_departed", event.departed_at, f"{partner_name}: left the gate")
    return None


def capacity_change(event: CapacityPublished) -> tuple[datetime, int]:
    """(window start, the partner's capacity) for our window of the same direction."""
    return event.window_start, event.capacity
