"""Building blocks of every contract: the base model, UTC timestamps, identifiers, shared enums."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
)

# --------------------------------------------------------------------------- building blocks


def _to_utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError as err:  # year 1 at +17:01 is before datetime.min in UTC
        raise ValueError("the time is out of range") from err


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


class LabTest(StrEnum):
    """Tests a consignment may need before release (as at the Bac Luan II testing lab)."""

    PHYTOSANITARY = "phytosanitary"  # plant health: pests, diseases (fruit, vegetables, timber)
    FOOD_SAFETY = "food_safety"  # residues, contaminants, microbiology
    QUALITY = "quality"  # grade, ripeness, conformity with the declaration
    VETERINARY = "veterinary"  # animal products: seafood, meat


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
