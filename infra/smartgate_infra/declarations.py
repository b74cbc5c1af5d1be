"""Declarations written by hand (seed data, scenarios): consignments and bookings with times relative to now.

In those files a booking sits inside its consignment (``booking: {booking_id, slot_minutes: [start,
end]}``), and ``shelf_life_hours`` on a goods line stands for a deadline that many hours from now; the
rest is the Consignment.v1 / Booking.v1 contract as it is.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartgate.adapters.passes import PassSigner, private_key
from smartgate.domain.containers import check_digit
from smartgate.domain.passes import PassClaims
from smartgate.domain.plates import plate_key
from smartgate.schemas import Booking, Consignment
from smartgate_infra.template import Template

RUBBER_LINE: dict[str, object] = {
    "hs_code": "4001.22",
    "description": "natural rubber, TSR 10",
    "quantity": 18,
    "unit": "pallet",
    "net_kg": 20160,
    "gross_kg": 20700,
    "value": 35500,
    "currency": "USD",
    "origin": "VN",
}
"""A goods line as a trader declares it through the API (POST /consignments): clears GREEN with a driver."""

PASS_GRACE = timedelta(hours=2)


@dataclass(frozen=True)
class Declared:
    consignment: Consignment
    booking: Booking | None


def declared(raw: dict[str, Any], now: datetime) -> Declared:
    data = dict(raw)
    booking_raw = data.pop("booking", None)
    goods = []
    for line in data.get("goods", []):
        line = dict(line)
        hours = line.pop("shelf_life_hours", None)
        if hours is not None:
            line["shelf_life_deadline"] = (now + timedelta(hours=float(hours))).isoformat()
        goods.append(line)
    data["goods"] = goods
    data.setdefault("declared_at", (now - timedelta(hours=20)).isoformat())
    consignment = Consignment.model_validate(data)
    booking = None
    if booking_raw is not None:
        b = dict(booking_raw)
        start, end = b.pop("slot_minutes", (-30, 90))
        booking = Booking.model_validate(
            {
                "trader_id": consignment.trader_id,
                "gate_id": consignment.gate_id,
                "direction": consignment.direction,
                "plate_text": consignment.plate_text,
                "country": consignment.country,
                "trailer_plate": consignment.trailer_plate,
                "consignment_id": consignment.consignment_id,
                "slot_start": now + timedelta(minutes=start),
                "slot_end": now + timedelta(minutes=end),
                "created_at": now - timedelta(hours=20),
                **b,
            }
        )
    return Declared(consignment, booking)


@dataclass(frozen=True)
class BookedExport:
    """A booked export of one rubber line in one container, ready to cross (tests and demo sections)."""

    entry: Declared
    plate: str
    container_no: str
    booking_id: str

    @property
    def weight_kg(self) -> float:
        """What the scale reads: the declared tare plus the goods' gross."""
        return 15_000 + float(str(RUBBER_LINE["gross_kg"]))

    def reads(self, lane: Any, pass_token: str, at: datetime) -> list[Any]:
        """What a lane (a LaneSimulator) reads of it: the plate, the pass, the container, the weight."""
        return list(
            lane.truck(
                self.plate,
                "VN",
                containers=(self.container_no,),
                weight_kg=self.weight_kg,
                pass_token=pass_token,
                at=at,
            )
        )


def booked_export(gate_id: str, trader_id: str, driver_ref: str, now: datetime, tag: str = "FACE") -> BookedExport:
    """A consignment and its booking (a slot open now) with a fresh plate and container: the caller stores it
    (StackClient.declare)."""
    serial = f"{uuid.uuid4().int % 1_000_000:06d}"
    box = f"MSKU{serial}{check_digit('MSKU' + serial)}"
    plate = f"24C-{serial[:3]}.{serial[3:5]}"
    booking_id = f"BK-{tag}-{serial}"
    entry = declared(
        {
            "consignment_id": f"C-{tag}-{serial}",
            "trader_id": trader_id,
            "gate_id": gate_id,
            "direction": "VN_TO_CN",
            "plate_text": plate,
            "country": "VN",
            "container_nos": [box],
            "driver_ref": driver_ref,
            "vehicle_tare_kg": 15_000,
            "goods": [RUBBER_LINE],
            "booking": {"booking_id": booking_id, "slot_minutes": [-30, 90]},
        },
        now,
    )
    return BookedExport(entry, plate, box, booking_id)


def pass_signer(template: Template) -> PassSigner:
    """The local stack's pass signer, from the template's parameters (what the functions use too)."""
    return PassSigner(str(template.parameters["PassKeyId"]), private_key(str(template.parameters["PassSigningKey"])))


def pass_for(booking: Booking, signer: PassSigner) -> str:
    """A crossing pass for this booking, valid around its slot."""
    return signer.issue(
        PassClaims(
            booking_id=booking.booking_id,
            plate_key=plate_key(booking.plate_text),
            gate_id=booking.gate_id,
            direction=booking.direction,
            not_before=int((booking.slot_start - PASS_GRACE).timestamp()),
            not_after=int((booking.slot_end + PASS_GRACE).timestamp()),
        )
    )
