"""A thin client of a running local stack, for the demo, the benchmark and the tests."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3

from smartgate.adapters.dynamodb import DynamoBookings, DynamoDetections, DynamoPassages
from smartgate.schemas import Booking, utc_now
from smartgate_infra.stack import ROOT, StackState, load_template
from smartgate_infra.template import Template

SEED_FILE = ROOT / "infra" / "seed" / "bookings.json"


class StackClient:
    def __init__(self, state: StackState, template: Template | None = None) -> None:
        self.state = state
        self.template = template or load_template()
        self.session = boto3.session.Session(aws_access_key_id="local", aws_secret_access_key="local",
                                             region_name=self.template.region)
        # pynamodb builds its own botocore clients from the environment: point this process at the stack.
        os.environ.update({"AWS_ENDPOINT_URL": state.endpoint_url, "AWS_ACCESS_KEY_ID": "local",
                           "AWS_SECRET_ACCESS_KEY": "local", "AWS_REGION": self.template.region,
                           "AWS_DEFAULT_REGION": self.template.region})

    def client(self, service: str) -> Any:
        return self.session.client(service, endpoint_url=self.state.endpoint_url)

    def name(self, logical_id: str) -> str:
        return self.template.resources[logical_id].physical_name

    @property
    def bookings(self) -> DynamoBookings:
        return DynamoBookings(self.name("BookingsTable"), self.template.region)

    @property
    def passages(self) -> DynamoPassages:
        return DynamoPassages(self.name("PassagesTable"), self.template.region)

    @property
    def detections(self) -> DynamoDetections:
        return DynamoDetections(self.name("DetectionsTable"), self.template.region)

    def seed_bookings(self, path: Path = SEED_FILE) -> list[Booking]:
        """Put the seed bookings (slots relative to now); putting them again changes nothing else."""
        now = utc_now()
        bookings = []
        for raw in json.loads(path.read_text())["bookings"]:
            start, end = raw.pop("slot_minutes")
            booking = Booking.model_validate({**raw, "slot_start": now + timedelta(minutes=start),
                                              "slot_end": now + timedelta(minutes=end), "created_at": now})
            self.bookings.put(booking)
            bookings.append(booking)
        return bookings

    def _drain(self, queue_name: str, delete: bool) -> Iterator[dict[str, Any]]:
        sqs = self.client("sqs")
        url = sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
        seen: set[str] = set()
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                           VisibilityTimeout=0 if not delete else 30).get("Messages", [])
            fresh = [m for m in messages if m["MessageId"] not in seen]
            if not fresh:
                return
            for message in fresh:
                seen.add(message["MessageId"])
                yield json.loads(message["Body"])
                if delete:
                    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def rejected(self) -> list[dict[str, Any]]:
        """What the rejected-detections queue holds (left in place for an operator)."""
        return list(self._drain(self.name("RejectedDetectionsQueue"), delete=False))

    def tapped(self) -> list[dict[str, Any]]:
        """Bus events and SNS messages seen since the last call (the runtime's tap queue)."""
        return list(self._drain(f"{self.template.stack_name}-runtime-tap", delete=True))
