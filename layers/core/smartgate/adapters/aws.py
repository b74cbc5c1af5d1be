"""boto3 adapters for messaging: barrier commands (IoT data plane), bus events, rejects, settle timers.

Endpoints come from the standard AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> variables, so the
same code runs against AWS and the local stack.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import boto3

from smartgate.schemas import (
    BarrierCommand,
    Contract,
    FaceReference,
    FaceRevoked,
    RejectedMessage,
    schema_name,
    utc_now,
)
from smartgate.topics import commands_topic, faces_topic, source_for


class PublishError(RuntimeError):
    """A message could not be handed to AWS; raised so that the invocation is retried."""


class _IotPublisher:
    def __init__(self, region: str, endpoint: str | None = None, client: Any = None) -> None:
        if endpoint and not endpoint.startswith(("http://", "https://")):
            endpoint = f"https://{endpoint}"
        self.client = client or boto3.client("iot-data", region_name=region, endpoint_url=endpoint or None)

    def _send(self, topic: str, message: Contract) -> None:
        self.client.publish(topic=topic, qos=1, payload=message.model_dump_json().encode())


class IotCommandPublisher(_IotPublisher):
    """Barrier commands to ``smartgate/{gate}/lanes/{lane}/commands`` through the IoT data plane, QoS 1."""

    def publish(self, command: BarrierCommand) -> None:
        self._send(commands_topic(command.gate_id, command.lane_id), command)


class IotFacePublisher(_IotPublisher):
    """A booked driver's encrypted face reference, or its revocation, to ``smartgate/{gate}/lanes/{lane}/faces``."""

    def publish(self, message: FaceReference | FaceRevoked) -> None:
        self._send(faces_topic(message.gate_id, message.lane_id), message)


class EventBridgePublisher:
    """Events on the project's bus: ``source`` smartgate.<area>, ``detail-type`` the schema name."""

    MAX_BATCH = 10

    def __init__(self, bus_name: str, region: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self.client = client or boto3.client("events", region_name=region)

    def publish(self, events: Sequence[Contract]) -> None:
        for start in range(0, len(events), self.MAX_BATCH):
            batch = events[start : start + self.MAX_BATCH]
            entries = []
            for event in batch:
                entry = {
                    "EventBusName": self.bus_name,
                    "Source": source_for(event),
                    "DetailType": schema_name(type(event)),
                    "Detail": event.model_dump_json(),
                }
                at = getattr(event, "decided_at", None) or getattr(event, "at", None)
                if at is not None:
                    entry["Time"] = at
                entries.append(entry)
            response = self.client.put_events(Entries=entries)
            if response.get("FailedEntryCount"):
                failed = [e for e in response["Entries"] if e.get("ErrorCode")]
                raise PublishError(f"EventBridge refused {len(failed)} event(s): {failed}")


class SqsSettleScheduler:
    """The settle timer: a message to the settle queue, delayed until the passage's deadline (max 15 min)."""

    def __init__(self, queue_url: str, region: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", region_name=region)

    def schedule(self, passage_id: str, at: datetime) -> None:
        delay = min(900, max(0, math.ceil((at - utc_now()).total_seconds())))
        self.client.send_message(
            QueueUrl=self.queue_url,
            DelaySeconds=delay,
            MessageBody=json.dumps({"passage_id": passage_id, "at": at.isoformat()}),
        )


class SqsRejectedSink:
    """Rejected lane messages, kept with their reason in the rejected-detections queue (the DLQ)."""

    def __init__(self, queue_url: str, region: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", region_name=region)

    def put(self, message: RejectedMessage) -> None:
        self.client.send_message(QueueUrl=self.queue_url, MessageBody=message.model_dump_json())
