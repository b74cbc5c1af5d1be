"""The trade side's flows: companies and fleets, declarations, booking a slot, the pass, the timeline.

Each flow takes the caller's company (from the signed-in token, never from the request) and the ports;
what is refused raises :class:`TradeError` naming the request field, and nothing is stored. The counts
that must never be exceeded — a window's capacity, a company's open bookings, one booking per
declaration — are kept by the store's conditional writes, not by reading first.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from smartgate.domain.gates import GateRegistry, GateSpec
from smartgate.domain.passes import PassClaims, validity
from smartgate.domain.plates import plate_key, validate_plate
from smartgate.domain.slots import (
    HORIZON,
    VEHICLE_GAP,
    WINDOW,
    TradeError,
    WindowState,
    check_window,
    local_day,
    moves_after_drop,
    open_booking_limit,
    windows_from,
)
from smartgate.domain.waits import WindowLoad
from smartgate.ports import Clock, PassIssuer, Refused, TraderNotifier, TradeStore
from smartgate.schemas import Booking, BookingStatus, Consignment, Direction, PassageStateChanged, PassageStatus
from smartgate.schemas.api import (
    Company,
    CompanyIn,
    ConsignmentIn,
    Driver,
    DriverIn,
    MoveOut,
    Notification,
    SlotWindow,
    TimelineEntry,
    Vehicle,
    VehicleIn,
)

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U to misread on the phone


def new_id(prefix: str, now: datetime) -> str:
    """``BK-20261201-7Q4M2XK9``: the day it was made and 40 random bits, easy to read out."""
    return f"{prefix}-{now:%Y%m%d}-" + "".join(secrets.choice(_ALPHABET) for _ in range(8))


@dataclass(frozen=True)
class TradeDeps:
    store: TradeStore
    gates: GateRegistry
    passes: PassIssuer | None  # only the API issues passes (and holds the private key)
    notifier: TraderNotifier
    clock: Clock
    bookings_per_minute: int = 60
    pass_grace: timedelta = timedelta(minutes=60)
    no_show_grace: timedelta = timedelta(minutes=60)
    driver_retention: timedelta = timedelta(days=365)


# --------------------------------------------------------------------------- companies and fleet


def register_company(deps: TradeDeps, data: CompanyIn) -> tuple[Company, bool]:
    """(the company, whether it is new); the same request again gives the stored company back."""
    company = Company(**data.model_dump(), created_at=deps.clock.now())
    if deps.store.put_company(company):
        return company, True
    stored = deps.store.company(data.company_id)
    if stored is not None and CompanyIn(**stored.model_dump(include=set(CompanyIn.model_fields))) == data:
        return stored, False
    raise TradeError("company_id", f"{data.company_id} is registered already", 409)


def company_of(deps: TradeDeps, company_id: str) -> Company:
    company = deps.store.company(company_id)
    if company is None:
        raise TradeError("company_id", f"company {company_id} is not registered; ask the gate operator", 403)
    return company


def _plate_in_format(field: str, plate: str, country: str) -> str:
    check = validate_plate(plate, country)
    if not check.valid:
        raise TradeError(field, f"{plate!r} is not a {country} plate: {check.reason}", 422)
    return plate


def register_vehicle(deps: TradeDeps, company_id: str, data: VehicleIn) -> Vehicle:
    company_of(deps, company_id)
    _plate_in_format("plate_text", data.plate_text, data.country.value)
    vehicle = Vehicle(
        **data.model_dump(),
        vehicle_id=plate_key(data.plate_text),
        company_id=company_id,
        registered_at=deps.clock.now(),
    )
    deps.store.put_vehicle(vehicle)
    return vehicle


def register_driver(deps: TradeDeps, company_id: str, data: DriverIn, driver_id: str | None = None) -> Driver:
    company_of(deps, company_id)
    now = deps.clock.now()
    driver = Driver(
        **data.model_dump(),
        driver_id=driver_id or new_id("DR", now),
        company_id=company_id,
        registered_at=now,
        expires_at=now + deps.driver_retention,
    )
    deps.store.put_driver(driver)
    return driver


def company_driver(store: TradeStore, company_id: str, driver_id: str) -> Driver:
    """The company's driver, or 404 naming ``driver_id`` (another company's is not found either)."""
    driver = store.driver(company_id, driver_id)
    if driver is None:
        raise TradeError("driver_id", f"no driver {driver_id} in your company", 404)
    return driver


def read_driver(deps: TradeDeps, company_id: str, driver_id: str, who: str) -> Driver:
    """A driver's record (personal data): the read is recorded before it is given."""
    driver = company_driver(deps.store, company_id, driver_id)
    deps.store.log_access(f"driver#{company_id}#{driver_id}", who, "read driver", deps.clock.now())
    return driver


