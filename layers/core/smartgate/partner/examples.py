"""One example of every partner event, defined once: the AsyncAPI document's examples, the README's signed
message and the tests all use these.

The example key is public on purpose (its seed is derived from a sentence below): it signs the published
examples so that a partner can check their own JWS code against them. No gate ever trusts it.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from smartgate.keys import private_key
from smartgate.partner.envelope import sign
from smartgate.schemas.base import Channel, Country, Direction, LabTest
from smartgate.schemas.partner import (
    CapacityPublished,
    ConsignmentHeld,
    ConsignmentRefused,
    CrossBorderMessage,
    ExpectedArrival,
    Inspection,
    PartnerEvent,
    PartnerGoodsLine,
    ReasonCode,
    VehicleCleared,
    VehicleDeparted,
)

EXAMPLE_KEY_ID = "example-2026-1"
EXAMPLE_SEED = base64.b64encode(hashlib.sha256(b"smartgate partner example key: never trust it").digest()).decode()
"""Base64 of the example key's 32-byte Ed25519 seed (``smartgate.keys.private_key`` reads it)."""
EXAMPLE_PRIVATE_KEY = private_key(EXAMPLE_SEED, "example key")
EXAMPLE_PUBLIC_KEYS = {EXAMPLE_KEY_ID: EXAMPLE_PRIVATE_KEY.public_key()}


def _t(hour: int, minute: int, second: int = 0) -> datetime:
    return datetime(2026, 11, 3, hour, minute, second, tzinfo=UTC)


EXPECTED_ARRIVAL = ExpectedArrival(
    event_id="kimthanh2-ea-BK-20261103-0042-1",
    from_gate="kimthanh2",
    to_gate="hekou",
    occurred_at=_t(1, 5, 12),
    reference="BK-20261103-0042",
    plate_text="24C-123.45",
    country=Country.VN,
    trailer_plate="24R-006.78",
    container_nos=["CSQU3054383"],
    direction=Direction.VN_TO_CN,
    slot_start=_t(2, 30),
    slot_end=_t(2, 45),
    goods=[
        PartnerGoodsLine(
            hs_code="08109092",
            description="Fresh dragon fruit (white flesh), 18 kg cartons",
            quantity=1200,
            unit="carton",
            gross_kg=23400,
            origin="VN",
            perishable=True,
        )
    ],
    declared_gross_kg=23400,
)

VEHICLE_CLEARED = VehicleCleared(
    event_id="kimthanh2-vc-psg-2a5a0adf5ddf-1",
    from_gate="kimthanh2",
    to_gate="hekou",
    occurred_at=_t(2, 41, 3),
    reference="BK-20261103-0042",
    plate_text="24C-123.45",
    country=Country.VN,
    container_nos=["CSQU3054383"],
    direction=Direction.VN_TO_CN,
    channel=Channel.RED,
    inspection=Inspection.LAB,
    lab_tests=[LabTest.PHYTOSANITARY],
    lab_outcome="pass",
    cleared_at=_t(2, 40, 55),
)

VEHICLE_DEPARTED = VehicleDeparted(
    event_id="kimthanh2-vd-psg-2a5a0adf5ddf-1",
    from_gate="kimthanh2",
    to_gate="hekou",
    occurred_at=_t(2, 44, 30),
    reference="BK-20261103-0042",
    plate_text="24C-123.45",
    country=Country.VN,
    container_nos=["CSQU3054383"],
    direction=Direction.VN_TO_CN,
    seal_nos=["VN-LC-0049217"],
    departed_at=_t(2, 44, 21),
)

CONSIGNMENT_HELD = ConsignmentHeld(
    event_id="hekou-ch-HK20261103-0117-1",
    from_gate="hekou",
    to_gate="kimthanh2",
    occurred_at=_t(3, 2, 40),
    reference="BK-20261103-0042",
    direction=Direction.VN_TO_CN,
    plate_text="24C-123.45",
    reason_code=ReasonCode.LAB,
    note="Sample taken for pesticide residues; result expected within 4 hours.",
)

CONSIGNMENT_REFUSED = ConsignmentRefused(
    event_id="hekou-cr-HK20261103-0121-1",
    from_gate="hekou",
    to_gate="kimthanh2",
    occurred_at=_t(4, 15, 0),
    reference="BK-20261103-0057",
    direction=Direction.VN_TO_CN,
    plate_text="24C-456.78",
    reason_code=ReasonCode.DOCUMENTS,
    note="Phytosanitary certificate does not match the container number.",
)

CAPACITY_PUBLISHED = CapacityPublished(
    event_id="hekou-cap-VN_TO_CN-20261103T0600Z-1",
    from_gate="hekou",
    to_gate="kimthanh2",
    occurred_at=_t(0, 0, 5),
    direction=Direction.VN_TO_CN,
    window_start=_t(6, 0),
    window_end=_t(6, 15),
    capacity=5,
)

EXAMPLES: tuple[PartnerEvent, ...] = (
    EXPECTED_ARRIVAL,
    VEHICLE_CLEARED,
    VEHICLE_DEPARTED,
    CONSIGNMENT_HELD,
    CONSIGNMENT_REFUSED,
    CAPACITY_PUBLISHED,
)
"""One per event type, in the order of ``PARTNER_EVENTS``."""


def example_message(event: PartnerEvent = VEHICLE_CLEARED) -> CrossBorderMessage:
    """``event`` signed with the example key (Ed25519 signatures are deterministic: always the same)."""
    return sign(event, EXAMPLE_KEY_ID, EXAMPLE_PRIVATE_KEY)
