"""REST API for traders, gate operators, officers and the lab (Chalice). Each route is a few lines over the core.

Deployed by SAM as one function (``Handler: app.app``); every route has its own ``Api`` event in
template.yaml with the same path, because Chalice routes on API Gateway's resource path. Routes are
declared through ``api.route`` (chalicelib/rest.py) so that ``/openapi.json`` is generated from the same
table, and so that every error is problem+json naming the field. A trader's company comes from the
signed-in token, never from the request.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from chalice import Chalice
from chalicelib import faces
from chalicelib.rest import Answer, Request, RestApi

from smartgate import wiring
from smartgate.adapters.cognito import SignInRefused
from smartgate.adapters.passes import qr
from smartgate.api.http import ApiProblem, Caller, Query, decode_cursor, encode_cursor, field_problem
from smartgate.config import settings
from smartgate.domain import biometrics, devices, duty, trading
from smartgate.domain.lab import PassageNotFound, queues, record_result, take_sample
from smartgate.domain.officers import ActionRefused, ActionRequest, Officer
from smartgate.domain.passages import IllegalTransition, PassageError
from smartgate.domain.waits import BARRIER_S, BOOKED_SHARE, predict_waits
from smartgate.schemas import (
    AuditEntry,
    Booking,
    Consignment,
    Direction,
    LabResult,
    LabSample,
    Passage,
    PassageStatus,
    utc_now,
)
from smartgate.schemas.api import (
    BookingIn,
    BookingView,
    CapacityIn,
    CapacityOut,
    Company,
    CompanyIn,
    ConsignmentIn,
    Driver,
    DriverIn,
    FaceConsentIn,
    FaceEnrolIn,
    FaceEnrolment,
    FaceStatus,
    FaceUse,
    FaceWithdrawn,
    GateInfo,
    LabResultIn,
    LabSampleIn,
    Me,
    Notification,
    Page,
    PassOut,
    RescheduleIn,
    SessionIn,
    SessionOut,
    SlotWindow,
    TimelineEntry,
    UserIn,
    UserOut,
    Vehicle,
    VehicleIn,
    WaitForecast,
    WaitWindow,
)
from smartgate.schemas.officers import (
    ActionIn,
    ActionOut,
    DeviceIn,
    DeviceOut,
    EvidenceImage,
    LaneView,
    LocaleIn,
    OfficerAlert,
    OfficerDevice,
    OfficerIn,
    OfficerMe,
    OfficerOut,
)

app = Chalice(app_name="smartgate-api")
api = RestApi(app, "Smart Gate API", "1.0.0")

TRADERS = ("traders",)
GATE = ("operators", "officers")
PAGING = (
    Query("limit", int, description="items per page (1-100, default 20)"),
    Query("cursor", str, description="the `next` of the previous page"),
)


def _page(req: Request) -> tuple[int, dict[str, Any] | None]:
    limit = req.query.get("limit", 20)
    if not 1 <= limit <= 100:
        raise field_problem("query.limit", "between 1 and 100")
    return limit, decode_cursor(req.query.get("cursor"))


def _company(caller: Caller) -> str | None:
    """The caller's company for reads: a trader's own; None for gate roles, who may read any."""
    return None if caller.roles & set(GATE) else caller.company()


# --------------------------------------------------------------------------- meta and sessions


@api.route("/health", "GET", summary="Liveness", tag="meta", roles=None)
def health(req: Request) -> dict[str, Any]:
    return {"status": "ok", "at": utc_now().isoformat()}


@api.route("/openapi.json", "GET", summary="This API's OpenAPI 3.1 document", tag="meta", roles=None)
def openapi(req: Request) -> dict[str, Any]:
    return api.openapi()


@api.route(
    "/sessions",
    "POST",
    summary="Sign in (user name and password) for an ID token",
    tag="sessions",
    request=SessionIn,
    response=SessionOut,
    status=201,
    roles=None,
    errors=(401, 409),
)
def sign_in(req: Request) -> SessionOut:
    body: SessionIn = req.body
    try:
        tokens = wiring.users().sign_in(body.username, body.password, body.new_password)
    except SignInRefused as err:
        raise field_problem(f"body.{err.field}", err.message, err.status) from err
    return SessionOut(id_token=tokens.id_token, refresh_token=tokens.refresh_token, expires_in=tokens.expires_in)


@api.route("/me", "GET", summary="Who is signed in: user, company, roles", tag="sessions", response=Me)
def me(req: Request) -> Me:
    c = req.who
    return Me(username=c.username, company_id=c.company_id, roles=sorted(c.roles), locale=c.locale)


# --------------------------------------------------------------------------- companies and fleet


@api.route(
    "/companies",
    "POST",
    summary="Register a trading company (gate operators)",
    tag="companies",
    request=CompanyIn,
    response=Company,
    status=201,
    also=(200,),
    roles=("operators",),
    idempotent=True,
    errors=(409,),
)
def register_company(req: Request) -> Answer:
    company, new = trading.register_company(wiring.trade_deps(), req.body)
    return Answer(company, 201 if new else 200)


@api.route(
    "/companies/{company_id}",
    "GET",
    summary="A company, its booking limit and open bookings",
    tag="companies",
    response=Company,
    errors=(404,),
)
def get_company(req: Request) -> Company:
    company_id = req.path["company_id"]
    if not req.who.may_see_company(company_id):
        raise field_problem("path.company_id", "not your company", 404)
    return trading.company_of(wiring.trade_deps(), company_id)


@api.route(
    "/companies/{company_id}/users",
    "POST",
    summary="Add a user to a company (temporary password)",
    tag="companies",
    request=UserIn,
    response=UserOut,
    status=201,
    roles=("operators", "traders"),
    errors=(404, 409),
)
def add_user(req: Request) -> UserOut:
    company_id = req.path["company_id"]
    if not (req.who.is_("operators") or req.who.company_id == company_id):
        raise field_problem("path.company_id", "not your company", 404)
    trading.company_of(wiring.trade_deps(), company_id)
    body: UserIn = req.body
    password = wiring.users().create_user(body.username, company_id, body.role, body.locale)
    if password is None:
        raise field_problem("body.username", f"{body.username} is taken", 409)
    return UserOut(username=body.username, company_id=company_id, temporary_password=password)


@api.route(
    "/vehicles",
    "POST",
    summary="Register one of your company's vehicles",
    tag="fleet",
    request=VehicleIn,
    response=Vehicle,
    status=201,
    roles=TRADERS,
    idempotent=True,
)
def add_vehicle(req: Request) -> Vehicle:
    return trading.register_vehicle(wiring.trade_deps(), req.who.company(), req.body)


@api.route(
    "/vehicles",
    "GET",
    summary="Your company's vehicles",
    tag="fleet",
    response=Page[Vehicle],
    roles=TRADERS,
    query=PAGING,
)
def list_vehicles(req: Request) -> Page[Vehicle]:
    items, last = wiring.trade_store().vehicles(req.who.company(), *_page(req))
    return Page[Vehicle](items=items, next=encode_cursor(last))


@api.route(
    "/drivers",
    "POST",
    summary="Register a driver (personal data: kept a year, every read recorded)",
    tag="fleet",
    request=DriverIn,
    response=Driver,
    status=201,
    roles=TRADERS,
    idempotent=True,
)
def add_driver(req: Request) -> Driver:
    return trading.register_driver(wiring.trade_deps(), req.who.company(), req.body)


@api.route(
    "/drivers",
    "GET",
    summary="Your company's drivers (the read is recorded)",
    tag="fleet",
    response=Page[Driver],
    roles=TRADERS,
    query=PAGING,
)
def list_drivers(req: Request) -> Page[Driver]:
    company_id = req.who.company()
    items, last = wiring.trade_store().drivers(company_id, *_page(req))
    for d in items:
        wiring.trade_store().log_access(
            f"driver#{company_id}#{d.driver_id}", req.who.username, "list drivers", utc_now()
        )
    return Page[Driver](items=items, next=encode_cursor(last))


@api.route(
    "/drivers/{driver_id}",
    "GET",
    summary="One driver (the read is recorded)",
    tag="fleet",
    response=Driver,
    roles=TRADERS,
    errors=(404,),
)
def get_driver(req: Request) -> Driver:
    return trading.read_driver(wiring.trade_deps(), req.who.company(), req.path["driver_id"], req.who.username)


# --------------------------------------------------------------------------- drivers' faces (biometric)


def _face_uses(rows: list[tuple[str, str, str]]) -> list[FaceUse]:
    return [FaceUse(at=at, who=who, what=what) for at, who, what in rows]


def _own_driver(req: Request) -> Driver:
    return trading.company_driver(wiring.trade_store(), req.who.company(), req.path["driver_id"])


@api.route(
    "/drivers/{driver_id}/face",
    "PUT",
    summary="Enrol the driver's face for 1:1 checks at the gate, with their consent (the photo is not kept)",
    tag="fleet",
    request=FaceEnrolIn,
    response=FaceEnrolment,
    roles=TRADERS,
    idempotent=True,
    errors=(404,),
)
def enrol_face(req: Request) -> FaceEnrolment:
    driver = _own_driver(req)
    body: FaceEnrolIn = req.body
    embedding, quality = faces.embedding_of(body.photo)
    consent = biometrics.Consent.model_validate(body.consent.model_dump())
    try:
        record = biometrics.enrol(
            wiring.biometric_deps(),
            driver.company_id,
            driver.driver_id,
            embedding,
            consent,
            req.who.username,
            driver.expires_at,
        )
    except biometrics.BiometricError as err:
        raise field_problem(f"body.{err.field}", err.message, err.status) from err
    return FaceEnrolment(
        driver_id=driver.driver_id,
        enrolled_at=record.enrolled_at,
        expires_at=record.expires_at,
        consent=body.consent,
        face_px=quality.face_px,
        sharpness=round(quality.sharpness, 2),
    )


@api.route(
    "/drivers/{driver_id}/face",
    "GET",
    summary="The driver's face data as they may see it: enrolled or not, until when, the consent, every use (recorded)",
    tag="fleet",
    response=FaceStatus,
    roles=TRADERS,
    errors=(404,),
)
def face_status(req: Request) -> FaceStatus:
    driver = _own_driver(req)
    record, used = biometrics.status(wiring.biometric_deps(), driver.company_id, driver.driver_id, req.who.username)
    uses = _face_uses(used)
    if record is None:
        return FaceStatus(driver_id=driver.driver_id, enrolled=False, uses=uses)
    return FaceStatus(
        driver_id=driver.driver_id,
        enrolled=True,
        enrolled_at=record.enrolled_at,
        expires_at=record.expires_at,
        consent=FaceConsentIn.model_validate(record.consent.model_dump()),
        uses=uses,
    )


@api.route(
    "/drivers/{driver_id}/face",
    "DELETE",
    summary="The driver withdraws consent: their face data is deleted now",
    tag="fleet",
    response=FaceWithdrawn,
    roles=TRADERS,
    errors=(404,),
)
def withdraw_face(req: Request) -> FaceWithdrawn:
    driver = _own_driver(req)
    deps = wiring.biometric_deps()
    deleted = biometrics.withdraw(deps, driver.company_id, driver.driver_id, req.who.username)
    told = biometrics.revoke_on_lanes(deps, wiring.face_publisher(), driver.company_id, driver.driver_id)
    return FaceWithdrawn(driver_id=driver.driver_id, deleted=deleted, lanes_told=told)


@api.route(
    "/drivers/{driver_id}/face/uses",
    "GET",
    summary="Where the driver's face data was used: enrolment, each check at a lane, withdrawal (recorded)",
    tag="fleet",
    response=list[FaceUse],
    roles=TRADERS,
    errors=(404,),
)
def face_uses(req: Request) -> list[FaceUse]:
    driver = _own_driver(req)
    rows = biometrics.uses(wiring.biometric_deps(), driver.company_id, driver.driver_id, req.who.username)
    return _face_uses(rows)


# --------------------------------------------------------------------------- declarations


@api.route(
    "/consignments",
    "POST",
    summary="Declare a consignment (pre-arrival declaration)",
    tag="consignments",
    request=ConsignmentIn,
    response=Consignment,
    status=201,
    also=(200,),
    roles=TRADERS,
    idempotent=True,
    errors=(409,),
)
def declare(req: Request) -> Answer:
    consignment, new = trading.declare(wiring.trade_deps(), req.who.company(), req.body)
    return Answer(consignment, 201 if new else 200)


@api.route(
    "/consignments/check",
    "POST",
    summary="Check a declaration without storing it (the web app's as-you-type checks)",
    tag="consignments",
    request=ConsignmentIn,
    response=Consignment,
    roles=TRADERS,
)
def check_declaration(req: Request) -> Consignment:
    return trading.check_declaration(wiring.trade_deps(), req.who.company(), req.body)


@api.route(
    "/consignments",
    "GET",
    summary="Your company's declarations, newest first",
    tag="consignments",
    response=Page[Consignment],
    roles=TRADERS,
    query=PAGING,
)
def list_consignments(req: Request) -> Page[Consignment]:
    items, last = wiring.trade_store().company_consignments(req.who.company(), *_page(req))
    return Page[Consignment](items=items, next=encode_cursor(last))


@api.route(
    "/consignments/{consignment_id}",
    "GET",
    summary="A declaration",
    tag="consignments",
    response=Consignment,
    roles=(*TRADERS, *GATE, "lab"),
    errors=(404,),
)
def get_consignment(req: Request) -> Consignment:
    consignment_id = req.path["consignment_id"]
    if req.who.roles & {*GATE, "lab"}:
        found = wiring.trade_store().consignment(consignment_id)
        if found is None:
            raise field_problem("path.consignment_id", f"no consignment {consignment_id}", 404)
        return found[0]
    return trading.own_consignment(wiring.trade_deps(), req.who.company(), consignment_id, "path.consignment_id")[0]


# --------------------------------------------------------------------------- slots and capacity


@api.route(
    "/gates",
    "GET",
    summary="The gates traders can book, with directions and opening hours",
    tag="slots",
    response=list[GateInfo],
)
def list_gates(req: Request) -> list[GateInfo]:
    return [
        GateInfo(
            gate_id=gate_id,
            name=spec.name,
            country=spec.country,
            timezone=spec.timezone,
            partner=spec.partner,
            directions=spec.directions(),
            opening=spec.opening,
            slot_capacity=spec.slot_capacity,
        )
        for gate_id, spec in sorted(wiring.gates().gates.items())
    ]


@api.route(
    "/slots",
    "GET",
    summary="A day's 15-minute windows at a gate, with free capacity",
    tag="slots",
    response=list[SlotWindow],
    query=(
        Query("gate_id", str, True),
        Query("direction", Direction, True),
        Query("date", date, True, "the gate's local date, YYYY-MM-DD"),
    ),
)
def slots(req: Request) -> list[SlotWindow]:
    return trading.day_slots(wiring.trade_deps(), req.query["gate_id"], req.query["direction"], req.query["date"])


BLOCKING = {PassageStatus.OPEN, PassageStatus.HELD, PassageStatus.IN_INSPECTION, PassageStatus.SAMPLED}
BLOCKED_FOR = timedelta(minutes=15)
"""A lane whose newest vehicle was held (or is still being read) this recently does not serve the queue."""


@api.route(
    "/gates/{gate_id}/waits",
    "GET",
    summary="The wait to expect at the barrier over the next hours, window by window",
    tag="slots",
    response=WaitForecast,
    query=(
        Query("direction", Direction, True),
        Query("hours", int, False, "how far ahead: 1 to 24 hours, default 6"),
    ),
    errors=(404,),
)
def gate_waits(req: Request) -> WaitForecast:
    gate_id = _gate(req.path["gate_id"])
    direction: Direction = req.query["direction"]
    hours = req.query.get("hours")
    hours = 6 if hours is None else hours
    if not 1 <= hours <= 24:
        raise field_problem("query.hours", "hours: 1 to 24", 422)
    lanes = [
        lane_id for lane_id, lane in wiring.gates().gates[gate_id].all_lanes().items() if lane.direction == direction
    ]
    now = utc_now()
    health = wiring.lane_health().last_of(gate_id, lanes)
    # a lane that reported itself offline, or went silent, does not serve; one never heard is taken as serving
    down = {lane_id for lane_id, beat in health.items() if not beat.online or now - beat.at > HEARTBEAT_FRESH}
    serving = set(lanes) - down
    blocked = {
        lane_id
        for lane_id, p in _newest_vehicles(gate_id, lanes).items()
        if p.status in BLOCKING and now - p.status_at <= BLOCKED_FOR
    }
    loads = trading.window_loads(wiring.trade_deps(), gate_id, direction, hours)
    points = predict_waits(now, loads, len(serving - blocked))
    return WaitForecast(
        gate_id=gate_id,
        direction=direction,
        at=now,
        lanes=len(lanes),
        lanes_serving=len(serving - blocked),
        lanes_heard=bool(health),
        windows=[WaitWindow(**vars(p)) for p in points],
        basis=(
            f"booked trucks and {round(100 * (1 / BOOKED_SHARE - 1))} % more walk-ins, one truck a lane every "
            f"{BARRIER_S:.0f} s; the queue before barrier 1, not inspections"
        ),
    )


@api.route(
    "/gates/{gate_id}/capacity",
    "PUT",
    summary="Set windows' capacity (ours or the partner's); bookings beyond it move on",
    tag="slots",
    request=CapacityIn,
    response=CapacityOut,
    roles=("operators",),
    errors=(404,),
)
def set_capacity(req: Request) -> CapacityOut:
    body: CapacityIn = req.body
    windows, moved = trading.set_capacity(
        wiring.trade_deps(),
        req.path["gate_id"],
        body.direction,
        [(w.start, w.capacity, w.partner_capacity) for w in body.windows],
    )
    return CapacityOut(windows=windows, moved=moved)


# --------------------------------------------------------------------------- bookings


@api.route(
    "/bookings",
    "POST",
    summary="Book a window for a declaration",
    tag="bookings",
    request=BookingIn,
    response=Booking,
    status=201,
    roles=TRADERS,
    idempotent=True,
    errors=(404, 409, 429),
)
def create_booking(req: Request) -> Booking:
    body: BookingIn = req.body
    return trading.book(wiring.trade_deps(), req.who.company(), body.consignment_id, body.window_start, body.driver_id)


@api.route(
    "/bookings",
    "GET",
    summary="Your company's bookings, latest slot first",
    tag="bookings",
    response=Page[Booking],
    roles=TRADERS,
    query=PAGING,
)
def list_bookings(req: Request) -> Page[Booking]:
    items, last = wiring.trade_store().company_bookings(req.who.company(), *_page(req))
    return Page[Booking](items=items, next=encode_cursor(last))


def _booking(req: Request) -> Booking:
    booking_id = req.path["booking_id"]
    booking = trading.own_booking(wiring.trade_deps(), _company(req.who), booking_id)[0]
    if booking.driver_name:
        wiring.trade_store().log_access(f"booking#{booking_id}", req.who.username, "read booking", utc_now())
    return booking


@api.route(
    "/bookings/{booking_id}",
    "GET",
    summary="A booking and its status timeline",
    tag="bookings",
    response=BookingView,
    roles=(*TRADERS, *GATE),
    errors=(404,),
)
def get_booking(req: Request) -> BookingView:
    booking = _booking(req)
    return BookingView(booking=booking, timeline=wiring.trade_store().timeline_of(booking.booking_id))


@api.route(
    "/bookings/{booking_id}/cancel",
    "POST",
    summary="Cancel a booking (frees its window)",
    tag="bookings",
    response=Booking,
    roles=TRADERS,
    errors=(404, 409),
)
def cancel_booking(req: Request) -> Booking:
    return trading.cancel(wiring.trade_deps(), req.who.company(), req.path["booking_id"])


@api.route(
    "/bookings/{booking_id}/reschedule",
    "POST",
    summary="Move a booking to another window",
    tag="bookings",
    request=RescheduleIn,
    response=Booking,
    roles=TRADERS,
    errors=(404, 409, 429),
)
def reschedule_booking(req: Request) -> Booking:
    body: RescheduleIn = req.body
    return trading.reschedule(wiring.trade_deps(), req.who.company(), req.path["booking_id"], body.window_start)


@api.route(
    "/bookings/{booking_id}/timeline",
    "GET",
    summary="A booking's status timeline",
    tag="bookings",
    response=list[TimelineEntry],
    roles=(*TRADERS, *GATE),
    errors=(404,),
)
def booking_timeline(req: Request) -> list[TimelineEntry]:
    booking_id = req.path["booking_id"]
    trading.own_booking(wiring.trade_deps(), _company(req.who), booking_id)
    return wiring.trade_store().timeline_of(booking_id)


def _pass(req: Request) -> PassOut:
    booking = _booking(req)
    token, valid_from, valid_to = trading.issue_pass(wiring.trade_deps(), booking)
    base = f"/bookings/{booking.booking_id}/pass"
    return PassOut(
        booking_id=booking.booking_id,
        token=token,
        key_id=wiring.pass_signer().key_id,
        valid_from=valid_from,
        valid_to=valid_to,
        png=f"{base}.png",
        svg=f"{base}.svg",
    )


@api.route(
    "/bookings/{booking_id}/pass",
    "GET",
    summary="The crossing pass: a signed token for the QR code",
    tag="bookings",
    response=PassOut,
    roles=(*TRADERS, *GATE),
    errors=(404, 409),
)
def get_pass(req: Request) -> PassOut:
    return _pass(req)


@api.route(
    "/bookings/{booking_id}/pass.png",
    "GET",
    summary="The crossing pass as a QR code (PNG)",
    tag="bookings",
    response="binary",
    media="image/png",
    roles=(*TRADERS, *GATE),
    errors=(404, 409),
)
def get_pass_png(req: Request) -> Answer:
    return Answer(qr(_pass(req).token, "png"), headers={"Cache-Control": "private, max-age=300"})


@api.route(
    "/bookings/{booking_id}/pass.svg",
    "GET",
    summary="The crossing pass as a QR code (SVG)",
    tag="bookings",
    response="binary",
    media="image/svg+xml",
    roles=(*TRADERS, *GATE),
    errors=(404, 409),
)
def get_pass_svg(req: Request) -> Answer:
    return Answer(qr(_pass(req).token, "svg").decode(), headers={"Cache-Control": "private, max-age=300"})


@api.route(
    "/notifications",
    "GET",
    summary="What your company was told, newest first",
    tag="bookings",
    response=Page[Notification],
    roles=TRADERS,
    query=PAGING,
)
def notifications(req: Request) -> Page[Notification]:
    items, last = wiring.trade_store().notifications(req.who.company(), *_page(req))
    return Page[Notification](items=items, next=encode_cursor(last))


# --------------------------------------------------------------------------- the gate: passages and the lab


@api.route(
    "/passages/{passage_id}",
    "GET",
    summary="A passage: detections, decision, status",
    tag="gate",
    roles=(*GATE, "lab"),
    errors=(403, 404),
)
def get_passage(req: Request) -> dict[str, Any]:
    passage = _passage(req)
    wiring.trade_store().log_access(f"passage#{passage.passage_id}", req.who.username, "passage", utc_now())
    return passage.model_dump(mode="json")


def _lab_step(step: Any) -> dict[str, Any]:
    try:
        passage: Passage = step()
    except PassageNotFound as err:
        raise field_problem("path.passage_id", str(err), 404) from err
    except (PassageError, IllegalTransition) as err:
        raise ApiProblem(409, str(err)) from err
    return passage.model_dump(mode="json")


@api.route(
    "/passages/{passage_id}/lab-samples",
    "POST",
    summary="A sample taken for the lab (SAMPLED)",
    tag="gate",
    request=LabSampleIn,
    roles=("lab", "officers"),
    errors=(404, 409),
)
def register_lab_sample(req: Request) -> dict[str, Any]:
    sample = LabSample(**{**req.body.model_dump(), "taken_at": req.body.taken_at or utc_now()})
    return _lab_step(lambda: take_sample(wiring.passages(), req.path["passage_id"], sample))


@api.route(
    "/passages/{passage_id}/lab-samples/{sample_id}/result",
    "POST",
    tag="gate",
    summary="The lab's result: pass releases (once every sample passed), fail refuses",
    request=LabResultIn,
    roles=("lab",),
    errors=(404, 409),
)
def post_lab_result(req: Request) -> dict[str, Any]:
    result = LabResult(**{**req.body.model_dump(), "posted_at": req.body.posted_at or utc_now()})
    return _lab_step(lambda: record_result(wiring.passages(), req.path["passage_id"], req.path["sample_id"], result))


@api.route(
    "/gates/{gate_id}/queues",
    "GET",
    summary="Who waits at the gate: inspection and lab, perishables first",
    tag="gate",
    roles=(*GATE, "lab"),
    errors=(403, 404),
)
def gate_queues(req: Request) -> dict[str, Any]:
    gate_id = _gate(req.path["gate_id"], _reader(req))
    found = queues(wiring.passages(), gate_id)
    return {name: [_queue_row(p) for p in rows] for name, rows in found.items()}


def _queue_row(p: Passage) -> dict[str, Any]:
    deadline = p.consignment.shelf_life_deadline() if p.consignment else None
    return {
        "passage_id": p.passage_id,
        "lane_id": p.lane_id,
        "plate_text": p.plate_text,
        "status": p.status.value,
        "channel": p.channel.value if p.channel else None,
        "booking_id": p.booking_id,
        "consignment_id": p.consignment_id,
        "perishable_deadline": deadline.isoformat() if deadline else None,
        "lab_tests": [t.value for t in p.decision.lab_tests] if p.decision else [],
        "since": p.status_at.isoformat(),
        "reason": p.status_reason,
    }


# --------------------------------------------------------------------------- officers: alerts, devices, actions

OFFICERS = ("officers",)
HEARTBEAT_FRESH = timedelta(seconds=60)


def _officer(req: Request) -> Officer:
    who = req.who
    return Officer.from_groups(who.username, who.roles, who.gates, who.locale)


def _gate(gate_id: str, officer: Officer | None = None, field: str = "path.gate_id") -> str:
    if gate_id not in wiring.gates().gates:
        raise field_problem(field, f"gate {gate_id} not found (gates: {', '.join(wiring.gates().gate_ids())})", 404)
    if officer is not None and not officer.serves(gate_id):
        raise field_problem(field, f"you do not serve gate {gate_id}", 403)
    return gate_id


def _reader(req: Request) -> Officer | None:
    """The officer whose gates limit what this caller reads; None for operators and the lab (every gate)."""
    who = req.who
    return _officer(req) if who.is_("officers") and not who.is_("operators") else None


def _passage(req: Request) -> Passage:
    """The path's passage, if the caller may read it (an officer: at a gate they serve)."""
    passage_id = req.path["passage_id"]
    passage = wiring.passages().get(passage_id)
    if passage is None:
        raise field_problem("path.passage_id", f"passage {passage_id} not found", 404)
    reader = _reader(req)
    if reader is not None and not reader.serves(passage.gate_id):
        raise field_problem(
            "path.passage_id", f"passage {passage_id} is at gate {passage.gate_id}, which you do not serve", 403
        )
    return passage