# --------------------------------------------------------------------------- declarations


def _gate(deps: TradeDeps, gate_id: str, direction: Direction | None = None) -> GateSpec:
    gate = deps.gates.gates.get(gate_id)
    if gate is None:
        raise TradeError("gate_id", f"unknown gate {gate_id!r} (gates: {', '.join(deps.gates.gate_ids())})", 422)
    if direction is not None and direction not in gate.directions():
        raise TradeError("direction", f"gate {gate_id} has no lane for {direction.value}", 422)
    return gate


def check_declaration(deps: TradeDeps, company_id: str, data: ConsignmentIn) -> Consignment:
    """The declaration as it would be stored, or the TradeError that would refuse it; nothing is stored."""
    company = company_of(deps, company_id)
    _gate(deps, data.gate_id, data.direction)
    if data.driver_id and deps.store.driver(company_id, data.driver_id) is None:
        raise TradeError("driver_id", f"no driver {data.driver_id} in your company; register the driver first", 422)
    now = deps.clock.now()
    fields = data.model_dump(exclude={"consignment_id", "driver_id"})
    try:
        consignment = Consignment(
            **fields,
            consignment_id=data.consignment_id or new_id("C", now),
            trader_id=company_id,
            company_name=company.name,
            driver_ref=data.driver_id,
            declared_at=now,
        )
    except ValidationError as err:
        raise _first_error(err) from err
    return consignment


def declare(deps: TradeDeps, company_id: str, data: ConsignmentIn) -> tuple[Consignment, bool]:
    """Store a declaration for the caller's company: (the consignment, whether it is new)."""
    consignment = check_declaration(deps, company_id, data)
    if deps.store.put_consignment(consignment):
        return consignment, True
    found = deps.store.consignment(consignment.consignment_id)
    if (
        found is not None
        and found[0].trader_id == company_id
        and found[0].model_dump(exclude={"declared_at"}) == consignment.model_dump(exclude={"declared_at"})
    ):
        return found[0], False
    raise TradeError("consignment_id", f"{consignment.consignment_id} is taken; leave it out to get a new id", 409)


def _first_error(err: ValidationError) -> TradeError:
    e = err.errors()[0]
    return TradeError(".".join(str(p) for p in e["loc"]), e["msg"].removeprefix("Value error, "), 422)


def own_consignment(
    deps: TradeDeps, company_id: str, consignment_id: str, field: str = "consignment_id"
) -> tuple[Consignment, str | None]:
    """The company's declaration; another company's is as absent as one that does not exist."""
    found = deps.store.consignment(consignment_id)
    if found is None or found[0].trader_id != company_id:
        raise TradeError(field, f"no consignment {consignment_id} in your company", 404)
    return found


# --------------------------------------------------------------------------- slots


def _slot_window(w: WindowState, default: int) -> SlotWindow:
    ours = default if w.ours is None else w.ours
    return SlotWindow(
        start=w.start,
        end=w.start + WINDOW,
        capacity=w.capacity(default),
        booked=w.booked,
        free=w.free(default),
        our_capacity=ours,
        partner_capacity=w.partner,
    )


