"""Officers: their roles and actions, the alerts they get (and where each was delivered), their devices."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field

from smartgate.schemas.api import ApiModel
from smartgate.schemas.base import Contract, Identifier, LabTest, UtcDatetime

Locale = Literal["vi", "zh", "en"]
LOCALES: tuple[Locale, ...] = ("vi", "zh", "en")


class OfficerRole(StrEnum):
    """An officer's Cognito group besides ``officers``: what they may do, and which alerts reach them."""

    CUSTOMS = "customs"
    BORDER_GUARD = "border_guard"
    QUARANTINE = "quarantine"
    SUPERVISOR = "supervisor"


class OfficerAction(StrEnum):
    RELEASE = "release"
    HOLD = "hold"
    INSPECT = "inspect"
    SAMPLE = "sample"
    CORRECT_PLATE = "correct_plate"


class Severity(StrEnum):
    """Alert topics are per gate and severity: critical (RED, lab fail, shelf life) and warning (the rest)."""

    CRITICAL = "critical"
    WARNING = "warning"


class AlertKind(StrEnum):
    CLEARANCE = "clearance"  # a YELLOW or RED decision
    TIGHTENED = "tightened"  # a later detection made a decision stricter
    SHELF_LIFE = "shelf_life"  # held perishables near their deadline
    LAB_RESULT = "lab_result"
    LANE_OFFLINE = "lane_offline"  # a lane's heartbeats stopped
    PARTNER_EXCHANGE = "partner_exchange"  # the partner gate's messages refused at an abnormal rate
    OFFLINE_CONFLICT = "offline_conflict"  # a lane opened offline for a truck the cloud did not clear GREEN


class AlertStatus(StrEnum):
    OPEN = "open"  # sent, waiting for an officer to acknowledge it
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # the passage was acted on (or left the queue): nothing to chase
    SUPPRESSED = "suppressed"  # over the passage's rate limit: kept, not pushed


class Delivery(Contract):
    """One message handed to SNS: a topic (gate and severity), for one role, in one language."""

    level: Annotated[int, Field(ge=0)] = Field(description="0: first notice; 1, 2 ...: escalations")
    role: OfficerRole
    locale: Locale
    topic: str = Field(description="the topic's name (gate and severity)")
    subject: Annotated[str, Field(max_length=100)]
    text: Annotated[str, Field(max_length=2000)]
    message_id: str
    at: UtcDatetime


class OfficerAlert(Contract):
    """One thing an officer must know about, once (``alert_id`` is stable per cause), with its deliveries."""

    schema_version: Literal["OfficerAlert.v1"] = Field("OfficerAlert.v1", alias="schema")
    alert_id: Identifier
    kind: AlertKind
    severity: Severity
    gate_id: Identifier
    lane_id: Identifier | None = None
    passage_id: Identifier | None = None
    plate_text: str | None = None
    role: OfficerRole = Field(description="who it is for now (the next role after an escalation)")
    level: Annotated[int, Field(ge=0)] = 0
    facts: dict[str, str] = Field(
        default_factory=dict, description="what the message templates fill in (channel, rules, hours ...)"
    )
    status: AlertStatus = AlertStatus.OPEN
    created_at: UtcDatetime
    ack_due_at: UtcDatetime | None = None
    acked_by: str | None = None
    acked_at: UtcDatetime | None = None
    deliveries: list[Delivery] = Field(default_factory=list)
    version: Annotated[int, Field(ge=1)] = 1


class DeviceKind(StrEnum):
    FCM = "fcm"  # Android / web push through Firebase Cloud Messaging
    APNS = "apns"  # iOS
    SMS = "sms"
    EMAIL = "email"


class OfficerDevice(Contract):
    """Where an officer's alerts go: an SNS platform endpoint (push), a phone number or an address."""

    device_id: Identifier
    username: str
    kind: DeviceKind
    address: Annotated[str, Field(max_length=4096)] = Field(repr=False)
    label: Annotated[str, Field(max_length=100)] = ""
    endpoint_arn: str | None = None
    subscriptions: list[str] = Field(default_factory=list)
    created_at: UtcDatetime

    def masked(self) -> str:
        """What a screen shows of the address: enough to recognise it, not enough to reuse it."""
        a = self.address
        if self.kind == DeviceKind.EMAIL and "@" in a:
            name, domain = a.split("@", 1)
            return f"{name[:2]}…@{domain}"
        return f"…{a[-4:]}" if len(a) > 4 else "…"


