"""The partner exchange's storage and transport: every exchanged message handled once (the exchange
table: idempotency, with a lease so that a handler that dies does not lose its message; and our own
record), messages to the partner put on the outbound bus, refused inbound messages into the partner
dead-letter queue with their reason."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum
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
    state = UnicodeAttribute(null=True)  # HANDLING while a handler has it, then DONE_STATE
    lease_until = UnicodeAttribute(null=True)  # ISO: a HANDLING row older than this was abandoned
    expires_at = TTLAttribute(null=True)


HANDLING, DONE_STATE = "handling", "done"
LEASE = timedelta(seconds=60)
"""How long a handler holds a message: longer than the exchange functions' timeout (15 s in template.yaml),
so that only a handler that died gives its message up."""


class Claim(Enum):
    NEW = "new"
    DONE = "done"
    BUSY = "busy"


class InFlight(RuntimeError):
    """Another invocation is handling this message now; failing makes the delivery retry later."""


class DynamoExchange:
    """Every message exchanged with the partner, once per (direction, sender, event id)."""

    def __init__(self, table_name: str, region: str, retention: timedelta) -> None:
        self.table = _Table(_bind(_ExchangeItem, table_name, region), retention)
        self.table.meter()
        self.model = self.table.model

    @staticmethod
    def key(direction: str, message: CrossBorderMessage) -> str:
        return f"{direction}#{message.from_gate}#{message.message_id}"

    def claim(self, direction: str, message: CrossBorderMessage, at: datetime) -> Claim:
        """Take a message to handle once. ``NEW``: it is ours (the first time, or a handler died holding it
        longer than the lease); ``DONE``: handled before (a redelivery: nothing more to do); ``BUSY``: another
        handler has it right now (fail, so that the delivery is retried). Handling must end in ``done``
        (or ``forget`` when it failed), and must be idempotent: a takeover repeats what the dead one did."""
        key = self.key(direction, message)
        row = self.model(
            key,
            direction=direction,
            type=message.type,
            at=at.isoformat(),
            message=message.model_dump_json(by_alias=True),
            state=HANDLING,
            lease_until=(at + LEASE).isoformat(),
            expires_at=at + self.table.ttl,
        )
        abandoned = (self.model.state == HANDLING) & (self.model.lease_until < at.isoformat())
        try:
            row.save(condition=self.model.key.does_not_exist() | abandoned)
        except PutError as err:
            if not _conditional_failed(err):
                raise
            try:
                current = self.model.get(key, consistent_read=True)
            except self.model.DoesNotExist:
                return Claim.BUSY  # forgotten just now by a handler that failed: retry
            return Claim.BUSY if current.state == HANDLING else Claim.DONE
        return Claim.NEW

    def done(self, direction: str, message: CrossBorderMessage) -> None:
        """The message is handled: later deliveries are redeliveries."""
        self.model(self.key(direction, message)).update(
            actions=[self.model.state.set(DONE_STATE), self.model.lease_until.remove()]
        )

    def forget(self, direction: str, message: CrossBorderMessage) -> None:
        """Undo ``claim`` when handling failed, so that a retry handles it."""
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
