"""DynamoDB adapters (pynamodb). Items keep key attributes for queries and the whole contract as JSON.

Table names come from settings; the endpoint from the standard AWS_ENDPOINT_URL, so the same code
runs against AWS and against the local emulator. Every request is counted per thread
(:func:`requests_made`), so a function can report how many round trips a crossing cost.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import BooleanAttribute, NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.connection import Connection
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model
from pynamodb.transactions import TransactWrite

from smartgate.domain.clearance import BookedVehicle
from smartgate.domain.correlation import LaneTrack
from smartgate.domain.matching import fold_plate
from smartgate.domain.plates import plate_key
from smartgate.ports import Conflict, DetectionRecord, DuplicateDetection, LaneCommit
from smartgate.schemas import (
    AuditEntry,
    Booking,
    Consignment,
    Passage,
    PassageStatus,
    utc_now,
)

# --------------------------------------------------------------------------- request counting

_counter = threading.local()


def requests_made() -> int:
    """DynamoDB requests this thread has sent (all tables, retries included)."""
    return int(getattr(_counter, "n", 0))


def _count(**_: Any) -> None:
    _counter.n = requests_made() + 1


def _metered(connection: Any) -> None:
    """Count every request a pynamodb connection sends (hooked once per botocore client)."""
    client = connection.client
    if not getattr(client, "_smartgate_metered", False):
        client.meta.events.register("before-send.dynamodb", _count)
        client._smartgate_metered = True


def _conditional_failed(err: PutError | UpdateError) -> bool:
    return err.cause_response_code == "ConditionalCheckFailedException"


def _cancelled(err: TransactWriteError) -> tuple[bool, bool]:
    """(the first item's condition failed, another item's condition failed or a transaction conflicted)."""
    codes = [getattr(r, "code", None) for r in (err.cancellation_reasons or [])]
    first = bool(codes) and codes[0] == "ConditionalCheckFailed"
    other = (
        "ConditionalCheckFailed" in codes[1:]
        or "TransactionConflict" in codes
        or err.cause_response_code == "TransactionConflictException"
    )
    return first, other


def passage_from_image(image: dict[str, Any] | None) -> Passage | None:
    """The passage in a stream record's image (as the powertools data class gives it), if any."""
    return Passage.model_validate_json(image["body"]) if image and "body" in image else None


def passage_change(record: Any) -> tuple[Passage | None, Passage | None]:
    """(old, new) passage of a passages-stream record (a powertools ``DynamoDBRecord``)."""
    images = record.dynamodb
    if images is None:
        return None, None
    return passage_from_image(images.old_image), passage_from_image(images.new_image)


def _meta(table_name: str, region: str) -> type:
    return type("Meta", (), {"table_name": table_name, "region": region})


def _bind(base: type[Model], table_name: str, region: str, **indexes: type[GlobalSecondaryIndex[Any]]) -> Any:
    """A subclass of the item model bound to one table (names differ per stack and stage)."""
    attrs: dict[str, Any] = {"Meta": _meta(table_name, region)}
    for name, index in indexes.items():
        index_meta = type("Meta", (), {"index_name": index.Meta.index_name, "projection": AllProjection()})
        attrs[name] = type(index.__name__, (index,), {"Meta": index_meta})()
    model = type(f"{base.__name__}_{table_name}", (base,), attrs)
    return model


class _Table:
    """Shared by the adapters: the bound model, counted requests, personal-data expiry."""

    model: Any

    def __init__(self, model: Any, ttl: timedelta) -> None:
        self.model = model
        self.ttl = ttl
        self._metered = False

    def meter(self) -> None:
        if not self._metered:
            _metered(self.model._get_connection().connection)
            self._metered = True


# --------------------------------------------------------------------------- bookings and consignments


class _BookingItem(Model):
    class PlateIndex(GlobalSecondaryIndex["_BookingItem"]):
        class Meta:
            index_name = "by_plate"
            projection = AllProjection()

        plate_fold = UnicodeAttribute(hash_key=True)
        gate_id = UnicodeAttribute(range_key=True)

    booking_id = UnicodeAttribute(hash_key=True)
    plate_fold = UnicodeAttribute()
    plate_key = UnicodeAttribute()
    gate_id = UnicodeAttribute()
    status = UnicodeAttribute()
    slot_start = UnicodeAttribute()
    body = UnicodeAttribute()
    consignment = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


