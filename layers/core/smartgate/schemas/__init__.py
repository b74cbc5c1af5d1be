"""Contracts: one pydantic v2 model per message of the crossing flow.

Every model carries a literal ``schema`` field (``"PlateRead.v1"``) so that a receiver can tell
what it holds without guessing, a stable ``event_id`` (the idempotency key) where the message is an
event, and timezone-aware UTC timestamps. A new version is a new model; the old one stays until
nothing sends it. JSON Schemas generated from these models live in ``schemas/json/``
(``python -m smartgate.schemas.export``) so the partner gate and the mobile app can validate too.

The edge publishes ``model.model_dump_json()``; the cloud parses with ``Model.model_validate_json()``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
)

# --------------------------------------------------------------------------- building blocks


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timestamp that must carry a timezone; stored and sent as UTC."""

Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]*$")]
"""Ids of gates, lanes, events, bookings: printable, no spaces, no slashes (they end up in MQTT topics)."""

Confidence = Annotated[float, Field(ge=0.0, le=1.0)]


def utc_now() -> datetime:
    return datetime.now(UTC)


class Country(StrEnum):
    VN = "VN"
    CN = "CN"


class Camera(StrEnum):
    FRONT = "front"
    REAR = "rear"
    TRAILER = "trailer"


class Channel(StrEnum):
    """Clearance channel: GREEN auto-release, YELLOW document check, RED physical inspection."""

    GREEN = "GREEN"
    YELLOW = "YELLOW"
    RED = "RED"


class BarrierAction(StrEnum):
    OPEN = "open"
    HOLD = "hold"


class Direction(StrEnum):
    VN_TO_CN = "VN_TO_CN"
    CN_TO_VN = "CN_TO_VN"


def _schema_field_required(schema: dict[str, Any]) -> None:
    """In the published JSON Schema, ``schema`` is required: receivers refuse a message without it."""
    if "schema" in schema.get("properties", {}):
        schema["required"] = ["schema", *[f for f in schema.get("required", []) if f != "schema"]]


class Contract(BaseModel):
    """Base of every message: strict about unknown fields, immutable, ``schema`` on the wire."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        json_schema_extra=_schema_field_required,
    )


class LaneMessage(Contract):
    """Anything a lane sends: it names its gate and lane, which must agree with the MQTT topic."""

    event_id: Identifier
    gate_id: Identifier
    lane_id: Identifier


# --------------------------------------------------------------------------- lane -> cloud


class PlateRead(LaneMessage):
    """A licence plate read by a lane camera (one vehicle, frames already merged on the edge)."""

    schema_version: Literal["PlateRead.v1"] = Field("PlateRead.v1", alias="schema")
    camera: Camera = Camera.FRONT
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country
    format_valid: bool
    confidence: Confidence
    char_confidences: list[Confidence] = Field(default_factory=list)
    crop_key: str | None = Field(None, max_length=1024, description="S3 key of the plate crop (evidence)")
    captured_at: UtcDatetime


class ContainerRead(LaneMessage):
    """An ISO 6346 container code read on the lane."""

    schema_version: Literal["ContainerRead.v1"] = Field("ContainerRead.v1", alias="schema")
    container_no: Annotated[str, Field(min_length=4, max_length=16)]
    check_digit_ok: bool
    confidence: Confidence
    crop_key: str | None = Field(None, max_length=1024)
    captured_at: UtcDatetime


class PassScanned(LaneMessage):
    """A QR pass shown at the lane; the token is verified in the cloud (and offline if possible)."""

    schema_version: Literal["PassScanned.v1"] = Field("PassScanned.v1", alias="schema")
    token: Annotated[str, Field(min_length=1, max_length=4096)]
    verified_offline: bool = False
    captured_at: UtcDatetime


class WeightReading(LaneMessage):
    """Gross weight from the lane scale."""

    schema_version: Literal["WeightReading.v1"] = Field("WeightReading.v1", alias="schema")
    gross_kg: Annotated[float, Field(gt=0, le=200_000)]
    stable: bool
    captured_at: UtcDatetime


Detection = Annotated[
    PlateRead | ContainerRead | PassScanned | WeightReading,
    Field(discriminator="schema_version"),
]
"""Any detection a lane publishes on ``smartgate/{gate}/lanes/{lane}/detections``."""

DETECTION_ADAPTER: TypeAdapter[PlateRead | ContainerRead | PassScanned | WeightReading] = TypeAdapter(Detection)


class LaneHealth(LaneMessage):
    """Periodic lane heartbeat on ``.../health``."""

    schema_version: Literal["LaneHealth.v1"] = Field("LaneHealth.v1", alias="schema")
    online: bool = True
    camera_ok: bool
    fps: Annotated[float, Field(ge=0)]
    inference_ms: Annotated[float, Field(ge=0)]
    queue_depth: Annotated[int, Field(ge=0)] = 0
    detail: str | None = Field(None, max_length=500)
    at: UtcDatetime


# --------------------------------------------------------------------------- cloud -> lane


class BarrierCommand(Contract):
    """Open or hold the barrier of one lane, for one passage, until ``expires_at``.

    ``signature`` is an HMAC-SHA256 (hex) over :meth:`signing_payload`, so a lane can refuse a
    command that did not come from the clearance service.
    """

    schema_version: Literal["BarrierCommand.v1"] = Field("BarrierCommand.v1", alias="schema")
    command_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    action: BarrierAction
    passage_id: Identifier
    reason: Annotated[str, Field(max_length=500)]
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    signature: str = ""

    def signing_payload(self) -> bytes:
        fields = (self.command_id, self.gate_id, self.lane_id, self.action.value, self.passage_id,
                  self.issued_at.isoformat(), self.expires_at.isoformat())
        return "|".join(fields).encode()


# --------------------------------------------------------------------------- cloud state and events


class RuleFired(Contract):
    rule_id: Identifier
    channel: Channel
    explanation: Annotated[str, Field(max_length=1000)]


class PassageStatus(StrEnum):
    OPEN = "OPEN"
    DECIDED = "DECIDED"


class Passage(Contract):
    """One vehicle's pass through one lane: the detections that belong to it and the decision."""

    schema_version: Literal["Passage.v1"] = Field("Passage.v1", alias="schema")
    passage_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    plate_text: str
    plate_key: str = Field(description="normalised plate used for matching")
    country: Country
    booking_id: Identifier | None = None
    status: PassageStatus = PassageStatus.OPEN
    channel: Channel | None = None
    rules_fired: list[RuleFired] = Field(default_factory=list)
    ruleset_version: str | None = None
    detection_ids: list[Identifier] = Field(default_factory=list)
    opened_at: UtcDatetime
    decided_at: UtcDatetime | None = None