def day_slots(deps: TradeDeps, gate_id: str, direction: Direction, day: date) -> list[SlotWindow]:
    """The open windows of a local day at the gate, with their free capacity (those over are left out)."""
    gate = _gate(deps, gate_id, direction)
    now = deps.clock.now()
    if day > (now + HORIZON).date() or day < (now - timedelta(days=1)).date():
        raise TradeError("date", f"slots are shown from today to {HORIZON.days} days ahead", 422)
    first, count = local_day(day, gate.timezone)
    utc_days = {d.date(): d for d in (first, first + WINDOW * (count - 1))}
    stored = [w for d in utc_days.values() for w in deps.store.windows(gate_id, direction.value, d)]
    return [
        _slot_window(w, gate.slot_capacity) for w in windows_from(first, count, stored, now) if gate.is_open(w.start)
    ]


def window_loads(deps: TradeDeps, gate_id: str, direction: Direction, hours: int) -> list[WindowLoad]:
    """The gate's open windows from now to ``hours`` ahead, with their bookings (for :mod:`.waits`)."""
    gate = _gate(deps, gate_id, direction)
    now = deps.clock.now()
    until = now + timedelta(hours=hours)
    today = now.astimezone(ZoneInfo(gate.timezone)).date()
    loads = []
    for day in sorted({today, (until.astimezone(ZoneInfo(gate.timezone))).date()}):
        loads += [WindowLoad(w.start, w.end, w.booked) for w in day_slots(deps, gate_id, direction, day)]
    return [w for w in loads if w.end > now and w.start < until]


def _bookable(deps: TradeDeps, gate: GateSpec, start: datetime) -> datetime:
    start = check_window(start, deps.clock.now())
    if not gate.is_open(start):
        raise TradeError("window_start", f"the gate is closed then (open {gate.opening} {gate.timezone})", 422)
    return start


def _rate_limited(deps: TradeDeps, company_id: str) -> None:
    now = deps.clock.now()
    if not deps.store.take(f"book#{company_id}#{now:%Y%m%d%H%M}", deps.bookings_per_minute, timedelta(minutes=2)):
        raise TradeError(
            "company_id",
            f"more than {deps.bookings_per_minute} booking requests this minute; try again in {60 - now.second} s",
            429,
        )


def _entry(deps: TradeDeps, status: str, detail: str = "") -> TimelineEntry:
    return TimelineEntry(status=status, at=deps.clock.now(), detail=detail)  # type: ignore[arg-type]


def _note(
    deps: TradeDeps,
    booking: Booking,
    kind: str,
    subject: str,
    body: str,
    *,
    event_id: str | None = None,
    at: datetime | None = None,
) -> Notification:
    """What the booking's company is told (``deps.notifier.notify`` it); a notification for an event has the
    event's id, so telling it again (a redelivered event) overwrites the same outbox entry."""
    at = at or deps.clock.now()
    return Notification(
        notification_id=f"N-{event_id}" if event_id else new_id("N", at),
        company_id=booking.trader_id,
        booking_id=booking.booking_id,
        at=at,
        kind=kind,
        subject=subject,
        body=body,
    )


def _when(booking: Booking, gate: GateSpec | None) -> str:
    zone = ZoneInfo(gate.timezone) if gate else None
    return f"{booking.slot_start.astimezone(zone):%Y-%m-%d %H:%M} ({gate.timezone if gate else 'UTC'})"


