"""DynamoDB storage of the trade side: companies, their vehicles and drivers, slot windows, and the booking
transactions that keep every count right under concurrent requests.

Booking is one TransactWriteItems of four items, all conditional: the window (booked < capacity), the
booking (new), the company (open bookings < its limit) and the consignment (its own company's, and not
booked already). Either all four change or none; a cancellation reason says which condition failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pynamodb.attributes import ListAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from smartgate.adapters.dynamodb import _bind, _metered, _Table
from smartgate.adapters.dynamodb import _BookingItem as _LaneBookingItem
from smartgate.domain.matching import fold_plate
from smartgate.domain.plates import plate_key
from smartgate.domain.slots import WINDOW, WindowState
from smartgate.ports import Refused
from smartgate.schemas import Booking, BookingStatus, Consignment, utc_now
from smartgate.schemas.api import TIMELINE_ORDER, Company, Driver, Notification, TimelineEntry, Vehicle


def _day_key(gate_id: str, direction: str, start: datetime) -> str:
    return f"{gate_id}#{direction}#{start.astimezone(UTC):%Y-%m-%d}"


def window_id(gate_id: str, direction: str, start: datetime) -> str:
    return f"{gate_id}#{direction}#{start.astimezone(UTC):%Y-%m-%dT%H:%M}"


class _CompanyItem(Model):
    company_id = UnicodeAttribute(hash_key=True)
    body = UnicodeAttribute()
    open_bookings = NumberAttribute(default=0)
    no_shows = ListAttribute(of=UnicodeAttribute, null=True)  # ISO times; those of the last 30 days count


class _FleetItem(Model):
    company_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # vehicle#<plate key> | driver#<id>
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _SlotItem(Model):
    day_key = UnicodeAttribute(hash_key=True)  # gate#direction#YYYY-MM-DD
    start = UnicodeAttribute(range_key=True)  # HH:MM (UTC)
    ours = NumberAttribute(null=True)
    partner = NumberAttribute(null=True)
    booked = NumberAttribute(null=True)


class _BookingItem(_LaneBookingItem):
    """The bookings table as the trade side writes it: the lane side's item (smartgate.adapters.dynamodb,
    with its plate index) and the attributes and indexes of companies, windows and statuses."""

    class CompanyIndex(GlobalSecondaryIndex["_BookingItem"]):
        class Meta:
            index_name = "by_company"
            projection = AllProjection()

        company_id = UnicodeAttribute(hash_key=True)
        slot_start = UnicodeAttribute(range_key=True)

    class WindowIndex(GlobalSecondaryIndex["_BookingItem"]):
        class Meta:
            index_name = "by_window"
            projection = AllProjection()

        window_id = UnicodeAttribute(hash_key=True)
        created_at = UnicodeAttribute(range_key=True)

    class StatusIndex(GlobalSecondaryIndex["_BookingItem"]):
        class Meta:
            index_name = "by_status"
            projection = AllProjection()

        status = UnicodeAttribute(hash_key=True)
        slot_start = UnicodeAttribute(range_key=True)

    company_id = UnicodeAttribute(null=True)
    window_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)


class _ConsignmentItem(Model):
    class CompanyIndex(GlobalSecondaryIndex["_ConsignmentItem"]):
        class Meta:
            index_name = "by_company"
            projection = AllProjection()

        trader_id = UnicodeAttribute(hash_key=True)
        declared_at = UnicodeAttribute(range_key=True)

    consignment_id = UnicodeAttribute(hash_key=True)
    trader_id = UnicodeAttribute()
    declared_at = UnicodeAttribute(null=True)
    body = UnicodeAttribute()
    open_booking = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class _TimelineItem(Model):
    booking_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # ISO time#event id
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _OutboxItem(Model):
    company_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # ISO time#notification id
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _AccessItem(Model):
    subject = UnicodeAttribute(hash_key=True)  # driver#<company>#<id> | booking#<id>
    sk = UnicodeAttribute(range_key=True)  # ISO time#who
    who = UnicodeAttribute()
    what = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _LimitItem(Model):
    key = UnicodeAttribute(hash_key=True)
    uses = NumberAttribute(default=0)
    expires_at = TTLAttribute(null=True)


@dataclass(frozen=True)
class TradeTables:
    companies: str
    fleet: str
    slots: str
    bookings: str
    consignments: str
    timeline: str
    outbox: str
    limits: str
    access_log: str


class DynamoTrade:
    def __init__(
        self,
        tables: TradeTables,
        region: str,
        personal_data_ttl: timedelta = timedelta(days=90),
        access_retention: timedelta = timedelta(days=1825),
    ) -> None:
        self.ttl = personal_data_ttl
        self.access_retention = access_retention
        self.region = region
        self.companies = self._table(_CompanyItem, tables.companies)
        self.fleet = self._table(_FleetItem, tables.fleet)
        self.slots = self._table(_SlotItem, tables.slots)
        self.bookings = self._table(
            _BookingItem,
            tables.bookings,
            by_plate=_BookingItem.PlateIndex,
            by_company=_BookingItem.CompanyIndex,
            by_window=_BookingItem.WindowIndex,
            by_status=_BookingItem.StatusIndex,
        )
        self.consignments = self._table(_ConsignmentItem, tables.consignments, by_company=_ConsignmentItem.CompanyIndex)
        self.timeline = self._table(_TimelineItem, tables.timeline)
        self.outbox = self._table(_OutboxItem, tables.outbox)
        self.limits = self._table(_LimitItem, tables.limits)
        self.accesses = self._table(_AccessItem, tables.access_log)
        self._connection: Connection | None = None

    def _table(self, base: type[Model], name: str, **indexes: Any) -> Any:
        table = _Table(_bind(base, name, self.region, **indexes), self.ttl)
        table.meter()
        return table.model

    def _tx(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(region=self.region)
            _metered(self._connection)
        return self._connection

    # ---- companies

    def company(self, company_id: str) -> Company | None:
        try:
            row = self.companies.get(company_id, consistent_read=True)
        except self.companies.DoesNotExist:
            return None
        data = Company.model_validate_json(row.body).model_dump()
        return Company.model_validate(
            {
                **data,
                "open_bookings": int(row.open_bookings or 0),
                "recent_no_shows": _recent(row.no_shows or [], utc_now()),
            }
        )

    def put_company(self, company: Company) -> bool:
        """Store a new company; False when the id is taken."""
        try:
            self.companies(company.company_id, body=company.model_dump_json(), open_bookings=0).save(
                condition=self.companies.company_id.does_not_exist()
            )
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ---- fleet

    def put_vehicle(self, vehicle: Vehicle) -> None:
        self.fleet(vehicle.company_id, f"vehicle#{vehicle.vehicle_id}", body=vehicle.model_dump_json()).save()

    def vehicles(self, company_id: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Vehicle], Any]:
        rows = self.fleet.query(
            company_id, self.fleet.sk.startswith("vehicle#"), limit=limit, last_evaluated_key=cursor
        )
        items = [Vehicle.model_validate_json(r.body) for r in rows]
        return items, rows.last_evaluated_key

    def vehicle(self, company_id: str, plate: str) -> Vehicle | None:
        try:
            return Vehicle.model_validate_json(self.fleet.get(company_id, f"vehicle#{plate_key(plate)}").body)
        except self.fleet.DoesNotExist:
            return None

    def put_driver(self, driver: Driver) -> None:
        self.fleet(
            driver.company_id, f"driver#{driver.driver_id}", body=driver.model_dump_json(), expires_at=driver.expires_at
        ).save()

    def driver(self, company_id: str, driver_id: str) -> Driver | None:
        try:
            return Driver.model_validate_json(self.fleet.get(company_id, f"driver#{driver_id}").body)
        except self.fleet.DoesNotExist:
            return None

    def drivers(self, company_id: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Driver], Any]:
        rows = self.fleet.query(company_id, self.fleet.sk.startswith("driver#"), limit=limit, last_evaluated_key=cursor)
        return [Driver.model_validate_json(r.body) for r in rows], rows.last_evaluated_key

    # ---- consignments

    def put_consignment(self, consignment: Consignment) -> bool:
        """Store a new declaration; False when the id is taken."""
        try:
            self.consignments(
                consignment.consignment_id,
                trader_id=consignment.trader_id,
                declared_at=consignment.declared_at.isoformat(),
                body=consignment.model_dump_json(),
                expires_at=consignment.declared_at + self.ttl,
            ).save(condition=self.consignments.consignment_id.does_not_exist())
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def consignment(self, consignment_id: str) -> tuple[Consignment, str | None] | None:
        """The declaration and the booking that holds it (if any)."""
        try:
            row = self.consignments.get(consignment_id, consistent_read=True)
        except self.consignments.DoesNotExist:
            return None
        return Consignment.model_validate_json(row.body), row.open_booking

    def company_consignments(
        self, company_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Consignment], Any]:
        rows = self.consignments.by_company.query(
            company_id, limit=limit, last_evaluated_key=cursor, scan_index_forward=False
        )
        return [Consignment.model_validate_json(r.body) for r in rows], rows.last_evaluated_key

    # ---- slots

    def windows(self, gate_id: str, direction: str, day: datetime) -> list[WindowState]:
        first = day.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        out = []
        for row in self.slots.query(_day_key(gate_id, direction, first), consistent_read=True):
            hh, mm = (int(x) for x in row.start.split(":"))
            out.append(
                WindowState(first.replace(hour=hh, minute=mm), _int(row.ours), _int(row.partner), int(row.booked or 0))
            )
        return out

    def window(self, gate_id: str, direction: str, start: datetime) -> WindowState:
        try:
            row = self.slots.get(_day_key(gate_id, direction, start), f"{start:%H:%M}", consistent_read=True)
        except self.slots.DoesNotExist:
            return WindowState(start)
        return WindowState(start, _int(row.ours), _int(row.partner), int(row.booked or 0))

    def set_capacity(
        self, gate_id: str, direction: str, start: datetime, default: int, ours: int | None, partner: int | None
    ) -> WindowState:
        item = self.slots(_day_key(gate_id, direction, start), f"{start:%H:%M}")
        actions = [self.slots.booked.set(self.slots.booked | 0)]
        actions.append(
            self.slots.ours.set(ours) if ours is not None else self.slots.ours.set(self.slots.ours | default)
        )
        if partner is not None:
            actions.append(self.slots.partner.set(partner))
        item.update(actions=actions)
        return self.window(gate_id, direction, start)

    def bookings_in_window(self, gate_id: str, direction: str, start: datetime) -> list[Booking]:
        rows = self.bookings.by_window.query(window_id(gate_id, direction, start))
        return [Booking.model_validate_json(r.body) for r in rows if r.status == BookingStatus.BOOKED.value]

    def open_bookings_of_vehicle(self, plate_text: str, gate_id: str) -> list[Booking]:
        """The vehicle's open bookings at a gate (one Query of the plate index)."""
        rows = self.bookings.by_plate.query(fold_plate(plate_text), self.bookings.gate_id == gate_id)
        return [Booking.model_validate_json(r.body) for r in rows if r.status == BookingStatus.BOOKED.value]

    # ---- bookings

    def _slot_increment(self, tx: _Tx, booking: Booking, default: int, name: str = "window_full") -> None:
        s = self.slots
        item = s(_day_key(booking.gate_id, booking.direction.value, booking.slot_start), f"{booking.slot_start:%H:%M}")
        tx.update(
            name,
            item,
            actions=[s.booked.set((s.booked | 0) + 1), s.ours.set(s.ours | default)],
            condition=(
                s.booked.does_not_exist()
                | ((s.booked < s.ours) & (s.partner.does_not_exist() | (s.booked < s.partner)))
            ),
        )

    def _slot_decrement(self, tx: _Tx, gate_id: str, direction: str, start: datetime) -> None:
        s = self.slots
        tx.update(
            "window",
            s(_day_key(gate_id, direction, start), f"{start:%H:%M}"),
            actions=[s.booked.set(s.booked - 1)],
            condition=s.booked > 0,
        )

    def _booking_row(self, booking: Booking, consignment: Consignment | None) -> Any:
        return self.bookings(
            booking.booking_id,
            plate_fold=fold_plate(booking.plate_text),
            plate_key=plate_key(booking.plate_text),
            gate_id=booking.gate_id,
            status=booking.status.value,
            slot_start=booking.slot_start.isoformat(),
            company_id=booking.trader_id,
            created_at=booking.created_at.isoformat(),
            window_id=window_id(booking.gate_id, booking.direction.value, booking.slot_start),
            body=booking.model_dump_json(),
            consignment=consignment.model_dump_json() if consignment else None,
            expires_at=booking.slot_end + self.ttl,
        )

    def _timeline_row(self, booking_id: str, entry: TimelineEntry, event_id: str) -> Any:
        return self.timeline(
            booking_id,
            f"{entry.at.isoformat()}#{event_id}",
            body=entry.model_dump_json(),
            expires_at=entry.at + self.ttl,
        )

    def book(
        self,
        booking: Booking,
        consignment: Consignment,
        default_capacity: int,
        company_limit: int,
        entry: TimelineEntry,
        note: Notification,
    ) -> None:
        """Book atomically: window, booking, company count, consignment, the timeline's first entry and
        the trader's notification together (one request), or Refused(reason)."""
        c, k = self.companies, self.consignments
        tx = _Tx(self._tx())
        self._slot_increment(tx, booking, default_capacity)
        tx.save(
            "booking_exists",
            self._booking_row(booking, consignment),
            condition=self.bookings.booking_id.does_not_exist(),
        )
        tx.update(
            "company_limit",
            c(booking.trader_id),
            actions=[c.open_bookings.set((c.open_bookings | 0) + 1)],
            condition=c.company_id.exists() & (c.open_bookings.does_not_exist() | (c.open_bookings < company_limit)),
        )
        tx.update(
            "consignment_taken",
            k(consignment.consignment_id),
            actions=[k.open_booking.set(booking.booking_id)],
            condition=k.consignment_id.exists() & (k.trader_id == booking.trader_id) & k.open_booking.does_not_exist(),
        )
        tx.save("timeline", self._timeline_row(booking.booking_id, entry, "booked"))
        tx.save("outbox", self._outbox_row(note))
        tx.commit()

    def booking(self, booking_id: str) -> Booking | None:
        try:
            return Booking.model_validate_json(self.bookings.get(booking_id, consistent_read=True).body)
        except self.bookings.DoesNotExist:
            return None

    def company_bookings(self, company_id: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Booking], Any]:
        rows = self.bookings.by_company.query(
            company_id, limit=limit, last_evaluated_key=cursor, scan_index_forward=False
        )
        return [Booking.model_validate_json(r.body) for r in rows], rows.last_evaluated_key

    def end(
        self, booking: Booking, status: BookingStatus, consignment: Consignment | None, entry: TimelineEntry
    ) -> Booking:
        """Cancel (or mark as a no-show) a booked slot: the window, the company's count and the consignment
        are freed, a no-show is counted against the company, the timeline says so; all in one request."""
        ended = booking.model_copy(update={"status": status})
        c, k = self.companies, self.consignments
        company_actions = [c.open_bookings.set(c.open_bookings - 1)]
        if status == BookingStatus.NO_SHOW:
            company_actions.append(c.no_shows.set((c.no_shows | []).append([entry.at.isoformat()])))
        tx = _Tx(self._tx())
        tx.save(
            "not_booked", self._booking_row(ended, consignment), condition=self.bookings.status == BookingStatus.BOOKED
        )
        self._slot_decrement(tx, booking.gate_id, booking.direction.value, booking.slot_start)
        tx.update("company", c(booking.trader_id), actions=company_actions, condition=c.open_bookings > 0)
        if booking.consignment_id:
            tx.update(
                "consignment",
                k(booking.consignment_id),
                actions=[k.open_booking.remove()],
                condition=k.open_booking == booking.booking_id,
            )
        tx.save("timeline", self._timeline_row(booking.booking_id, entry, status.value.lower()))
        tx.commit()
        return ended

    def arrive(
        self,
        booking: Booking,
        consignment: Consignment | None,
        entry: TimelineEntry,
        event_id: str,
        note: Notification,
    ) -> bool:
        """The booked vehicle came: the booking is used (ARRIVED), no longer counts as open, its timeline
        says so and its trader is told — all in one transaction, so of two events racing to be the first
        sign of the vehicle exactly one writes them. False when it was not BOOKED (told already, or
        cancelled)."""
        arrived = booking.model_copy(update={"status": BookingStatus.ARRIVED})
        c = self.companies
        tx = _Tx(self._tx())
        tx.save(
            "not_booked",
            self._booking_row(arrived, consignment),
            condition=self.bookings.status == BookingStatus.BOOKED,
        )
        tx.update(
            "company",
            c(booking.trader_id),
            actions=[c.open_bookings.set(c.open_bookings - 1)],
            condition=c.open_bookings > 0,
        )
        tx.save("timeline", self._timeline_row(booking.booking_id, entry, event_id))
        tx.save("outbox", self._outbox_row(note))
        try:
            tx.commit()
        except Refused as err:
            if err.reason == "not_booked":
                return False
            if err.reason != "company":
                raise
            tx = _Tx(self._tx())  # a booking of no registered company (seeded): the same, uncounted
            tx.save(
                "not_booked",
                self._booking_row(arrived, consignment),
                condition=self.bookings.status == BookingStatus.BOOKED,
            )
            tx.save("timeline", self._timeline_row(booking.booking_id, entry, event_id))
            tx.save("outbox", self._outbox_row(note))
            try:
                tx.commit()
            except Refused as again:
                if again.reason == "not_booked":
                    return False
                raise
        return True

    def move(
        self,
        booking: Booking,
        to_start: datetime,
        default_capacity: int,
        consignment: Consignment | None,
        entry: TimelineEntry,
    ) -> Booking:
        """Reschedule atomically: out of the old window, into the new one if it has room."""
        moved = booking.model_copy(update={"slot_start": to_start, "slot_end": to_start + WINDOW})
        tx = _Tx(self._tx())
        tx.save(
            "changed",
            self._booking_row(moved, consignment),
            condition=(self.bookings.status == BookingStatus.BOOKED)
            & (self.bookings.slot_start == booking.slot_start.isoformat()),
        )
        self._slot_decrement(tx, booking.gate_id, booking.direction.value, booking.slot_start)
        self._slot_increment(tx, moved, default_capacity)
        tx.save("timeline", self._timeline_row(booking.booking_id, entry, f"{entry.status}-{to_start:%Y%m%d%H%M}"))
        tx.commit()
        return moved

    def set_status(
        self,
        booking: Booking,
        status: BookingStatus,
        consignment: Consignment | None,
        only_from: Sequence[BookingStatus] = (),
    ) -> bool:
        """Change the booking's status if it is one of ``only_from`` (any, when empty); False when it was not."""
        changed = booking.model_copy(update={"status": status})
        condition = self.bookings.status.is_in(*[s.value for s in only_from]) if only_from else None
        try:
            self._booking_row(changed, consignment).save(condition=condition)
        except PutError as err:
            if err.cause_response_code == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def recognise(self, booking_id: str, inspection: str) -> bool:
        """Mutual recognition: the partner gate inspected this consignment and released it (kept on the
        booking, whose copy the clearance reads). False for no such booking."""
        found = self.booked(booking_id)
        if found is None:
            return False
        booking, consignment = found
        if booking.partner_inspection != inspection:
            self._booking_row(booking.model_copy(update={"partner_inspection": inspection}), consignment).save()
        return True

    def booked(self, booking_id: str) -> tuple[Booking, Consignment | None] | None:
        """The booking with the copy of the declaration it carries."""
        try:
            row = self.bookings.get(booking_id, consistent_read=True)
        except self.bookings.DoesNotExist:
            return None
        return (
            Booking.model_validate_json(row.body),
            Consignment.model_validate_json(row.consignment) if row.consignment else None,
        )

    def due_no_shows(self, before: datetime) -> list[Booking]:
        rows = self.bookings.by_status.query(BookingStatus.BOOKED.value, self.bookings.slot_start < before.isoformat())
        return [Booking.model_validate_json(r.body) for r in rows]

    # ---- timeline, outbox, limits

    def add_timeline(self, booking_id: str, entry: TimelineEntry, event_id: str) -> None:
        """One entry (the same event again writes the same item: at-least-once delivery is harmless)."""
        self._timeline_row(booking_id, entry, event_id).save()

    def timeline_of(self, booking_id: str) -> list[TimelineEntry]:
        """In time order; entries of the same instant in the order a crossing goes (arrived before held)."""
        entries = [TimelineEntry.model_validate_json(r.body) for r in self.timeline.query(booking_id)]
        return sorted(entries, key=lambda e: (e.at, TIMELINE_ORDER.index(e.status)))

    def _outbox_row(self, note: Notification) -> Any:
        return self.outbox(
            note.company_id,
            f"{note.at.isoformat()}#{note.notification_id}",
            body=note.model_dump_json(),
            expires_at=note.at + timedelta(days=30),
        )

    def notify(self, note: Notification) -> None:
        """Into the company's outbox; its stream sends it on (PublishTraderNotificationsFunction)."""
        self._outbox_row(note).save()

    def notifications(
        self, company_id: str, limit: int, cursor: dict[str, Any] | None
    ) -> tuple[list[Notification], Any]:
        rows = self.outbox.query(company_id, limit=limit, last_evaluated_key=cursor, scan_index_forward=False)
        return [Notification.model_validate_json(r.body) for r in rows], rows.last_evaluated_key

    def log_access(self, subject: str, who: str, what: str, at: datetime) -> None:
        """Record a read of personal data (who read which record, when, for what)."""
        self.accesses(
            subject, f"{at.isoformat()}#{who}", who=who, what=what, expires_at=at + self.access_retention
        ).save()

    def accesses_of(self, subject: str) -> list[tuple[str, str, str]]:
        return [(r.sk.split("#", 1)[0], r.who, r.what) for r in self.accesses.query(subject)]

    def take(self, key: str, limit: int, ttl: timedelta) -> bool:
        return take(self.limits, key, limit, ttl)