class ClearanceDecided(Contract):
    """Published on the bus (``detail-type: ClearanceDecided.v1``) when a passage is decided."""

    schema_version: Literal["ClearanceDecided.v1"] = Field("ClearanceDecided.v1", alias="schema")
    event_id: Identifier
    passage_id: Identifier
    booking_id: Identifier | None = None
    gate_id: Identifier
    lane_id: Identifier
    plate_text: str
    channel: Channel
    rules_fired: list[RuleFired]
    ruleset_version: str
    decided_at: UtcDatetime


ClearanceDecision = ClearanceDecided
"""The issue and the design call it both ways; one model."""


class BookingStatus(StrEnum):
    BOOKED = "BOOKED"
    ARRIVED = "ARRIVED"
    CLEARED = "CLEARED"
    CANCELLED = "CANCELLED"


class Booking(Contract):
    """A trader's booked crossing slot for one vehicle at one gate and direction."""

    schema_version: Literal["Booking.v1"] = Field("Booking.v1", alias="schema")
    booking_id: Identifier
    trader_id: Identifier
    gate_id: Identifier
    direction: Direction
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country
    trailer_plate: str | None = Field(None, max_length=20)
    container_no: str | None = Field(None, max_length=16)
    driver_name: str | None = Field(None, max_length=200, description="personal data: expires with the booking")
    slot_start: UtcDatetime
    slot_end: UtcDatetime
    status: BookingStatus = BookingStatus.BOOKED
    created_at: UtcDatetime


class RejectedMessage(Contract):
    """A lane message the cloud could not accept, kept with its reason for an operator to find."""

    schema_version: Literal["RejectedMessage.v1"] = Field("RejectedMessage.v1", alias="schema")
    source: str = Field(description="where it came from, e.g. the MQTT topic")
    reason: str
    payload: str = Field(description="the message as received (UTF-8, or base64 when binary)")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    received_at: UtcDatetime


ALL_MODELS: tuple[type[Contract], ...] = (
    PlateRead, ContainerRead, PassScanned, WeightReading, LaneHealth, BarrierCommand,
    RuleFired, Passage, ClearanceDecided, Booking, RejectedMessage,
)
"""Every versioned contract; the JSON Schema export and the sample-event tests walk this list."""

VERSIONED_MODELS: tuple[type[Contract], ...] = tuple(m for m in ALL_MODELS if "schema_version" in m.model_fields)


def schema_name(model: type[Contract]) -> str:
    """``PlateRead.v1`` for the PlateRead model."""
    return str(model.model_fields["schema_version"].default)