@api.route(
    "/alerts",
    "GET",
    summary="A gate's officer alerts, newest first, with where each was delivered (the outbox)",
    tag="officers",
    response=Page[OfficerAlert],
    roles=(*GATE, "supervisor"),
    query=(Query("gate_id", str, required=True, description="the gate"), *PAGING),
    errors=(403, 404),
)
def list_alerts(req: Request) -> Page[OfficerAlert]:
    gate_id = _gate(req.query["gate_id"], _reader(req), "query.gate_id")
    items, last = wiring.alerts().for_gate(gate_id, *_page(req))
    return Page[OfficerAlert](items=items, next=encode_cursor(last))


@api.route(
    "/alerts/{alert_id}/ack",
    "POST",
    summary="Acknowledge an alert: its escalation stops",
    tag="officers",
    response=OfficerAlert,
    roles=OFFICERS,
    errors=(403, 404),
)
def ack_alert(req: Request) -> OfficerAlert:
    officer = _officer(req)
    alert = wiring.alerts().get(req.path["alert_id"])
    if alert is None:
        raise field_problem("path.alert_id", f"alert {req.path['alert_id']} not found", 404)
    _gate(alert.gate_id, officer, "path.alert_id")
    done = duty.acknowledge(wiring.alerts(), alert.alert_id, officer, utc_now())
    assert done is not None
    return done


