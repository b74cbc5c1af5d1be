"""What the REST API takes and gives (beyond the contracts it stores as they are): requests, views, errors.

These models are the OpenAPI document's schemas (``/openapi.json`` is generated from them and the
route table), so the trader app and any client can validate against the same definitions.
"""

from __future__ import annotations

from typing import Annotated, Generic, Literal, TypeVar, get_args

from pydantic import BaseModel, ConfigDict, Field

from smartgate.schemas.base import Country, Direction, Identifier, LabTest, UtcDatetime
from smartgate.schemas.clearance import LabParameter
from smartgate.schemas.trade import Booking, BookingStatus, ContainerNo, GoodsLine, Kilograms, VehicleChecks

T = TypeVar("T")


class ApiModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- errors and pages


class FieldError(ApiModel):
    field: str = Field(description="the offending field, as a dotted path (body.goods.0.hs_code)")
    message: str


class Problem(ApiModel):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default_factory=list)


class Page(ApiModel, Generic[T]):
    """One page of a list; pass ``next`` back as ``cursor`` for the following page (null: no more)."""

    items: list[T]
    next: str | None = None


# --------------------------------------------------------------------------- people and fleet


class SessionIn(ApiModel):
    username: Annotated[str, Field(min_length=1, max_length=128)]
    password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: Annotated[str, Field(min_length=12, max_length=256)] | None = Field(
        None, description="first sign-in of an account with a temporary password: the password to set"
    )


class SessionOut(ApiModel):
    id_token: str
    refresh_token: str | None = None
    expires_in: int


class Me(ApiModel):
    username: str
    company_id: str | None
    roles: list[str]
    locale: str | None = None