def book(
    deps: TradeDeps, company_id: str, consignment_id: str, start: datetime, driver_id: str | None = None
) -> Booking:
    """Book a window for a declaration: bound to its vehicle, driver and consignment; counted atomically."""
    _rate_limited(deps, company_id)
    consignment, open_booking = own_consignment(deps, company_id, consignment_id)
    if open_booking:
        raise TradeError(
            "consignment_id",
            f"{consignment_id} is booked already ({open_booking}); reschedule or cancel that booking",
            409,
        )
    gate = _gate(deps, consignment.gate_id)
    start = _bookable(deps, gate, start)
    _one_trip_at_a_time(deps, consignment.plate_text, consignment.gate_id, consignment.direction, start)
    company = company_of(deps, company_id)
    driver_id = driver_id or consignment.driver_ref
    driver = deps.store.driver(company_id, driver_id) if driver_id else None
    if driver_id and driver is None:
        raise TradeError("driver_id", f"no driver {driver_id} in your company", 422)
    now = deps.clock.now()
    booking = Booking(
        booking_id=new_id("BK", now),
        trader_id=company_id,
        gate_id=consignment.gate_id,
        direction=consignment.direction,
        plate_text=consignment.plate_text,
        country=consignment.country,
        consignment_id=consignment.consignment_id,
        driver_id=driver_id,
        trailer_plate=consignment.trailer_plate,
        container_no=consignment.container_nos[0] if consignment.container_nos else None,
        driver_name=driver.full_name if driver else None,
        slot_start=start,
        slot_end=start + WINDOW,
        created_at=now,
    )
    limit = open_booking_limit(company.booking_limit, company.recent_no_shows)
    told = _note(  # written with the booking, in its transaction: booked and told, or neither
        deps,
        booking,
        "booked",
        f"Booked {booking.plate_text} at {gate.name}",
        f"Booking {booking.booking_id}: {_when(booking, gate)}, {booking.direction.value}.",
    )
    try:
        deps.store.book(booking, consignment, gate.slot_capacity, limit, _entry(deps, "booked"), told)
    except Refused as err:
        raise _refusal(err.reason, booking, company, limit) from err
    return booking


def _refusal(reason: str, booking: Booking, company: Company, limit: int) -> TradeError:
    if reason == "window_full":
        return TradeError("window_start", f"the window {booking.slot_start:%Y-%m-%d %H:%M}Z is full; pick another", 409)
    if reason == "company_limit":
        less = f" (less 2 for each of {company.recent_no_shows} no-shows in 30 days)" if company.recent_no_shows else ""
        return TradeError(
            "company_id",
            f"your company holds {limit} open bookings, its limit{less}; cancel one or wait until a truck has crossed",
            409,
        )
    if reason == "consignment_taken":
        return TradeError("consignment_id", f"{booking.consignment_id} was booked meanwhile", 409)
    return TradeError("booking", f"the booking could not be stored ({reason}); try again", 409)


def own_booking(deps: TradeDeps, company_id: str | None, booking_id: str) -> tuple[Booking, Consignment | None]:
    """The booking, if the caller's company holds it (``None``: a gate role, who may see all)."""
    found = deps.store.booked(booking_id)
    if found is None or (company_id is not None and found[0].trader_id != company_id):
        raise TradeError("booking_id", f"no booking {booking_id} in your company", 404)
    return found


def _live(booking: Booking) -> None:
    if booking.status != BookingStatus.BOOKED:
        raise TradeError("booking_id", f"booking {booking.booking_id} is {booking.status.value}, not BOOKED", 409)


def cancel(deps: TradeDeps, company_id: str, booking_id: str) -> Booking:
    booking, consignment = own_booking(deps, company_id, booking_id)
    if booking.status == BookingStatus.CANCELLED:
        return booking  # cancelling again changes nothing
    _live(booking)
    try:
        ended = deps.store.end(booking, BookingStatus.CANCELLED, consignment, _entry(deps, "cancelled"))
    except Refused as err:
        raise TradeError("booking_id", f"booking {booking_id} changed meanwhile; read it again", 409) from err
    deps.notifier.notify(
        _note(deps, ended, "cancelled", f"Cancelled booking {booking_id}", f"{booking.plate_text}: the slot is freed.")
    )
    return ended


