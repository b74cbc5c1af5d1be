"""DynamoDB adapters (pynamodb). Items keep key attributes for queries and the whole contract as JSON.

Table names come from settings; the endpoint from the standard AWS_ENDPOINT_URL, so the same code
runs against AWS and against the local emulator.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.attributes import BooleanAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from smartgate.domain.plates import plate_key
from smartgate.ports import AnyDetection
from smartgate.schemas import DETECTION_ADAPTER, Booking, BookingStatus, Passage, utc_now


def _conditional_failed(err: PutError) -> bool:
    return err.cause_response_code == "ConditionalCheckFailedException"


def _meta(table_name: str, region: str) -> type:
    return type("Meta", (), {"table_name": table_name, "region": region})


class _BookingItem(Model):
    class PlateIndex(GlobalSecondaryIndex["_BookingItem"]):
        class Meta:
            index_name = "by_plate"
            projection = AllProjection()

        plate_key = UnicodeAttribute(hash_key=True)
        gate_id = UnicodeAttribute(range_key=True)

    booking_id = UnicodeAttribute(hash_key=True)
    plate_key = UnicodeAttribute()
    gate_id = UnicodeAttribute()
    status = UnicodeAttribute()
    slot_start = UnicodeAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)
    by_plate = PlateIndex()


class _PassageItem(Model):
    passage_id = UnicodeAttribute(hash_key=True)
    gate_id = UnicodeAttribute()
    lane_id = UnicodeAttribute()
    status = UnicodeAttribute()
    channel = UnicodeAttribute(null=True)
    opened_at = UnicodeAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _DetectionItem(Model):
    event_id = UnicodeAttribute(hash_key=True)
    gate_id = UnicodeAttribute()
    lane_id = UnicodeAttribute()
    schema = UnicodeAttribute()
    body = UnicodeAttribute()
    handled = BooleanAttribute(default=False)
    received_at = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


def _bind(base: type[Model], table_name: str, region: str) -> Any:
    """A subclass of the item model bound to one table (names differ per stack and stage)."""
    attrs: dict[str, Any] = {"Meta": _meta(table_name, region)}
    if base is _BookingItem:
        index_meta = type("Meta", (), {"index_name": "by_plate", "projection": AllProjection()})
        attrs["by_plate"] = type("PlateIndex", (_BookingItem.PlateIndex,), {"Meta": index_meta})()
    return type(f"{base.__name__}_{table_name}", (base,), attrs)


class DynamoBookings:
    def __init__(self, table_name: str, region: str, personal_data_ttl: timedelta = timedelta(days=90)) -> None:
        self.item = _bind(_BookingItem, table_name, region)
        self.ttl = personal_data_ttl

    def get(self, booking_id: str) -> Booking | None:
        try:
            return Booking.model_validate_json(self.item.get(booking_id).body)
        except self.item.DoesNotExist:
            return None

    def find_for_plate(self, gate_id: str, plate_key: str) -> Booking | None:
        live = [Booking.model_validate_json(row.body)
                for row in self.item.by_plate.query(plate_key, self.item.gate_id == gate_id)
                if row.status != BookingStatus.CANCELLED]
        return max(live, key=lambda b: b.slot_start, default=None)

    def put(self, booking: Booking) -> None:
        self.item(
            booking.booking_id,
            plate_key=plate_key(booking.plate_text),
            gate_id=booking.gate_id,
            status=booking.status.value,
            slot_start=booking.slot_start.isoformat(),
            body=booking.model_dump_json(),
            expires_at=booking.slot_end + self.ttl,
        ).save()


class DynamoPassages:
    def __init__(self, table_name: str, region: str, personal_data_ttl: timedelta = timedelta(days=90)) -> None:
        self.item = _bind(_PassageItem, table_name, region)
        self.ttl = personal_data_ttl

    def get(self, passage_id: str) -> Passage | None:
        try:
            return Passage.model_validate_json(self.item.get(passage_id, consistent_read=True).body)
        except self.item.DoesNotExist:
            return None

    def create(self, passage: Passage) -> Passage:
        row = self.item(
            passage.passage_id,
            gate_id=passage.gate_id,
            lane_id=passage.lane_id,
            status=passage.status.value,
            channel=passage.channel.value if passage.channel else None,
            opened_at=passage.opened_at.isoformat(),
            body=passage.model_dump_json(),
            expires_at=passage.opened_at + self.ttl,
        )
        try:
            row.save(condition=self.item.passage_id.does_not_exist())
        except PutError as err:
            if not _conditional_failed(err):
                raise
            stored = self.get(passage.passage_id)
            assert stored is not None
            return stored
        return passage


class DynamoDetections:
    def __init__(self, table_name: str, region: str, personal_data_ttl: timedelta = timedelta(days=90)) -> None:
        self.item = _bind(_DetectionItem, table_name, region)
        self.ttl = personal_data_ttl

    def record(self, detection: AnyDetection) -> bool:
        now = utc_now()
        row = self.item(
            detection.event_id,
            gate_id=detection.gate_id,
            lane_id=detection.lane_id,
            schema=detection.schema_version,
            body=detection.model_dump_json(),
            handled=False,
            received_at=now.isoformat(),
            expires_at=now + self.ttl,
        )
        try:
            row.save(condition=self.item.event_id.does_not_exist())
        except PutError as err:
            if not _conditional_failed(err):
                raise
            return not self.item.get(detection.event_id, consistent_read=True).handled
        return True

    def mark_handled(self, event_id: str) -> None:
        self.item(event_id).update(actions=[self.item.handled.set(True)])

    def get(self, event_id: str) -> AnyDetection | None:
        try:
            return DETECTION_ADAPTER.validate_json(self.item.get(event_id, consistent_read=True).body)
        except self.item.DoesNotExist:
            return None