def _device_out(d: OfficerDevice) -> DeviceOut:
    return DeviceOut(
        device_id=d.device_id,
        kind=d.kind,
        label=d.label,
        address=d.masked(),
        subscriptions=len(d.subscriptions),
        created_at=d.created_at,
    )


@api.route(
    "/officers/me",
    "GET",
    summary="The signed-in officer: roles, gates, language, devices",
    tag="officers",
    response=OfficerMe,
    roles=OFFICERS,
)
def officer_me(req: Request) -> OfficerMe:
    return _me(_officer(req))


def _me(officer: Officer) -> OfficerMe:
    return OfficerMe(
        username=officer.username,
        roles=sorted(officer.roles),
        gates=sorted(officer.gates),
        locale=officer.locale,  # type: ignore[arg-type]
        devices=[_device_out(d) for d in wiring.devices().of(officer.username)],
    )


@api.route(
    "/officers/me/locale",
    "PUT",
    summary="The language the officer's alerts come in (every registered device follows; sign in again for the token)",
    tag="officers",
    request=LocaleIn,
    response=OfficerMe,
    roles=OFFICERS,
)
def set_officer_locale(req: Request) -> OfficerMe:
    officer = _officer(req)
    locale = req.body.locale
    wiring.users().set_locale(officer.username, locale)
    devices.relocate(officer, locale, _device_settings())
    return _me(Officer(officer.username, officer.roles, officer.gates, locale))


