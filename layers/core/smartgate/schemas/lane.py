"""What lanes send (detections, health) and what the cloud sends back (barrier commands)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, model_validator

from smartgate.schemas.base import (
    BarrierAction,
    Camera,
    Channel,
    Confidence,
    Contract,
    Country,
    Identifier,
    UtcDatetime,
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


class FaceDecision(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    UNUSABLE = "unusable"
    """no cab frame passed the quality gate"""
    NO_REFERENCE = "no_reference"
    """the booked driver has no enrolled face (never enrolled, consent withdrawn, expired)"""


class FaceRejection(StrEnum):
    """Why the lane's quality gate refused a cab frame."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TOO_SMALL = "too_small"
    BLURRED = "blurred"


class FaceQuality(Contract):
    """The cab frame the comparison used, and the frames refused before it (counts by reason)."""

    face_px: Annotated[int, Field(ge=0, le=10_000)]
    sharpness: Annotated[float, Field(ge=0, le=1e6)]
    detector_score: Confidence
    frames: Annotated[int, Field(ge=1, le=10_000)]
    rejected: dict[FaceRejection, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)


class FaceVerified(LaneMessage):
    """The lane's 1:1 check of the driver's face against the booked driver's enrolled one (and no one
    else's). Never the image, never an embedding: the score, the decision and the quality; a face crop's
    evidence key only after a mismatch, where the gate's policy keeps it."""

    schema_version: Literal["FaceVerified.v1"] = Field("FaceVerified.v1", alias="schema")
    booking_id: Identifier
    """the booking whose pass the driver showed: its driver is the one compared with"""
    driver_ref: Identifier | None = None
    decision: FaceDecision
    score: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="similarity 0..1 (1 - descriptor distance); a match is at least 1 - threshold"
    )
    threshold: Annotated[float, Field(gt=0, lt=2)]
    quality: FaceQuality | None = None
    evidence_key: str | None = Field(None, max_length=1024, description="S3 key of the face crop (mismatch only)")
    captured_at: UtcDatetime

    @model_validator(mode="after")
    def _consistent(self) -> FaceVerified:
        compared = self.decision in (FaceDecision.MATCH, FaceDecision.MISMATCH)
        if compared != (self.score is not None):
            raise ValueError("score: given exactly when the face was compared (match or mismatch)")
        if self.evidence_key is not None and self.decision != FaceDecision.MISMATCH:
            raise ValueError("evidence_key: a face image is kept only after a mismatch")
        if self.decision != FaceDecision.UNUSABLE and self.quality is None:
            raise ValueError("quality: required unless no frame was usable")
        return self


Detection = Annotated[
    PlateRead | ContainerRead | PassScanned | WeightReading | FaceVerified,
    Field(discriminator="schema_version"),
]
"""Any detection a lane publishes on ``smartgate/{gate}/lanes/{lane}/detections``."""

DETECTION_ADAPTER: TypeAdapter[PlateRead | ContainerRead | PassScanned | WeightReading | FaceVerified] = TypeAdapter(
    Detection
)


class LaneHealth(LaneMessage):
    """Periodic lane heartbeat on ``.../health``."""

    schema_version: Literal["LaneHealth.v1"] = Field("LaneHealth.v1", alias="schema")
    online: bool = True
    camera_ok: bool
    fps: Annotated[float, Field(ge=0)]
    inference_ms: Annotated[float, Field(ge=0)]
    queue_depth: Annotated[int, Field(ge=0)] = 0
    degraded: bool = Field(
        False, description="the cloud has not answered this lane for a while: it clears on passes (offline policy)"
    )
    detail: str | None = Field(None, max_length=500)
    at: UtcDatetime


# --------------------------------------------------------------------------- cloud -> lane


class BarrierCommand(Contract):
    """Open or hold the barrier of one lane, for one passage, until ``expires_at``.

    ``signature`` is an Ed25519 signature (base64url) over :meth:`signing_payload` by the cloud's key
    ``key_id``; a lane holds the public keys only, so it can refuse a command the clearance service did not
    sign and cannot make one itself. (v1 was signed with a key every lane shared.)
    """

    schema_version: Literal["BarrierCommand.v2"] = Field("BarrierCommand.v2", alias="schema")
    command_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    action: BarrierAction
    passage_id: Identifier
    reason: Annotated[str, Field(max_length=500)]
    issued_at: UtcDatetime
    expires_at: UtcDatetime
    key_id: Annotated[str, Field(max_length=64)] = ""
    signature: str = ""

    def signing_payload(self) -> bytes:
        fields = (
            self.key_id,
            self.command_id,
            self.gate_id,
            self.lane_id,
            self.action.value,
            self.passage_id,
            self.issued_at.isoformat(),
            self.expires_at.isoformat(),
        )
        return "|".join(fields).encode()


class FaceReference(Contract):
    """The booked driver's enrolled face, for one 1:1 check at one lane, on ``.../faces`` (cloud -> lane).

    Sent when the driver's pass is scanned at a lane with a cab camera and the booked driver is enrolled.
    The embedding travels as the face key's KMS ciphertext only, bound to the driver and company by the
    encryption context: the lane decrypts it for the one comparison and drops it with the vehicle. No other
    driver's face is ever sent (no 1:N search)."""

    schema_version: Literal["FaceReference.v1"] = Field("FaceReference.v1", alias="schema")
    reference_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    passage_id: Identifier
    booking_id: Identifier
    company_id: Identifier
    driver_ref: Identifier
    key_id: Annotated[str, Field(min_length=1, max_length=2048)]
    ciphertext: Annotated[str, Field(min_length=1, max_length=6000, description="base64 of the KMS ciphertext")]
    model: Annotated[str, Field(max_length=80)]
    issued_at: UtcDatetime
    use_by: UtcDatetime = Field(description="the lane drops the reference after this, used or not")