def _one_trip_at_a_time(
    deps: TradeDeps, plate: str, gate_id: str, direction: Direction, start: datetime, moving: str | None = None
) -> None:
    """Refuse a booking of a vehicle that holds another one for the same gate and direction nearby in time."""
    for other in deps.store.open_bookings_of_vehicle(plate, gate_id):
        if other.booking_id != moving and other.direction == direction and abs(other.slot_start - start) < VEHICLE_GAP:
            raise TradeError(
                "window_start",
                f"{plate} is booked for {other.slot_start:%Y-%m-%d %H:%M}Z already ({other.booking_id}); "
                f"one vehicle's bookings are at least {VEHICLE_GAP.seconds // 3600} hours apart: "
                "reschedule that booking instead",
                409,
            )


def reschedule(deps: TradeDeps, company_id: str, booking_id: str, start: datetime) -> Booking:
    _rate_limited(deps, company_id)
    booking, consignment = own_booking(deps, company_id, booking_id)
    _live(booking)
    gate = _gate(deps, booking.gate_id)
    start = _bookable(deps, gate, start)
    if start == booking.slot_start:
        return booking
    _one_trip_at_a_time(deps, booking.plate_text, booking.gate_id, booking.direction, start, booking.booking_id)
    try:
        moved = deps.store.move(
            booking,
            start,
            gate.slot_capacity,
            consignment,
            _entry(deps, "rescheduled", f"{booking.slot_start:%H:%M}Z -> {start:%H:%M}Z"),
        )
    except Refused as err:
        if err.reason == "window_full":
            raise TradeError("window_start", f"the window {start:%Y-%m-%d %H:%M}Z is full; pick another", 409) from err
        raise TradeError("booking_id", f"booking {booking_id} changed meanwhile; read it again", 409) from err
    deps.notifier.notify(
        _note(deps, moved, "rescheduled", f"Rescheduled booking {booking_id}", f"New slot: {_when(moved, gate)}.")
    )
    return moved


# --------------------------------------------------------------------------- capacity (operators)


def set_capacity(
    deps: TradeDeps, gate_id: str, direction: Direction, changes: list[tuple[datetime, int | None, int | None]]
) -> tuple[list[SlotWindow], list[MoveOut]]:
    """Set windows' capacity (ours, the partner's); bookings beyond a lowered one move to the next free
    windows in booking order, and their traders are told. Returns the windows and the moves."""
    gate = _gate(deps, gate_id, direction)
    now = deps.clock.now()
    windows, moved = [], []
    for start, ours, partner in changes:
        start = check_window(start, now)
        state = deps.store.set_capacity(gate_id, direction.value, start, gate.slot_capacity, ours, partner)
        capacity = state.capacity(gate.slot_capacity)
        if state.booked > capacity:
            moved += _move_out(deps, gate, gate_id, direction, start, capacity)
            state = deps.store.window(gate_id, direction.value, start)
        windows.append(_slot_window(state, gate.slot_capacity))
    return windows, moved


def _following(
    deps: TradeDeps, gate: GateSpec, gate_id: str, direction: Direction, start: datetime
) -> list[WindowState]:
    """The open windows after ``start``, over the next two days (stored counts as they are)."""
    first = start + WINDOW
    stored = [
        w
        for d in (first, first + timedelta(days=1), first + timedelta(days=2))
        for w in deps.store.windows(gate_id, direction.value, d)
    ]
    return [
        w
        for w in windows_from(first, int(timedelta(days=2) / WINDOW), stored, deps.clock.now())
        if gate.is_open(w.start) and w.start <= deps.clock.now() + HORIZON
    ]


def _move_out(
    deps: TradeDeps, gate: GateSpec, gate_id: str, direction: Direction, start: datetime, capacity: int
) -> list[MoveOut]:
    bookings = deps.store.bookings_in_window(gate_id, direction.value, start)
    plan = moves_after_drop(
        start,
        [b.booking_id for b in bookings],
        capacity,
        _following(deps, gate, gate_id, direction, start),
        gate.slot_capacity,
    )
    by_id = {b.booking_id: b for b in bookings}
    out = []
    for move in plan:
        booking = by_id[move.booking_id]
        found = deps.store.booked(booking.booking_id)
        consignment = found[1] if found else None
        target = _place(deps, gate, booking, consignment, move.to_start)
        out.append(MoveOut(booking_id=booking.booking_id, from_start=start, to_start=target))
    return out