class DynamoBookings(_Table):
    """Bookings, each with a copy of the declaration it carries, found by the folded plate in one query."""

    def __init__(self, table_name: str, region: str, personal_data_ttl: timedelta = timedelta(days=90)) -> None:
        super().__init__(_bind(_BookingItem, table_name, region, by_plate=_BookingItem.PlateIndex), personal_data_ttl)

    @staticmethod
    def _booked(row: Any) -> BookedVehicle:
        consignment = Consignment.model_validate_json(row.consignment) if row.consignment else None
        return BookedVehicle(Booking.model_validate_json(row.body), consignment)

    def booked(self, booking_id: str) -> BookedVehicle | None:
        self.meter()
        try:
            return self._booked(self.model.get(booking_id))
        except self.model.DoesNotExist:
            return None

    def get(self, booking_id: str) -> Booking | None:
        booked = self.booked(booking_id)
        return booked.booking if booked else None

    def candidates(self, gate_id: str, plate_fold: str) -> list[BookedVehicle]:
        self.meter()
        rows = self.model.by_plate.query(plate_fold, self.model.gate_id == gate_id)
        return sorted((self._booked(row) for row in rows), key=lambda b: b.booking.booking_id)

    def put(self, booking: Booking, consignment: Consignment | None = None) -> None:
        self.meter()
        self.model(
            booking.booking_id,
            plate_fold=fold_plate(booking.plate_text),
            plate_key=plate_key(booking.plate_text),
            gate_id=booking.gate_id,
            status=booking.status.value,
            slot_start=booking.slot_start.isoformat(),
            body=booking.model_dump_json(),
            consignment=consignment.model_dump_json() if consignment else None,
            expires_at=booking.slot_end + self.ttl,
        ).save()


class _ConsignmentItem(Model):
    consignment_id = UnicodeAttribute(hash_key=True)
    trader_id = UnicodeAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class DynamoConsignments(_Table):
    def __init__(self, table_name: str, region: str, personal_data_ttl: timedelta = timedelta(days=90)) -> None:
        super().__init__(_bind(_ConsignmentItem, table_name, region), personal_data_ttl)

    def get(self, consignment_id: str) -> Consignment | None:
        self.meter()
        try:
            return Consignment.model_validate_json(self.model.get(consignment_id).body)
        except self.model.DoesNotExist:
            return None

    def put(self, consignment: Consignment) -> None:
        self.meter()
        self.model(
            consignment.consignment_id,
            trader_id=consignment.trader_id,
            body=consignment.model_dump_json(),
            expires_at=consignment.declared_at + self.ttl,
        ).save()


# --------------------------------------------------------------------------- passages, lanes, detections


class _PassageItem(Model):
    class GateStatusIndex(GlobalSecondaryIndex["_PassageItem"]):
        class Meta:
            index_name = "by_gate_status"
            projection = AllProjection()

        gate_status = UnicodeAttribute(hash_key=True)
        opened_at = UnicodeAttribute(range_key=True)

    passage_id = UnicodeAttribute(hash_key=True)
    gate_status = UnicodeAttribute()
    opened_at = UnicodeAttribute()
    version = NumberAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _LaneItem(Model):
    lane_key = UnicodeAttribute(hash_key=True)
    version = NumberAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _DetectionItem(Model):
    event_id = UnicodeAttribute(hash_key=True)
    passage_id = UnicodeAttribute()
    gate_id = UnicodeAttribute()
    lane_id = UnicodeAttribute()
    schema = UnicodeAttribute()
    body = UnicodeAttribute()
    handled = BooleanAttribute(default=False)
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


def _gate_status(gate_id: str, status: PassageStatus) -> str:
    return f"{gate_id}#{status.value}"


def _lane_key(gate_id: str, lane_id: str) -> str:
    return f"{gate_id}#{lane_id}"


