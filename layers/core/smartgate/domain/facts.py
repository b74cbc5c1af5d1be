"""The facts a rule set may read: declared once here, with their type and meaning.

A rule names facts; it never reaches into storage. ``smartgate.domain.clearance.passage_facts``
computes every fact of this catalogue from a passage (its detections, the booking and declaration it
was matched to, the pass checks) and the clock, as a flat ``{name: value}`` dict. A value is None
when it is not known (no weight was read, no booking was found); every comparison on an unknown value
is false, so a rule on a missing fact does not fire (``known: false`` tests for it).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FactType(StrEnum):
    BOOL = "bool"
    NUMBER = "number"
    TEXT = "text"
    TEXTS = "texts"  # a list of texts; never None (empty when nothing)


@dataclass(frozen=True)
class FactSpec:
    type: FactType
    meaning: str


B, N, T, L = FactType.BOOL, FactType.NUMBER, FactType.TEXT, FactType.TEXTS

FACTS: dict[str, FactSpec] = {
    # where
    "gate.id": FactSpec(T, "the gate"),
    "lane.id": FactSpec(T, "the lane"),
    "direction": FactSpec(T, "VN_TO_CN or CN_TO_VN (the lane's direction)"),
    "lane.has_scale": FactSpec(B, "the lane weighs vehicles"),
    "arrived_at": FactSpec(T, "when the vehicle was first seen (UTC, HH:MM)"),
    # the vehicle's plate
    "plate.read": FactSpec(B, "a front or rear plate was read"),
    "plate.text": FactSpec(T, "the vehicle plate as read (best front read)"),
    "plate.key": FactSpec(T, "its normalised key (29A12345)"),
    "plate.country": FactSpec(T, "VN or CN, as the lane classified it"),
    "plate.valid": FactSpec(B, "the read is a plate of a known format"),
    "plate.confidence": FactSpec(N, "the read's confidence, 0..1"),
    "plate.uncertain": FactSpec(B, "invalid format or confidence under the rule set's minimum"),
    "plate.disagreeing": FactSpec(L, "vehicle-camera reads that are not the same plate as the vehicle's"),
    # the booking
    "booking.found": FactSpec(B, "a booking was matched (by plate or by pass)"),
    "booking.id": FactSpec(T, "the matched booking"),
    "booking.plate": FactSpec(T, "the plate the booking names"),
    "booking.status": FactSpec(T, "BOOKED, ARRIVED, CLEARED or CANCELLED"),
    "booking.match": FactSpec(T, "exact, fuzzy (OCR confusions), pass (by the pass only) or none"),
    "booking.match_score": FactSpec(N, "1.0 exact; less for each confused character"),
    "booking.direction_ok": FactSpec(B, "the booking's direction is the lane's"),
    "booking.slot": FactSpec(T, "the booked slot, HH:MM–HH:MM UTC"),
    "booking.minutes_early": FactSpec(N, "minutes before the slot start (0 inside or after)"),
    "booking.minutes_late": FactSpec(N, "minutes after the slot end (0 inside or before)"),
    "evidence.agreeing": FactSpec(L, "what confirms the booked vehicle: container, pass, second_camera, trailer"),
    # the declaration
    "declaration.found": FactSpec(B, "the booking carries a consignment declaration"),
    "declaration.id": FactSpec(T, "the consignment"),
    "declaration.missing": FactSpec(L, "what the declaration lacks for this crossing"),
    "company.id": FactSpec(T, "the declaring trader"),
    # containers and trailer
    "containers.declared": FactSpec(L, "container numbers declared"),
    "containers.read": FactSpec(L, "container numbers read with a right check digit"),
    "containers.missing": FactSpec(L, "declared but not read"),
    "containers.unexpected": FactSpec(L, "read (right check digit) but not declared"),
    "containers.bad_check_digit": FactSpec(L, "container codes read with a wrong check digit"),
    "trailer.declared": FactSpec(T, "the declared trailer plate"),
    "trailer.read": FactSpec(T, "the trailer plate read"),
    "trailer.mismatch": FactSpec(B, "a trailer plate was read and is not the declared one"),
    # weight
    "weight.read": FactSpec(B, "a stable scale reading was taken"),
    "weight.gross_kg": FactSpec(N, "the weighed gross (the largest stable reading)"),
    "weight.expected_kg": FactSpec(N, "declared goods gross + the vehicle's declared tare"),
    "weight.deviation_pct": FactSpec(N, "|weighed - expected| / expected, in %"),
    # the pass
    "pass.scanned": FactSpec(B, "a QR pass was shown"),
    "pass.valid": FactSpec(B, "its signature checks out and it is for this gate and direction"),
    "pass.in_window": FactSpec(B, "it was shown within its validity window (around the booked slot)"),
    "pass.problem": FactSpec(T, "why a pass is not valid"),
    "pass.booking_id": FactSpec(T, "the booking the pass names"),
    "pass.matches_booking": FactSpec(B, "the pass names the matched booking"),
    "pass.plate_matches": FactSpec(B, "the pass's plate is the plate read"),
    # the driver's face (1:1 with the booked driver's enrolled face, at the lane)
    "face.expected": FactSpec(B, "the booked driver is enrolled and their face was sent to the lane's cab camera"),
    "face.checked": FactSpec(B, "the lane compared the driver's face with the booked driver's"),
    "face.decision": FactSpec(T, "match, mismatch, unusable (no usable frame) or no_reference (not enrolled)"),
    "face.score": FactSpec(N, "similarity 0..1 of the comparison (1 - descriptor distance)"),
    "face.threshold_score": FactSpec(N, "the lowest similarity the lane takes as a match"),
    "face.matches_booking": FactSpec(B, "the face was compared for the matched booking's driver"),
    # goods
    "goods.hs_codes": FactSpec(L, "HS codes of the declared goods"),
    "goods.origins": FactSpec(L, "countries of origin"),
    "goods.lines": FactSpec(N, "number of goods lines"),
    "goods.value_usd": FactSpec(N, "declared value in USD (lines in other currencies at the rule set's rates)"),
    "goods.perishable": FactSpec(B, "some goods are perishable"),
    "goods.reefer": FactSpec(B, "carried refrigerated"),
    "goods.tests": FactSpec(L, "lab tests the declaration says the goods need"),
    "goods.hours_to_shelf_life": FactSpec(N, "hours until the earliest shelf-life deadline"),
    # the partner gate (mutual recognition, when the bilateral agreement has it)
    "partner.inspected": FactSpec(B, "the partner gate inspected or lab-tested the consignment and released it"),
    "partner.lab_passed": FactSpec(B, "the partner gate's lab tested the consignment and it passed"),
    # selection
    "selection.draw": FactSpec(N, "a reproducible draw in [0, 1) from the rule set's seed and the consignment"),
}