class FaceRevoked(Contract):
    """The driver withdrew consent: a lane that still holds their face reference (sent in the last minutes)
    drops it unused, on ``.../faces`` (cloud -> lane)."""

    schema_version: Literal["FaceRevoked.v1"] = Field("FaceRevoked.v1", alias="schema")
    gate_id: Identifier
    lane_id: Identifier
    company_id: Identifier
    driver_ref: Identifier
    revoked_at: UtcDatetime


FACE_MESSAGES: TypeAdapter[FaceReference | FaceRevoked] = TypeAdapter(
    Annotated[FaceReference | FaceRevoked, Field(discriminator="schema_version")]
)
"""What a lane's cab camera hears on ``.../faces``."""


class BarrierState(StrEnum):
    CLOSED = "closed"
    OPENING = "opening"
    OPEN = "open"
    CLOSING = "closing"
    FAULT = "fault"


class BarrierEventKind(StrEnum):
    COMMAND_ACCEPTED = "command_accepted"
    COMMAND_REFUSED = "command_refused"
    STATE_CHANGED = "state_changed"
    MANUAL_OVERRIDE = "manual_override"
    OFFLINE_DECISION = "offline_decision"


class BarrierEvent(LaneMessage):
    """What a lane's barrier controller did, on ``.../barrier``: a cloud command acted on or refused (and
    why), a state change, an officer's manual override at the lane, or a decision the lane made on its own
    while the cloud did not answer (``offline_decision``: ``action``, the pass's ``booking_id``, the
    ``passage_id`` the cloud gives the same detections and their ``detection_ids``), for the cloud to
    reconcile. Sent through the lane's store-and-forward outbox, so none is lost to an outage."""

    schema_version: Literal["BarrierEvent.v1"] = Field("BarrierEvent.v1", alias="schema")
    kind: BarrierEventKind
    state: BarrierState
    reason: Annotated[str, Field(max_length=500)]
    command_id: Identifier | None = None
    passage_id: Identifier | None = None
    action: BarrierAction | None = None
    operator: str | None = Field(None, max_length=128, description="who overrode the barrier at the lane")
    plate_text: str | None = Field(None, max_length=20)
    booking_id: Identifier | None = None
    detection_ids: list[Identifier] = Field(default_factory=list, max_length=50)
    at: UtcDatetime


class RejectedMessage(Contract):
    """A lane message the cloud could not accept, kept with its reason for an operator to find."""

    schema_version: Literal["RejectedMessage.v1"] = Field("RejectedMessage.v1", alias="schema")
    source: str = Field(description="where it came from, e.g. the MQTT topic")
    reason: str
    payload: str = Field(description="the message as received (UTF-8, or base64 when binary)")
    payload_encoding: Literal["utf-8", "base64"] = "utf-8"
    received_at: UtcDatetime


# --------------------------------------------------------------------------- the cloud about lanes


class LaneStatusChanged(Contract):
    """``detail-type: LaneStatusChanged.v1`` (source smartgate.lanes): a lane's heartbeats stopped (offline)
    or came back (online). ``last_heartbeat_at`` is the newest heartbeat before the silence, in both: it
    names the outage, so its offline and online events (and the officer alert) belong together."""

    schema_version: Literal["LaneStatusChanged.v1"] = Field("LaneStatusChanged.v1", alias="schema")
    event_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    online: bool
    last_heartbeat_at: UtcDatetime
    silent_seconds: Annotated[float, Field(ge=0)]
    at: UtcDatetime


class PartnerExchangeAlarm(Contract):
    """``detail-type: PartnerExchangeAlarm.v1``: the partner gate's messages are being refused at an abnormal
    rate (``refused`` within ``minutes``, over the threshold): a broken integration, a rotated key nobody
    told us of, or someone else writing on our inbound bus. Officers (the supervisor) are alerted."""

    schema_version: Literal["PartnerExchangeAlarm.v1"] = Field("PartnerExchangeAlarm.v1", alias="schema")
    event_id: Identifier
    gate_id: Identifier = Field(description="our gate")
    partner_gate: str = Field(max_length=64)
    refused: Annotated[int, Field(ge=1)]
    minutes: Annotated[int, Field(ge=1)]
    last_reason: Annotated[str, Field(max_length=500)]
    at: UtcDatetime


class LaneDecisionReconciled(Contract):
    """``detail-type: LaneDecisionReconciled.v1`` (source smartgate.lanes): a decision a lane made on its own
    while the cloud was silent, set against the cloud's decision on the same passage once the lane caught
    up. ``conflict``: the lane opened for a truck the cloud did not clear GREEN (officers are alerted)."""

    schema_version: Literal["LaneDecisionReconciled.v1"] = Field("LaneDecisionReconciled.v1", alias="schema")
    event_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    passage_id: Identifier
    plate_text: str | None = Field(None, max_length=20)
    booking_id: Identifier | None = None
    offline_action: BarrierAction
    offline_reason: Annotated[str, Field(max_length=500)]
    offline_at: UtcDatetime
    cloud_channel: Channel
    cloud_reason: Annotated[str, Field(max_length=1000)]
    conflict: bool
    at: UtcDatetime