@api.route(
    "/officers/me/devices",
    "POST",
    summary="Register a device for alerts: push (FCM / APNs platform endpoint), SMS or e-mail",
    tag="officers",
    request=DeviceIn,
    response=DeviceOut,
    status=201,
    also=(200,),
    roles=OFFICERS,
    errors=(403, 422),
)
def register_device(req: Request) -> Answer:
    officer = _officer(req)
    body: DeviceIn = req.body
    try:
        device, created = devices.register(officer, body, _device_settings())
    except devices.DeviceRefused as err:
        raise field_problem(err.field, err.message) from err
    return Answer(_device_out(device), status=201 if created else 200)


def _device_settings() -> devices.DeviceSettings:
    s = settings()
    return devices.DeviceSettings(
        sns=wiring.sns_alerts(),
        store=wiring.devices(),
        topic_for=wiring.alert_topic,
        gate_ids=tuple(wiring.gates().gate_ids()),
        applications={"fcm": s.fcm_application_arn, "apns": s.apns_application_arn},
    )


@api.route(
    "/officers/me/devices/{device_id}",
    "DELETE",
    summary="Remove a device: its subscriptions and push endpoint go too",
    tag="officers",
    roles=OFFICERS,
    errors=(404,),
)
def remove_device(req: Request) -> dict[str, Any]:
    officer = _officer(req)
    if not devices.remove(officer, req.path["device_id"], _device_settings()):
        raise field_problem("path.device_id", f"no device {req.path['device_id']}", 404)
    return {"removed": req.path["device_id"]}