class PlateCorrection(Contract):
    """An officer's correction of a plate read, kept with the read's crop: a labelled example."""

    schema_version: Literal["PlateCorrection.v1"] = Field("PlateCorrection.v1", alias="schema")
    passage_id: Identifier
    gate_id: Identifier
    lane_id: Identifier
    read_text: str | None
    plate: Annotated[str, Field(min_length=2, max_length=16)]
    country: Literal["VN", "CN"]
    crop_key: str | None = Field(None, description="S3 key of the example's crop (labelled/plates/...)")
    officer: str
    reason: str
    at: UtcDatetime


class ActionAttempt(Contract):
    """What an officer asked for and what came of it; every attempt is audited, refused ones too."""

    action: OfficerAction | str
    officer: str
    roles: list[str]
    reason: str
    outcome: Literal["accepted", "refused"]
    refusal: str | None = None
    from_status: str | None = None
    to_status: str | None = None
    version_seen: int | None = None
    command_id: str | None = None
    plate: str | None = None
    tests: list[LabTest] = Field(default_factory=list)


# --------------------------------------------------------------------------- the API's requests and answers


class ActionIn(ApiModel):
    action: OfficerAction
    reason: Annotated[str, Field(max_length=500)] = Field(
        "", description="why (at least 3 characters): mandatory, it goes on the record"
    )
    version: Annotated[int, Field(ge=1)] = Field(
        description="the passage version the officer decided on; another change since refuses the action (409)"
    )
    plate: Annotated[str, Field(max_length=16)] | None = Field(None, description="correct_plate: the plate as printed")
    country: Literal["VN", "CN"] | None = Field(
        None, description="correct_plate: the plate's country (default: detected)"
    )
    sample_id: Identifier | None = Field(None, description="sample: the sample's label")
    tests: Annotated[list[LabTest], Field(max_length=20)] = Field(default_factory=list, description="sample: tests")


class ActionOut(ApiModel):
    passage_id: str
    action: OfficerAction
    status: str
    version: int
    command_id: str | None = Field(None, description="the barrier command sent to the lane, if the action needs one")


class DeviceIn(ApiModel):
    kind: DeviceKind
    address: Annotated[str, Field(min_length=3, max_length=4096)] = Field(
        description="push token (fcm, apns), phone number in E.164 (sms) or e-mail address"
    )
    label: Annotated[str, Field(max_length=100)] = ""


class DeviceOut(ApiModel):
    device_id: str
    kind: DeviceKind
    label: str
    address: str = Field(description="masked")
    subscriptions: int = Field(description="alert topics it is subscribed to (gates x severities)")
    created_at: UtcDatetime


class OfficerMe(ApiModel):
    username: str
    roles: list[OfficerRole]
    gates: list[str]
    locale: Locale
    devices: list[DeviceOut]


class LocaleIn(ApiModel):
    locale: Locale


class OfficerIn(ApiModel):
    username: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._@-]*$")]
    role: OfficerRole
    gates: Annotated[list[str], Field(min_length=1, max_length=20)] = Field(description="gate ids, or ['*'] for all")
    locale: Locale = "vi"


class OfficerOut(ApiModel):
    username: str
    role: OfficerRole
    gates: list[str]
    temporary_password: str = Field(description="to be changed at first sign-in")


class EvidenceImage(ApiModel):
    kind: Literal["plate", "container", "face"] = Field(description="face: the cab camera's crop after a mismatch")
    event_id: str
    text: str | None
    camera: str | None
    captured_at: UtcDatetime
    url: str = Field(description="presigned, valid for a few minutes")


class LaneView(ApiModel):
    lane_id: str
    direction: str
    online: bool = Field(description="a heartbeat came within the last 60 s")
    health: dict[str, object] | None = Field(None, description="the newest heartbeat")
    barrier: Literal["open", "closed"] = Field(description="from the last command for the lane's newest vehicle")
    passage_id: str | None = None
    plate_text: str | None = None
    channel: str | None = None
    status: str | None = None
    since: UtcDatetime | None = None