def take(limits: Any, key: str, limit: int, ttl: timedelta) -> bool:
    """One more use of a rate-limited key; False when ``limit`` uses were made already."""
    try:
        limits(key).update(
            actions=[limits.uses.set((limits.uses | 0) + 1), limits.expires_at.set(utc_now() + ttl)],
            condition=limits.uses.does_not_exist() | (limits.uses < limit),
        )
    except UpdateError as err:
        if err.cause_response_code == "ConditionalCheckFailedException":
            return False
        raise
    return True


class DynamoLimits:
    """Rate-limit counters (the limits table) for code that needs nothing else of the trade side."""

    def __init__(self, table_name: str, region: str) -> None:
        table = _Table(_bind(_LimitItem, table_name, region), timedelta(days=1))
        table.meter()
        self.limits = table.model

    def take(self, key: str, limit: int, ttl: timedelta) -> bool:
        return take(self.limits, key, limit, ttl)


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


class _Tx:
    """A TransactWrite that knows which item is which. pynamodb sends puts before updates, whatever order
    they were added in, and a cancellation lists a reason per item in that order: this names the one
    whose condition failed (``Refused(reason)``)."""

    def __init__(self, connection: Connection) -> None:
        self.tx = TransactWrite(connection=connection)
        self.puts: list[str] = []
        self.updates: list[str] = []

    def save(self, name: str, model: Any, condition: Any = None) -> None:
        self.tx.save(model, condition=condition)
        self.puts.append(name)

    def update(self, name: str, model: Any, actions: list[Any], condition: Any = None) -> None:
        self.tx.update(model, actions=actions, condition=condition)
        self.updates.append(name)

    def commit(self) -> None:
        try:
            with self.tx:
                pass
        except TransactWriteError as err:
            codes = [getattr(r, "code", None) for r in (err.cancellation_reasons or [])]
            failed = [
                n for n, code in zip(self.puts + self.updates, codes, strict=False) if code == "ConditionalCheckFailed"
            ]
            raise Refused(failed[0] if failed else "conflict" if codes else "error") from err