def _place(
    deps: TradeDeps, gate: GateSpec, booking: Booking, consignment: Consignment | None, to_start: datetime | None
) -> datetime | None:
    """Move a booking to ``to_start`` (or a later window, if that one filled meanwhile); cancel it when
    no window has room."""
    following = _following(deps, gate, booking.gate_id, booking.direction, booking.slot_start)
    candidates = [to_start] if to_start else []
    candidates += [w.start for w in following if w.free(gate.slot_capacity) > 0 and w.start != to_start][:8]
    for target in candidates:
        detail = f"capacity dropped: {booking.slot_start:%H:%M}Z -> {target:%H:%M}Z"
        try:
            moved = deps.store.move(booking, target, gate.slot_capacity, consignment, _entry(deps, "moved", detail))
        except Refused as err:
            if err.reason == "window_full":
                continue
            return None  # changed meanwhile (cancelled by its trader): nothing to move
        deps.notifier.notify(
            _note(
                deps,
                moved,
                "moved",
                f"Your slot moved: booking {booking.booking_id}",
                f"The gate's capacity dropped; new slot {_when(moved, gate)}.",
            )
        )
        return target
    try:
        ended = deps.store.end(
            booking,
            BookingStatus.CANCELLED,
            consignment,
            _entry(deps, "cancelled", "capacity dropped and no window had room"),
        )
    except Refused:
        return None
    deps.notifier.notify(
        _note(
            deps,
            ended,
            "cancelled",
            f"Booking {booking.booking_id} cancelled by the gate",
            "The gate's capacity dropped and no window in the next two days had room; please book again.",
        )
    )
    return None


# --------------------------------------------------------------------------- the pass