@api.route(
    "/officers",
    "POST",
    summary="Create an officer account (temporary password) with a role and the gates they serve",
    tag="officers",
    request=OfficerIn,
    response=OfficerOut,
    status=201,
    roles=("operators", "supervisor"),
    errors=(404, 409),
)
def create_officer(req: Request) -> OfficerOut:
    body: OfficerIn = req.body
    gates = ["*"] if "*" in body.gates else [_gate(g, None, f"body.gates.{i}") for i, g in enumerate(body.gates)]
    password = wiring.users().create_officer(body.username, body.role.value, ",".join(gates), body.locale)
    if password is None:
        raise field_problem("body.username", f"{body.username} is taken", 409)
    return OfficerOut(username=body.username, role=body.role, gates=gates, temporary_password=password)


@api.route(
    "/passages/{passage_id}/actions",
    "POST",
    summary="An officer's action: release, hold, inspect, sample, correct_plate (reason mandatory; audited)",
    tag="officers",
    request=ActionIn,
    response=ActionOut,
    roles=(),  # every attempt is audited, so the role check is the action's own (a refusal is on the record)
    idempotent=True,
    errors=(403, 404, 409, 422),
)
def passage_action(req: Request) -> ActionOut:
    body: ActionIn = req.body
    request = ActionRequest(
        action=body.action,
        reason=body.reason,
        version=body.version,
        plate=body.plate,
        country=body.country,
        sample_id=body.sample_id,
        tests=tuple(body.tests),
    )
    try:
        result = duty.act(req.path["passage_id"], request, _officer(req), wiring.action_deps())
    except duty.PassageMissing as err:
        raise field_problem("path.passage_id", str(err), 404) from err
    except ActionRefused as err:
        raise field_problem(err.field, err.message, err.status) from err
    return ActionOut(
        passage_id=result.passage.passage_id,
        action=body.action,
        status=result.passage.status.value,
        version=result.passage.version,
        command_id=result.command_id,
    )