class DynamoPassageStore:
    """Passages, the lanes' memory of them and the detections, written together in one transaction."""

    LANE_MEMORY = timedelta(days=1)

    def __init__(
        self,
        passages_table: str,
        lanes_table: str,
        detections_table: str,
        region: str,
        personal_data_ttl: timedelta = timedelta(days=90),
    ) -> None:
        self.passages = _Table(
            _bind(_PassageItem, passages_table, region, by_gate_status=_PassageItem.GateStatusIndex), personal_data_ttl
        )
        self.lanes = _Table(_bind(_LaneItem, lanes_table, region), personal_data_ttl)
        self.detections = _Table(_bind(_DetectionItem, detections_table, region), personal_data_ttl)
        self.region = region
        self.ttl = personal_data_ttl
        self._connection: Connection | None = None

    def _tx_connection(self) -> Connection:
        if self._connection is None:
            self._connection = Connection(region=self.region)
            _metered(self._connection)
        return self._connection

    def _meter(self) -> None:
        for table in (self.passages, self.lanes, self.detections):
            table.meter()

    # ---- reads

    def lane(self, gate_id: str, lane_id: str) -> LaneTrack:
        self._meter()
        try:
            row = self.lanes.model.get(_lane_key(gate_id, lane_id), consistent_read=True)
        except self.lanes.model.DoesNotExist:
            return LaneTrack(gate_id=gate_id, lane_id=lane_id)
        return LaneTrack.model_validate_json(row.body).model_copy(update={"version": int(row.version)})

    def get(self, passage_id: str) -> Passage | None:
        self._meter()
        try:
            return Passage.model_validate_json(self.passages.model.get(passage_id, consistent_read=True).body)
        except self.passages.model.DoesNotExist:
            return None

    def lanes_of(self, gate_id: str, lane_ids: Sequence[str]) -> dict[str, LaneTrack]:
        """Many lanes' memory in batched reads (the console's live view); lanes never seen are left out."""
        self._meter()
        keys = {_lane_key(gate_id, lane_id): lane_id for lane_id in lane_ids}
        return {
            keys[row.lane_key]: LaneTrack.model_validate_json(row.body).model_copy(update={"version": int(row.version)})
            for row in self.lanes.model.batch_get(list(keys))
        }

    def many(self, passage_ids: Sequence[str]) -> dict[str, Passage]:
        self._meter()
        rows = self.passages.model.batch_get(sorted(set(passage_ids)))
        return {p.passage_id: p for p in (Passage.model_validate_json(row.body) for row in rows)}

    def detection(self, event_id: str) -> DetectionRecord | None:
        self._meter()
        try:
            row = self.detections.model.get(event_id, consistent_read=True)
        except self.detections.model.DoesNotExist:
            return None
        return DetectionRecord(row.event_id, row.passage_id, bool(row.handled))

    def in_status(self, gate_id: str, statuses: Sequence[PassageStatus]) -> list[Passage]:
        self._meter()
        found = []
        for status in statuses:
            for row in self.passages.model.by_gate_status.query(_gate_status(gate_id, status)):
                found.append(Passage.model_validate_json(row.body))
        return sorted(found, key=lambda p: (p.opened_at, p.passage_id))

    # ---- writes

    def _passage_row(self, passage: Passage) -> Any:
        return self.passages.model(
            passage.passage_id,
            gate_status=_gate_status(passage.gate_id, passage.status),
            opened_at=passage.opened_at.isoformat(),
            version=passage.version,
            body=passage.model_dump_json(),
            expires_at=passage.opened_at + self.ttl,
        )

    def commit(self, change: LaneCommit) -> None:
        self._meter()
        d, p, track = change.detection, change.passage, change.track
        now = utc_now()
        detection = self.detections.model(
            d.event_id,
            passage_id=p.passage_id,
            gate_id=d.gate_id,
            lane_id=d.lane_id,
            schema=d.schema_version,
            body=d.model_dump_json(),
            handled=False,
            received_at=now.isoformat(),
            expires_at=now + self.ttl,
        )
        lane = self.lanes.model(
            _lane_key(track.gate_id, track.lane_id),
            version=track.version,
            body=track.model_dump_json(),
            expires_at=now + self.LANE_MEMORY,
        )
        passages, lanes = self.passages.model, self.lanes.model
        passage_condition = (
            passages.passage_id.does_not_exist()
            if change.expected_passage_version is None
            else passages.version == change.expected_passage_version
        )
        lane_condition = (
            lanes.lane_key.does_not_exist()
            if change.expected_track_version == 0
            else lanes.version == change.expected_track_version
        )
        try:
            with TransactWrite(connection=self._tx_connection()) as tx:
                tx.save(detection, condition=self.detections.model.event_id.does_not_exist())
                tx.save(self._passage_row(p), condition=passage_condition)
                tx.save(lane, condition=lane_condition)
        except TransactWriteError as err:
            duplicate, moved = _cancelled(err)
            if duplicate:
                raise DuplicateDetection(d.event_id) from err
            if moved:
                raise Conflict(f"passage {p.passage_id} or lane {track.lane_id} changed meanwhile") from err
            raise

    def save(self, passage: Passage, expected_version: int) -> None:
        self._meter()
        if passage.version != expected_version + 1:
            raise ValueError(f"version: a save of version {expected_version} writes {expected_version + 1}")
        try:
            self._passage_row(passage).save(condition=self.passages.model.version == expected_version)
        except PutError as err:
            if _conditional_failed(err):
                raise Conflict(f"passage {passage.passage_id} is not at version {expected_version}") from err
            raise

    def mark_handled(self, event_id: str) -> None:
        self._meter()
        try:
            self.detections.model(event_id).update(
                actions=[self.detections.model.handled.set(True)], condition=self.detections.model.event_id.exists()
            )
        except UpdateError as err:
            if not _conditional_failed(err):
                raise


# --------------------------------------------------------------------------- audit