def issue_pass(deps: TradeDeps, booking: Booking) -> tuple[str, datetime, datetime]:
    """(token, valid from, valid to) for a booked vehicle: its slot with the grace either side."""
    if booking.status not in (BookingStatus.BOOKED, BookingStatus.ARRIVED):
        raise TradeError("booking_id", f"booking {booking.booking_id} is {booking.status.value}; it has no pass", 409)
    if deps.passes is None:
        raise RuntimeError("this function has no pass signing key (PASS_SIGNING_SECRET or PASS_SIGNING_KEY)")
    nbf, exp = validity(booking.slot_start, booking.slot_end, deps.pass_grace)
    claims = PassClaims(
        booking_id=booking.booking_id,
        plate_key=plate_key(booking.plate_text),
        gate_id=booking.gate_id,
        direction=booking.direction,
        not_before=nbf,
        not_after=exp,
    )
    token = deps.passes.issue(claims)
    return (
        token,
        datetime.fromtimestamp(nbf // 60 * 60, booking.slot_start.tzinfo),
        datetime.fromtimestamp(exp // 60 * 60, booking.slot_start.tzinfo),
    )


# --------------------------------------------------------------------------- following the truck

_SHOWN = {
    PassageStatus.OPEN: "arrived",
    PassageStatus.HELD: "held",
    PassageStatus.IN_INSPECTION: "in_inspection",
    PassageStatus.SAMPLED: "sampled",
    PassageStatus.RELEASED: "cleared",
    PassageStatus.REFUSED: "refused",
    PassageStatus.DEPARTED: "crossed",
}
_BOOKING_STATUS = {
    "arrived": BookingStatus.ARRIVED,
    "cleared": BookingStatus.CLEARED,
    "refused": BookingStatus.REFUSED,
    "crossed": BookingStatus.CROSSED,
}
_RANK = {
    BookingStatus.BOOKED: 0,
    BookingStatus.ARRIVED: 1,
    BookingStatus.CLEARED: 2,
    BookingStatus.REFUSED: 2,
    BookingStatus.CROSSED: 3,
}
_TOLD = {
    "arrived": "arrived at the gate",
    "held": "held for a document check",
    "in_inspection": "sent to inspection",
    "sampled": "sampled for the lab",
    "cleared": "cleared",
    "refused": "refused entry",
    "crossed": "crossed the border",
}


def passage_changed(deps: TradeDeps, event: PassageStateChanged) -> str | None:
    """A booked vehicle's passage moved on: its booking's timeline, status and trader follow. Returns what
    the timeline shows (None: not a booked vehicle, or nothing a trader follows). At-least-once safe: the
    timeline is keyed by the event, the booking's status only moves on, the trader is told once."""
    if not event.booking_id:
        return None
    shown = _SHOWN.get(event.to_status)
    found = deps.store.booked(event.booking_id)
    if shown is None or found is None:
        return None
    booking, consignment = found
    if event.to_status == PassageStatus.DEPARTED and event.from_status != PassageStatus.RELEASED:
        return None  # turned back, not crossed
    if booking.status == BookingStatus.BOOKED:  # the first sign of the vehicle (it may come decided already)
        deps.store.arrive(
            booking,
            consignment,
            TimelineEntry(status="arrived", at=event.at, detail=f"lane {event.lane_id}"),
            f"{event.passage_id}-arrived",
            _note(
                deps,
                booking,
                "arrived",
                f"{booking.plate_text} {_TOLD['arrived']}",
                f"Booking {booking.booking_id} at {event.gate_id}, lane {event.lane_id}.",
                event_id=f"{event.passage_id}-arrived",
                at=event.at,
            ),
        )
        booking = booking.model_copy(update={"status": BookingStatus.ARRIVED})
        if shown == "arrived":
            return shown
    deps.store.add_timeline(
        booking.booking_id,
        TimelineEntry(
            status=shown,
            at=event.at,  # type: ignore[arg-type]
            detail=event.reason[:300],
        ),
        event.event_id,
    )
    new_status = _BOOKING_STATUS.get(shown)
    if new_status is not None and _RANK[new_status] > _RANK.get(booking.status, 0):
        earlier = [s for s, rank in _RANK.items() if rank < _RANK[new_status]]
        deps.store.set_status(booking, new_status, consignment, earlier)  # events may come out of order: forward
    if new_status is None or new_status != booking.status:
        deps.notifier.notify(
            _note(
                deps,
                booking,
                shown,
                f"{booking.plate_text} {_TOLD[shown]}",
                f"Booking {booking.booking_id} at {event.gate_id}: {_TOLD[shown]}. {event.reason}".strip(),
                event_id=event.event_id,
                at=event.at,
            )
        )
    return shown


def sweep_no_shows(deps: TradeDeps) -> list[str]:
    """Bookings whose window ended more than the grace ago with no vehicle: NO_SHOW, counted against the
    company (fewer open bookings for 30 days), the window freed. Returns their ids."""
    now = deps.clock.now()
    done = []
    for booking in deps.store.due_no_shows(before=now - deps.no_show_grace - WINDOW):
        found = deps.store.booked(booking.booking_id)
        if found is None or found[0].status != BookingStatus.BOOKED or found[0].slot_end > now - deps.no_show_grace:
            continue
        try:
            deps.store.end(found[0], BookingStatus.NO_SHOW, found[1], _entry(deps, "no_show"))
        except Refused:
            continue  # arrived or cancelled meanwhile
        window = _when(found[0], deps.gates.gates.get(booking.gate_id))
        deps.notifier.notify(
            _note(
                deps,
                found[0],
                "no_show",
                f"No-show: booking {booking.booking_id}",
                f"{booking.plate_text} did not come in its window {window}; a no-show lowers your company's "
                f"open-booking limit for 30 days.",
            )
        )
        done.append(booking.booking_id)
    return done