@api.route(
    "/passages/{passage_id}/evidence",
    "GET",
    summary="The passage's evidence images (presigned URLs, a few minutes); every read is recorded",
    tag="officers",
    response=list[EvidenceImage],
    roles=(*GATE, "lab"),
    errors=(403, 404),
)
def passage_evidence(req: Request) -> list[EvidenceImage]:
    passage = _passage(req)
    wiring.trade_store().log_access(f"passage#{passage.passage_id}", req.who.username, "evidence images", utc_now())
    store = wiring.evidence()
    reads = [
        ("plate", p.event_id, p.plate_text, p.camera.value, p.captured_at, p.crop_key)
        for p in passage.detections.plates
    ]
    reads += [
        ("container", c.event_id, c.container_no, None, c.captured_at, c.crop_key)
        for c in passage.detections.containers
    ]
    reads += [  # kept only after a mismatch, where the gate's policy keeps face evidence
        ("face", f.event_id, f.driver_ref or f.booking_id, "cab", f.captured_at, f.evidence_key)
        for f in passage.detections.faces
    ]
    return [
        EvidenceImage(kind=kind, event_id=eid, text=text, camera=camera, captured_at=at, url=store.url(key))  # type: ignore[arg-type]
        for kind, eid, text, camera, at, key in reads
        if key
    ]


