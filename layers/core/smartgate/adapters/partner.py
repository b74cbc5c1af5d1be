"""The partner exchange's storage and transport: every exchanged message kept once (the exchange table:
idempotency and our own archive for replay), messages to the partner put on the outbound bus, refused
inbound messages into the partner dead-letter queue with their reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import boto3
from pynamodb.attributes import TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError
from pynamodb.models import Model

from smartgate.adapters.aws import PublishError
from smartgate.adapters.dynamodb import _bind, _conditional_failed, _Table
from smartgate.partner import put_events_entry
from smartgate.schemas import RejectedMessage
from smartgate.schemas.partner import CrossBorderMessage


class _ExchangeItem(Model):
    key = UnicodeAttribute(hash_key=True)  # in|out # from_gate # event_id
    direction = UnicodeAttribute()
    type = UnicodeAttribute()
    at = UnicodeAttribute()  # when we handled it (ISO), for a replay window
    message = UnicodeAttribute()  # the CrossBorderMessage as exchanged (signed)
    expires_at = TTLAttribute(null=True)


class DynamoExchange:
    """Every message exchanged with the partner, once per (direction, sender, event id)."""

    def __init__(self, table_name: str, region: str, retention: timedelta) -> None:
        self.table = _Table(_bind(_ExchangeItem, table_name, region), retention)
        self.table.meter()
        self.model = self.table.model

    @staticmethod
    def key(direction: str, message: CrossBorderMessage) -> str:
        return f"{direction}#{message.from_gate}#{message.message_id}"

    def keep(self, direction: str, message: CrossBorderMessage, at: datetime) -> bool:
        """True the first time; False for a message kept before (a redelivery: nothing more to do)."""
        row = self.model(
            self.key(direction, message),
            direction=direction,
            type=message.type,
            at=at.isoformat(),
            message=message.model_dump_json(by_alias=True),
            expires_at=at + self.table.ttl,
        )
        try:
            row.save(condition=self.model.key.does_not_exist())
        except PutError as err:
            if _conditional_failed(err):
                return False
            raise
        return True

    def forget(self, direction: str, message: CrossBorderMessage) -> None:
        """Undo ``keep`` when handling failed, so that a retry handles it."""
        self.model(self.key(direction, message)).delete()

    def exchanged(self, direction: str, since: datetime, until: datetime) -> list[CrossBorderMessage]:
        """The messages of one direction handled in [since, until), in the order they were handled."""
        rows = self.model.scan(
            (self.model.direction == direction) & self.model.at.between(since.isoformat(), until.isoformat())
        )
        ordered = sorted(rows, key=lambda r: (r.at, r.key))
        return [CrossBorderMessage.model_validate_json(r.message) for r in ordered]


class PartnerBus:
    """Our signed messages for the partner, on the outbound bus (its rule forwards them to the partner's
    bus or API destination, and the bus archives them)."""

    def __init__(self, bus_name: str, region: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self.client = client or boto3.client("events", region_name=region)

    def send(self, messages: list[CrossBorderMessage]) -> None:
        for start in range(0, len(messages), 10):
            entries = [put_events_entry(m, self.bus_name) for m in messages[start : start + 10]]
            response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise PublishError(f"EventBridge refused {len(failed)} partner message(s): {failed}")


class PartnerDeadLetters:
    """Inbound messages refused (bad signature, unknown version, malformed ...), kept with the reason."""

    def __init__(self, queue_url: str, region: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", region_name=region)

    def put(self, message: RejectedMessage, reason_code: str) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=message.model_dump_json(),
            MessageAttributes={"reason_code": {"DataType": "String", "StringValue": reason_code}},
        )
