"""Contracts: one pydantic v2 model per message of the crossing flow.

Every model carries a literal ``schema`` field (``"PlateRead.v1"``) so that a receiver can tell
what it holds without guessing, a stable ``event_id`` (the idempotency key) where the message is an
event, and timezone-aware UTC timestamps. A new version is a new model; the old one stays until
nothing sends it. JSON Schemas generated from these models live in ``schemas/json/``
(``python -m smartgate.schemas.export``) so the partner gate and the mobile app can validate too.

The edge publishes ``model.model_dump_json()``; the cloud parses with ``Model.model_validate_json()``.
"""

from __future__ import annotations

from smartgate.schemas.base import (
    BarrierAction,
    Camera,
    Channel,
    Confidence,
    Contract,
    Country,
    Direction,
    Identifier,
    LabTest,
    UtcDatetime,
    utc_now,
)
from smartgate.schemas.clearance import (
    AuditEntry,
    ClearanceDecided,
    Decision,
    FactValue,
    LabParameter,
    LabResult,
    LabResultPosted,
    LabSample,
    LabSampleRegistered,
    Passage,
    PassageDetections,
    PassageEvent,
    PassageStateChanged,
    PassageStatus,
    RuleFired,
    ShelfLifeAlert,
)
from smartgate.schemas.lane import (
    DETECTION_ADAPTER,
    FACE_MESSAGES,
    BarrierCommand,
    BarrierEvent,
    BarrierEventKind,
    BarrierState,
    ContainerRead,
    Detection,
    FaceDecision,
    FaceQuality,
    FaceReference,
    FaceRejection,
    FaceRevoked,
    FaceVerified,
    LaneDecisionReconciled,
    LaneHealth,
    LaneMessage,
    LaneStatusChanged,
    PartnerExchangeAlarm,
    PassScanned,
    PlateRead,
    RejectedMessage,
    WeightReading,
)
from smartgate.schemas.officers import OfficerAlert, PlateCorrection
from smartgate.schemas.trade import Booking, BookingStatus, Consignment, GoodsLine

ALL_MODELS: tuple[type[Contract], ...] = (
    PlateRead,
    ContainerRead,
    PassScanned,
    WeightReading,
    FaceVerified,
    LaneHealth,
    BarrierCommand,
    FaceReference,
    FaceRevoked,
    BarrierEvent,
    RejectedMessage,
    GoodsLine,
    Consignment,
    Booking,
    RuleFired,
    Decision,
    LabSample,
    LabResult,
    Passage,
    AuditEntry,
    ClearanceDecided,
    PassageStateChanged,
    LabSampleRegistered,
    LabResultPosted,
    ShelfLifeAlert,
    LaneStatusChanged,
    LaneDecisionReconciled,
    PartnerExchangeAlarm,
    OfficerAlert,
    PlateCorrection,
)
"""Every versioned contract; the JSON Schema export and the sample-event tests walk this list."""

VERSIONED_MODELS: tuple[type[Contract], ...] = tuple(m for m in ALL_MODELS if "schema_version" in m.model_fields)


def schema_name(model: type[Contract]) -> str:
    """``PlateRead.v1`` for the PlateRead model."""
    return str(model.model_fields["schema_version"].default)


__all__ = [
    "ALL_MODELS",
    "AuditEntry",
    "BarrierAction",
    "BarrierCommand",
    "BarrierEvent",
    "BarrierEventKind",
    "BarrierState",
    "Booking",
    "BookingStatus",
    "Camera",
    "Channel",
    "ClearanceDecided",
    "Confidence",
    "Consignment",
    "ContainerRead",
    "Contract",
    "Country",
    "DETECTION_ADAPTER",
    "Decision",
    "Detection",
    "Direction",
    "FactValue",
    "GoodsLine",
    "Identifier",
    "LabParameter",
    "LabResult",
    "LabResultPosted",
    "LabSample",
    "LabSampleRegistered",
    "LabTest",
    "LaneHealth",
    "LaneDecisionReconciled",
    "LaneMessage",
    "LaneStatusChanged",
    "OfficerAlert",
    "PartnerExchangeAlarm",
    "PassScanned",
    "Passage",
    "PassageDetections",
    "PassageEvent",
    "PassageStateChanged",
    "PassageStatus",
    "PlateCorrection",
    "PlateRead",
    "RejectedMessage",
    "RuleFired",
    "ShelfLifeAlert",
    "UtcDatetime",
    "VERSIONED_MODELS",
    "WeightReading",
    "FaceDecision",
    "FaceQuality",
    "FACE_MESSAGES",
    "FaceReference",
    "FaceRevoked",
    "FaceRejection",
    "FaceVerified",
    "schema_name",
    "utc_now",
]