class CompanyIn(ApiModel):
    company_id: Identifier
    name: Annotated[str, Field(min_length=1, max_length=200)]
    country: Country
    tax_id: Annotated[str, Field(min_length=5, max_length=20, pattern=r"^[0-9A-Z-]+$")]
    contact_email: Annotated[str, Field(max_length=200, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")] | None = None
    booking_limit: Annotated[int, Field(ge=1, le=500)] = 20


class Company(CompanyIn):
    created_at: UtcDatetime
    open_bookings: int = 0
    recent_no_shows: int = 0


class UserIn(ApiModel):
    username: Annotated[str, Field(min_length=3, max_length=64, pattern=r"^[a-z0-9][a-z0-9._@-]*$")]
    role: Literal["traders"] = "traders"
    locale: Literal["vi", "zh", "en"] = "vi"


class UserOut(ApiModel):
    username: str
    company_id: str
    temporary_password: str = Field(description="to be changed at first sign-in")


class VehicleIn(ApiModel):
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    country: Country
    kind: Literal["truck", "tractor", "trailer", "van"] = "truck"
    tare_kg: Kilograms | None = None


class Vehicle(VehicleIn):
    vehicle_id: str = Field(description="the plate's key (29C12345)")
    company_id: str
    registered_at: UtcDatetime


class DriverIn(ApiModel):
    full_name: Annotated[str, Field(min_length=2, max_length=200)]
    document_number: Annotated[str, Field(min_length=5, max_length=30, pattern=r"^[0-9A-Z]+$")]
    country: Country
    phone: Annotated[str, Field(max_length=20, pattern=r"^\+?[0-9 ]{6,20}$")] | None = None


class Driver(DriverIn):
    """Personal data: kept until ``expires_at``, every read of it is recorded."""

    driver_id: Identifier
    company_id: str
    registered_at: UtcDatetime
    expires_at: UtcDatetime


class FaceConsentIn(ApiModel):
    """The driver's consent to 1:1 face verification, as the company recorded it."""

    given: Literal[True] = Field(description="the driver agreed; nothing else enrols a face")
    text_version: Annotated[str, Field(min_length=1, max_length=40)] = Field(
        "face-1to1-2026-12", description="the consent text the driver was shown"
    )
    method: Literal["app", "paper"] = "app"
    given_at: UtcDatetime


class FaceEnrolIn(ApiModel):
    photo: Annotated[str, Field(min_length=100, max_length=2_800_000)] = Field(
        description="a JPEG or PNG of the driver's face, base64 (at most 2 MB): made into the embedding, never kept"
    )
    consent: FaceConsentIn


class FaceEnrolment(ApiModel):
    driver_id: Identifier
    enrolled_at: UtcDatetime
    expires_at: UtcDatetime
    consent: FaceConsentIn
    face_px: int
    sharpness: float


class FaceUse(ApiModel):
    at: str
    who: str
    what: str


class FaceStatus(ApiModel):
    """Whether the driver's face is enrolled, until when, under which consent (never the face data itself)."""

    driver_id: Identifier
    enrolled: bool
    enrolled_at: UtcDatetime | None = None
    expires_at: UtcDatetime | None = None
    consent: FaceConsentIn | None = None
    uses: list[FaceUse] = Field(default_factory=list, description="every use of the face data, oldest first")


class FaceWithdrawn(ApiModel):
    driver_id: Identifier
    deleted: bool = Field(description="face data was kept and is now deleted")
    lanes_told: list[str] = Field(
        default_factory=list, description="lanes (gate/lane) sent the face in the last minutes, told to drop it"
    )


# --------------------------------------------------------------------------- declarations and slots


class ConsignmentIn(ApiModel, VehicleChecks):
    """A declaration as a trader sends it; the API adds the ids, the company and the time."""

    consignment_id: Identifier | None = Field(None, description="optional: the trader's own reference")
    gate_id: Identifier
    direction: Direction
    country: Country
    plate_text: Annotated[str, Field(min_length=1, max_length=20)]
    trailer_country: Country | None = None
    trailer_plate: Annotated[str, Field(max_length=20)] | None = None
    container_nos: Annotated[list[ContainerNo], Field(max_length=4)] = Field(default_factory=list)
    driver_id: Identifier | None = None
    vehicle_tare_kg: Kilograms | None = None
    goods: Annotated[list[GoodsLine], Field(min_length=1, max_length=200)]


class GateInfo(ApiModel):
    """A gate as traders choose it: where, which directions, when it opens, in which time zone its day runs."""

    gate_id: str
    name: str
    country: Country
    timezone: str = Field(description="IANA zone; slot days and opening hours are in it")
    partner: str | None = Field(None, description="the partner country's gate across the border")
    directions: list[Direction]
    opening: str = Field(description="local opening hours, HH:MM-HH:MM")
    slot_capacity: int = Field(description="vehicles per 15-minute window and direction, unless set per window")


class SlotWindow(ApiModel):
    start: UtcDatetime
    end: UtcDatetime
    capacity: int
    booked: int
    free: int
    our_capacity: int
    partner_capacity: int | None = None


class WaitWindow(ApiModel):
    start: UtcDatetime
    end: UtcDatetime
    booked: int
    expected_trucks: float = Field(
        description="booked trucks still to come in it, and the walk-ins expected beside them"
    )
    wait_minutes: float = Field(description="the mean wait before barrier 1 (720: more than 12 hours)")
    level: Literal["low", "moderate", "high", "closed"]


class WaitForecast(ApiModel):
    """The wait to expect at a gate's barrier over the next hours, from its bookings and its lanes now."""

    gate_id: Identifier
    direction: Direction
    at: UtcDatetime
    lanes: int = Field(description="the direction's lanes")
    lanes_serving: int = Field(
        description="lanes not reported offline or silent, not blocked by a held vehicle (a lane never heard counts)"
    )
    lanes_heard: bool = Field(description="false: no lane has reported its health yet")
    windows: list[WaitWindow]
    basis: str


class WindowCapacity(ApiModel):
    start: UtcDatetime
    capacity: Annotated[int, Field(ge=0, le=200)] | None = Field(None, description="ours; null leaves it")
    partner_capacity: Annotated[int, Field(ge=0, le=200)] | None = Field(
        None, description="what the partner gate accepts (until the partner exchange sends it)"
    )


class CapacityIn(ApiModel):
    direction: Direction
    windows: Annotated[list[WindowCapacity], Field(min_length=1, max_length=96)]


class MoveOut(ApiModel):
    booking_id: str
    from_start: UtcDatetime
    to_start: UtcDatetime | None = Field(description="null: no free window within the horizon; cancelled")


class CapacityOut(ApiModel):
    windows: list[SlotWindow]
    moved: list[MoveOut]


class BookingIn(ApiModel):
    consignment_id: Identifier
    window_start: UtcDatetime = Field(description="start of a 15-minute window (:00, :15, :30, :45)")
    driver_id: Identifier | None = None


class RescheduleIn(ApiModel):
    window_start: UtcDatetime


TimelineStatus = Literal[
    "booked",
    "rescheduled",
    "moved",
    "cancelled",
    "no_show",
    "arrived",
    "held",
    "in_inspection",
    "sampled",
    "cleared",
    "refused",
    "crossed",
    "partner_held",  # the partner gate's own steps, from the exchange
    "partner_refused",
    "partner_cleared",
    "partner_departed",
]
TIMELINE_ORDER: tuple[str, ...] = get_args(TimelineStatus)


class TimelineEntry(ApiModel):
    status: TimelineStatus
    at: UtcDatetime
    detail: str = ""


class BookingView(ApiModel):
    booking: Booking
    timeline: list[TimelineEntry] = Field(default_factory=list)


class PassOut(ApiModel):
    booking_id: str
    token: str = Field(description="what the QR code holds; verifiable offline with the gate's public key")
    key_id: str
    valid_from: UtcDatetime
    valid_to: UtcDatetime
    png: str = Field(description="path of the QR code as PNG")
    svg: str = Field(description="path of the QR code as SVG")


class Notification(ApiModel):
    notification_id: str
    company_id: str
    booking_id: str | None = None
    at: UtcDatetime
    kind: str
    subject: str
    body: str


# --------------------------------------------------------------------------- the lab


class LabSampleIn(ApiModel):
    sample_id: Identifier
    tests: Annotated[list[LabTest], Field(min_length=1, max_length=20)]
    taken_by: Identifier
    taken_at: UtcDatetime | None = Field(None, description="default: now")


class LabResultIn(ApiModel):
    outcome: Literal["pass", "fail"]
    parameters: Annotated[list[LabParameter], Field(max_length=100)] = Field(default_factory=list)
    tested_by: Identifier
    posted_at: UtcDatetime | None = Field(None, description="default: now")
    note: Annotated[str, Field(max_length=1000)] = ""


BOOKING_STATUSES = tuple(s.value for s in BookingStatus)