@api.route(
    "/passages/{passage_id}/audit",
    "GET",
    summary="The passage's audit entries: decisions, state changes, lab steps, officers' attempts",
    tag="officers",
    response=list[AuditEntry],
    roles=(*GATE, "supervisor"),
    errors=(403, 404),
)
def passage_audit(req: Request) -> list[AuditEntry]:
    passage = _passage(req)
    return sorted(wiring.audit().for_passage(passage.passage_id), key=lambda e: e.seq)


def _newest_vehicles(gate_id: str, lanes: list[str]) -> dict[str, Passage]:
    """Each lane's newest passage (lanes that have seen none are left out)."""
    tracks = wiring.passages().lanes_of(gate_id, lanes)
    newest = {lane_id: t.newest.passage_id for lane_id, t in tracks.items() if t.newest is not None}
    passages = wiring.passages().many(list(newest.values()))
    return {lane_id: passages[pid] for lane_id, pid in newest.items() if pid in passages}


@api.route(
    "/gates/{gate_id}/lanes",
    "GET",
    summary="Each lane now: its newest vehicle, channel, barrier, health, online or not",
    tag="officers",
    response=list[LaneView],
    roles=(*GATE, "lab"),
    errors=(403, 404),
)
def gate_lanes(req: Request) -> list[LaneView]:
    gate_id = _gate(req.path["gate_id"], _reader(req))
    now = utc_now()
    lanes = wiring.gates().gates[gate_id].all_lanes()
    health = wiring.lane_health().last_of(gate_id, list(lanes))
    passages = _newest_vehicles(gate_id, list(lanes))
    views = []
    for lane_id, lane in lanes.items():
        beat = health.get(lane_id)
        passage = passages.get(lane_id)
        views.append(
            LaneView(
                lane_id=lane_id,
                direction=lane.direction.value,
                online=beat is not None and beat.online and now - beat.at <= HEARTBEAT_FRESH,
                health=beat.model_dump(mode="json", exclude={"schema_version"}) if beat else None,
                barrier="open" if passage is not None and passage.status == PassageStatus.RELEASED else "closed",
                passage_id=passage.passage_id if passage else None,
                plate_text=passage.plate_text if passage else None,
                channel=passage.channel.value if passage and passage.channel else None,
                status=passage.status.value if passage else None,
                since=passage.status_at if passage else None,
            )
        )
    return views