def _recent(times: Sequence[str], now: datetime) -> int:
    """No-shows in the 30 days before ``now``."""
    return sum(1 for t in times if now - datetime.fromisoformat(t) <= timedelta(days=30))


class OutboxNotifier:
    """Traders are told through the company's outbox (the app and the CLI show it); the outbox table's
    stream sends each new entry to the trader topic (``publish_note``), so a notification is sent if and
    only if it was stored, also when it was written in a booking's transaction."""

    def __init__(self, trade: DynamoTrade) -> None:
        self.trade = trade

    def notify(self, note: Notification) -> None:
        self.trade.notify(note)


def outbox_note(new_image: dict[str, Any]) -> Notification:
    """The notification in an outbox stream record's new image (DynamoDB JSON or plain)."""
    body = new_image["body"]
    return Notification.model_validate_json(body["S"] if isinstance(body, dict) else body)


def publish_note(client: Any, topic_arn: str, note: Notification) -> None:
    """To the trader topic, with ``company_id`` and ``kind`` attributes that e-mail and SMS subscriptions
    filter on when deployed."""
    client.publish(
        TopicArn=topic_arn,
        Subject=note.subject[:100],
        Message=note.body,
        MessageAttributes={
            "company_id": {"DataType": "String", "StringValue": note.company_id},
            "kind": {"DataType": "String", "StringValue": note.kind},
        },
    )