class _AuditItem(Model):
    class PassageIndex(GlobalSecondaryIndex["_AuditItem"]):
        class Meta:
            index_name = "by_passage"
            projection = AllProjection()

        passage_id = UnicodeAttribute(hash_key=True)
        seq = NumberAttribute(range_key=True)

    gate_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    passage_id = UnicodeAttribute(null=True)
    entry_id = UnicodeAttribute(null=True)
    body = UnicodeAttribute(null=True)
    expires_at = TTLAttribute(null=True)


_ID_MARK = "entry#"


class DynamoAudit(_Table):
    """One partition per gate, ``seq`` ascending; an entry id marker makes an append happen once."""

    def __init__(self, table_name: str, region: str, retention: timedelta = timedelta(days=365 * 5)) -> None:
        super().__init__(_bind(_AuditItem, table_name, region, by_passage=_AuditItem.PassageIndex), retention)
        self.region = region
        self._connection: Connection | None = None
        self._heads: dict[str, AuditEntry | None] = {}

    def last(self, gate_id: str, fresh: bool = False) -> AuditEntry | None:
        """The gate's newest entry: the one this process appended last, unless ``fresh`` (or none known)."""
        if not fresh and gate_id in self._heads:
            return self._heads[gate_id]
        self.meter()
        head = None
        for row in self.model.query(gate_id, scan_index_forward=False, limit=1, consistent_read=True):
            head = AuditEntry.model_validate_json(row.body)
        self._heads[gate_id] = head
        return head

    def append(self, entry: AuditEntry) -> bool:
        self.meter()
        if self._connection is None:
            self._connection = Connection(region=self.region)
            _metered(self._connection)
        expires = entry.at + self.ttl
        row = self.model(
            entry.gate_id,
            entry.seq,
            passage_id=entry.passage_id,
            entry_id=entry.entry_id,
            body=entry.model_dump_json(),
            expires_at=expires,
        )
        mark = self.model(f"{_ID_MARK}{entry.entry_id}", 0, expires_at=expires)
        try:
            with TransactWrite(connection=self._connection) as tx:
                tx.save(mark, condition=self.model.gate_id.does_not_exist())
                tx.save(row, condition=self.model.gate_id.does_not_exist())
        except TransactWriteError as err:
            recorded, taken = _cancelled(err)
            if recorded:
                return False
            if taken:
                self._heads.pop(entry.gate_id, None)  # another writer appended: read the head again
                raise Conflict(f"audit seq {entry.seq} of gate {entry.gate_id} is taken") from err
            raise
        self._heads[entry.gate_id] = entry
        return True

    def entries(self, gate_id: str) -> list[AuditEntry]:
        self.meter()
        return [AuditEntry.model_validate_json(row.body) for row in self.model.query(gate_id, consistent_read=True)]

    def for_passage(self, passage_id: str) -> list[AuditEntry]:
        self.meter()
        return [AuditEntry.model_validate_json(row.body) for row in self.model.by_passage.query(passage_id)]

    def gates(self) -> list[str]:
        """Every gate with a chain (a scan: for the CLI, not for functions)."""
        self.meter()
        return sorted(
            {
                row.gate_id
                for row in self.model.scan(attributes_to_get=["gate_id"])
                if not row.gate_id.startswith(_ID_MARK)
            }
        )


# --------------------------------------------------------------------------- rule sets


class _RuleSetItem(Model):
    id = UnicodeAttribute(hash_key=True)  # "active" | "archive"
    sk = UnicodeAttribute(range_key=True)  # rule set id (active) | digest (archive)
    value = UnicodeAttribute()
    version = UnicodeAttribute(null=True)
    at = UnicodeAttribute(null=True)


ACTIVE, ARCHIVE = "active", "archive"


class DynamoRuleSetArchive(_Table):
    """Every rule set ever in force, by digest (for replay); and the deployed overrides (``active``)."""

    def __init__(self, table_name: str, region: str) -> None:
        super().__init__(_bind(_RuleSetItem, table_name, region), timedelta(0))

    def archive(self, digest: str, text: str, version: str, at: datetime | None = None) -> None:
        self.meter()
        row = self.model(ARCHIVE, digest, value=text, version=version, at=(at or utc_now()).isoformat())
        try:
            row.save(condition=self.model.sk.does_not_exist())
        except PutError as err:
            if not _conditional_failed(err):
                raise

    def archived(self, digest: str) -> str | None:
        self.meter()
        try:
            return str(self.model.get(ARCHIVE, digest).value)
        except self.model.DoesNotExist:
            return None

    def activate(self, rule_set_id: str, text: str, version: str) -> None:
        self.meter()
        self.model(ACTIVE, rule_set_id, value=text, version=version, at=utc_now().isoformat()).save()

    def deactivate(self, rule_set_id: str) -> None:
        self.meter()
        self.model(ACTIVE, rule_set_id).delete()

    def active(self) -> dict[str, str]:
        self.meter()
        return {row.sk: row.value for row in self.model.query(ACTIVE, consistent_read=True)}
