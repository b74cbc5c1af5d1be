"""The partner gate exchange: what two border gates tell each other across the border.

One symmetric contract: Kim Thanh II and Hekou, Mong Cai and Dongxing send each other the same events,
each a versioned model (``VehicleCleared.v1`` ...). Every event names its ``event_id`` (the receiver's
idempotency key), the sender's gate ``from_gate``, the receiving gate ``to_gate`` and ``occurred_at``;
the events about one consignment also carry the cross-border ``reference`` both sides know it by (on
our side the booking id).

What the other side's operator needs, and no more: the vehicle and its containers, the goods by HS code
and weight, the slot it is coming in, and what this side decided and actually checked. What it never
gets: traders' prices and values, trader and officer identities, our risk scores, rules and facts. Driver
data exists only as optional fields that the bilateral agreement strips unless it says otherwise
(``smartgate/data/partner.yaml``).

Every optional field defaults to None, meaning "not told": a field the agreement strips is left out of
the message and never turns into a false statement (a stripped ``perishable`` is unknown, not "no").

On the wire each event travels signed (a compact JWS) inside a :class:`CrossBorderMessage` envelope, the
``detail`` of an EventBridge event whose ``detail-type`` is the event's type: see ``smartgate.partner``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from smartgate.schemas.base import Channel, Contract, Country, Direction, Identifier, LabTest, UtcDatetime
from smartgate.schemas.trade import ContainerNo, CountryCode, HsCode, Kilograms

PERSONAL_DATA = "x-personal-data"
"""JSON Schema annotation of a field that holds personal data (its value names whose: ``driver``)."""

PlateText = Annotated[
    str, Field(min_length=1, max_length=20, description="as registered, e.g. 24C-123.45 (VN) or 云G12345 (CN)")
]
Note = Annotated[
    str, Field(min_length=1, max_length=500, description="a short note for the other side's officers; no personal data")
]
SealNo = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9\-]+$")]
ContainerNos = Annotated[
    list[ContainerNo], Field(max_length=4, description="ISO 6346 container numbers (empty: no container)")
]


def _driver(description: str) -> Any:
    return Field(None, max_length=200, description=description, json_schema_extra={PERSONAL_DATA: "driver"})


# --------------------------------------------------------------------------- building blocks


class Inspection(StrEnum):
    """What the releasing side actually checked (not what its risk channel asked for)."""

    NONE = "none"
    DOCUMENTS = "documents"
    PHYSICAL = "physical"
    LAB = "lab"


class ReasonCode(StrEnum):
    """Why a consignment is held or refused."""

    DOCUMENTS = "documents"
    INSPECTION = "inspection"
    LAB = "lab"
    SECURITY = "security"
    CAPACITY = "capacity"
    OTHER = "other"


class PartnerEvent(Contract):
    """What every cross-border event names."""

    event_id: Identifier = Field(description="unique per sender; the receiver's idempotency key")
    from_gate: Identifier = Field(description="the sending gate, e.g. kimthanh2, hekou")
    to_gate: Identifier = Field(description="the receiving gate")
    occurred_at: UtcDatetime = Field(description="when the sender's system recorded the fact")

    @model_validator(mode="after")
    def _two_gates(self) -> Self:
        if self.from_gate == self.to_gate:
            raise ValueError("to_gate: a gate does not send to itself")
        return self


class ConsignmentEvent(PartnerEvent):
    """An event about one consignment (one vehicle's load), named by the reference both sides know."""

    reference: Identifier = Field(
        description="the consignment's cross-border reference, the same on both sides: the id it was first "
        "announced under (an ExpectedArrival's reference; on the Smart Gate side a booking id)"
    )


class PartnerGoodsLine(Contract):
    """One line of goods as the other side's officers need it: what (HS code), how much, how heavy.
    No value, price or currency: those are the traders' and their customs declarations'."""

    hs_code: HsCode
    description: Annotated[str, Field(min_length=1, max_length=300)]
    quantity: Annotated[float, Field(gt=0)]
    unit: Annotated[str, Field(min_length=1, max_length=16, description="carton, bag, pallet, piece, kg ...")]
    gross_kg: Kilograms
    origin: CountryCode | None = Field(None, description="ISO 3166-1 alpha-2 country of origin")
    perishable: bool | None = Field(None, description="fresh goods: the other side may give them a fast lane")


# --------------------------------------------------------------------------- the events


class ExpectedArrival(ConsignmentEvent):
    """A booked vehicle on its way to the receiving gate: what it is, what it carries, when it comes."""

    schema_version: Literal["ExpectedArrival.v1"] = Field("ExpectedArrival.v1", alias="schema")
    plate_text: PlateText
    country: Country = Field(description="the vehicle's country of registration")
    trailer_plate: PlateText | None = None
    container_nos: ContainerNos
    direction: Direction
    slot_start: UtcDatetime = Field(description="the booked crossing window")
    slot_end: UtcDatetime
    goods: Annotated[list[PartnerGoodsLine], Field(min_length=1, max_length=200)]
    declared_gross_kg: Kilograms = Field(description="declared gross weight of the goods")
    driver_name: str | None = _driver("personal data: sent only when the agreement shares driver data")
    driver_document_no: str | None = _driver("passport or border pass number; personal data, as driver_name")

    @model_validator(mode="after")
    def _window(self) -> ExpectedArrival:
        if self.slot_end <= self.slot_start:
            raise ValueError("slot_end: must be after slot_start")
        return self


class VehicleCleared(ConsignmentEvent):
    """The sending side released the vehicle: the channel it decided and what it actually checked."""

    schema_version: Literal["VehicleCleared.v1"] = Field("VehicleCleared.v1", alias="schema")
    plate_text: PlateText
    country: Country
    container_nos: ContainerNos
    direction: Direction
    channel: Channel = Field(description="GREEN released, YELLOW documents checked, RED inspected, as decided")
    inspection: Inspection = Field(description="what this side actually checked")
    lab_tests: list[LabTest] | None = Field(None, description="the lab tests done (inspection lab only)")
    lab_outcome: Literal["pass", "fail"] | None = Field(None, description="inspection lab only")
    cleared_at: UtcDatetime = Field(description="when the vehicle was released")

    @model_validator(mode="after")
    def _lab_only_with_lab(self) -> VehicleCleared:
        if self.inspection != Inspection.LAB:
            if self.lab_outcome is not None:
                raise ValueError("lab_outcome: only with inspection lab")
            if self.lab_tests:
                raise ValueError("lab_tests: only with inspection lab")
        return self


class VehicleDeparted(ConsignmentEvent):
    """The vehicle left the sending gate towards the other side."""

    schema_version: Literal["VehicleDeparted.v1"] = Field("VehicleDeparted.v1", alias="schema")
    plate_text: PlateText
    country: Country
    container_nos: ContainerNos
    direction: Direction
    seal_nos: Annotated[list[SealNo], Field(max_length=10)] | None = Field(
        None, description="customs seals on the load when it left; the receiving side can check them intact"
    )
    departed_at: UtcDatetime


class ConsignmentHeld(ConsignmentEvent):
    """The sending side holds the consignment (it may still be released)."""

    schema_version: Literal["ConsignmentHeld.v1"] = Field("ConsignmentHeld.v1", alias="schema")
    direction: Direction
    plate_text: PlateText | None = None
    reason_code: ReasonCode
    note: Note | None = None


class ConsignmentRefused(ConsignmentEvent):
    """The sending side refused the consignment entry (or exit): it will not cross as booked."""

    schema_version: Literal["ConsignmentRefused.v1"] = Field("ConsignmentRefused.v1", alias="schema")
    direction: Direction
    plate_text: PlateText | None = None
    reason_code: ReasonCode
    note: Note | None = None


class CapacityPublished(PartnerEvent):
    """How many vehicles the sending gate can accept in one direction in one 15-minute window (UTC, on
    a quarter hour). The receiving side books no more than that into the window."""

    schema_version: Literal["CapacityPublished.v1"] = Field("CapacityPublished.v1", alias="schema")
    direction: Direction
    window_start: UtcDatetime = Field(description="on a quarter hour (UTC)")
    window_end: UtcDatetime = Field(description="window_start + 15 minutes")
    capacity: Annotated[int, Field(ge=0, le=1000, description="vehicles; 0 closes the window")]

    @model_validator(mode="after")
    def _quarter_hour(self) -> CapacityPublished:
        start = self.window_start
        if start.minute % 15 or start.second or start.microsecond:
            raise ValueError("window_start: must be on a quarter hour (:00, :15, :30, :45)")
        if (self.window_end - start).total_seconds() != 900:
            raise ValueError("window_end: must be 15 minutes after window_start")
        return self


# --------------------------------------------------------------------------- the envelope

MESSAGE_TYPE_PATTERN = r"^[A-Z][A-Za-z0-9]*\.v[1-9][0-9]*$"
MAX_JWS_CHARS = 239_000
"""An EventBridge event holds 256 KB: the JWS and the envelope around it stay below that."""


class CrossBorderMessage(Contract):
    """The ``detail`` of every cross-border EventBridge event. ``jws`` is a compact JWS (RFC 7515, EdDSA
    with Ed25519, RFC 8037) over the event's JSON; the other fields repeat what is signed, so a router or a
    dead-letter record can tell what it holds without opening it, and must agree with the signed event."""

    schema_version: Literal["CrossBorderMessage.v1"] = Field("CrossBorderMessage.v1", alias="schema")
    message_id: Identifier = Field(description="the signed event's event_id")
    type: Annotated[str, Field(pattern=MESSAGE_TYPE_PATTERN, max_length=64, description="e.g. VehicleCleared.v1")]
    from_gate: Identifier
    to_gate: Identifier
    jws: Annotated[
        str,
        Field(
            max_length=MAX_JWS_CHARS,
            pattern=r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
            description="compact JWS: base64url(header).base64url(event JSON).base64url(signature), no padding",
        ),
    ]


PARTNER_EVENTS: tuple[type[PartnerEvent], ...] = (
    ExpectedArrival,
    VehicleCleared,
    VehicleDeparted,
    ConsignmentHeld,
    ConsignmentRefused,
    CapacityPublished,
)
"""Every event of the partner contract, current versions and versions kept until the partner moved."""

PARTNER_MODELS: tuple[type[Contract], ...] = (*PARTNER_EVENTS, CrossBorderMessage)
"""The events and the envelope: what the AsyncAPI document and the frozen schemas describe."""
