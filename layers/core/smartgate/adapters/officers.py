"""The officers' side in AWS: alerts and where they were delivered (DynamoDB, the outbox the console and the
CLI read), officers' devices, lane heartbeats, SNS topics / platform endpoints, the escalation timer (SQS).

An alert is written once (conditional put on its stable id: a redelivered event pages nobody twice) and
changed only with a conditional write on its version, so an acknowledgement and an escalation racing
each other cannot both win.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import boto3
from pynamodb.attributes import NumberAttribute, TTLAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError, UpdateError
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
from pynamodb.models import Model

from smartgate.adapters.dynamodb import _bind, _conditional_failed, _lane_key, _Table
from smartgate.ports import Conflict
from smartgate.schemas import BarrierEvent, BarrierEventKind, LaneHealth, utc_now
from smartgate.schemas.officers import OfficerAlert, OfficerDevice, PlateCorrection


class _AlertItem(Model):
    class GateIndex(GlobalSecondaryIndex["_AlertItem"]):
        class Meta:
            index_name = "by_gate"
            projection = AllProjection()

        gate_id = UnicodeAttribute(hash_key=True)
        created_sk = UnicodeAttribute(range_key=True)

    class PassageIndex(GlobalSecondaryIndex["_AlertItem"]):
        class Meta:
            index_name = "by_passage"
            projection = AllProjection()

        passage_id = UnicodeAttribute(hash_key=True)
        created_sk = UnicodeAttribute(range_key=True)

    alert_id = UnicodeAttribute(hash_key=True)
    gate_id = UnicodeAttribute()
    passage_id = UnicodeAttribute(null=True)
    created_sk = UnicodeAttribute()  # ISO time#alert id: newest first per gate
    status = UnicodeAttribute()
    version = NumberAttribute()
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class _DeviceItem(Model):
    username = UnicodeAttribute(hash_key=True)
    device_id = UnicodeAttribute(range_key=True)
    body = UnicodeAttribute()
    expires_at = TTLAttribute(null=True)


class DynamoAlerts:
    def __init__(self, table_name: str, region: str, retention: timedelta) -> None:
        self.table = _Table(
            _bind(_AlertItem, table_name, region, by_gate=_AlertItem.GateIndex, by_passage=_AlertItem.PassageIndex),
            retention,
        )
        self.table.meter()
        self.model = self.table.model

    def _row(self, alert: OfficerAlert) -> Any:
        return self.model(
            alert.alert_id,
            gate_id=alert.gate_id,
            passage_id=alert.passage_id,
            created_sk=f"{alert.created_at.isoformat()}#{alert.alert_id}",
            status=alert.status.value,
            version=alert.version,
            body=alert.model_dump_json(),
            expires_at=alert.created_at + self.table.ttl,
        )

    def create(self, alert: OfficerAlert) -> bool:
        """Store a new alert; False when one with its id is stored already (the same cause again)."""
        try:
            self._row(alert).save(condition=self.model.alert_id.does_not_exist())
        except PutError as err:
            if _conditional_failed(err):
                return False
            raise
        return True

    def get(self, alert_id: str) -> OfficerAlert | None:
        try:
            return OfficerAlert.model_validate_json(self.model.get(alert_id, consistent_read=True).body)
        except self.model.DoesNotExist:
            return None

    def save(self, alert: OfficerAlert, expected_version: int) -> None:
        try:
            self._row(alert).save(condition=self.model.version == expected_version)
        except PutError as err:
            if _conditional_failed(err):
                raise Conflict(f"alert {alert.alert_id} changed (version {expected_version} is not current)") from err
            raise

    def for_gate(
        self, gate_id: str, limit: int, cursor: dict[str, Any] | None = None
    ) -> tuple[list[OfficerAlert], dict[str, Any] | None]:
        rows = self.model.by_gate.query(gate_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor)
        items = [OfficerAlert.model_validate_json(r.body) for r in rows]
        return items, rows.last_evaluated_key

    def for_passage(self, passage_id: str) -> list[OfficerAlert]:
        return [OfficerAlert.model_validate_json(r.body) for r in self.model.by_passage.query(passage_id)]


class DynamoDevices:
    def __init__(self, table_name: str, region: str) -> None:
        self.table = _Table(_bind(_DeviceItem, table_name, region), timedelta(days=365))
        self.table.meter()
        self.model = self.table.model

    def put(self, device: OfficerDevice) -> None:
        self.model(device.username, device.device_id, body=device.model_dump_json()).save()

    def of(self, username: str) -> list[OfficerDevice]:
        return [OfficerDevice.model_validate_json(r.body) for r in self.model.query(username)]

    def delete(self, username: str, device_id: str) -> None:
        self.model(username, device_id).delete()


class _HealthItem(Model):
    lane_key = UnicodeAttribute(hash_key=True)  # health#gate#lane
    version = NumberAttribute()  # the heartbeat's time, epoch ms (newest wins)
    body = UnicodeAttribute()
    offline_since = UnicodeAttribute(null=True)  # set while the cloud holds the lane offline
    expires_at = TTLAttribute(null=True)


class DynamoLaneHealth:
    """A lane's newest heartbeat, kept beside the lane's memory (lanes table, key ``health#gate#lane``),
    and whether the cloud holds it offline (its heartbeats stopped)."""

    PREFIX = "health#"

    def __init__(self, lanes_table: str, region: str) -> None:
        self.table = _Table(_bind(_HealthItem, lanes_table, region), timedelta(days=7))
        self.table.meter()
        self.model = self.table.model

    def _key(self, gate_id: str, lane_id: str) -> str:
        return f"{self.PREFIX}{_lane_key(gate_id, lane_id)}"

    def record(self, health: LaneHealth) -> tuple[bool, LaneHealth | None]:
        """Keep it unless a newer one is kept (heartbeats may arrive out of order). Returns (kept, the
        heartbeat before it if the lane was held offline): a lane back from an outage.

        The write is conditional on the row as read (its version and its offline mark), so a lane the watcher
        marks offline between the read and the write is read again, never silently marked online."""
        at_ms = int(health.at.timestamp() * 1000)
        key = self._key(health.gate_id, health.lane_id)
        m = self.model
        for _ in range(5):
            try:
                before = m.get(key, consistent_read=True)
            except m.DoesNotExist:
                before = None
            if before is not None and before.version >= at_ms:
                return False, None
            if before is None:
                as_read = m.lane_key.does_not_exist()
            else:
                mark = (
                    m.offline_since == before.offline_since
                    if before.offline_since
                    else m.offline_since.does_not_exist()
                )
                as_read = (m.version == before.version) & mark
            row = m(key, version=at_ms, body=health.model_dump_json(), expires_at=health.at + self.table.ttl)
            try:
                row.save(condition=as_read)
            except PutError as err:
                if _conditional_failed(err):
                    continue  # changed since the read: a newer heartbeat, or the watcher's offline mark
                raise
            if before is not None and before.offline_since:
                return True, LaneHealth.model_validate_json(before.body)
            return True, None
        return False, None

    def last(self, gate_id: str, lane_id: str) -> LaneHealth | None:
        try:
            return LaneHealth.model_validate_json(self.model.get(self._key(gate_id, lane_id)).body)
        except self.model.DoesNotExist:
            return None

    def last_of(self, gate_id: str, lane_ids: Sequence[str]) -> dict[str, LaneHealth]:
        """Many lanes' newest heartbeats in batched reads; lanes never heard from are left out."""
        keys = [self._key(gate_id, lane_id) for lane_id in lane_ids]
        found = (LaneHealth.model_validate_json(row.body) for row in self.model.batch_get(keys))
        return {h.lane_id: h for h in found}

    def online_lanes(self) -> list[LaneHealth]:
        """The newest heartbeat of every lane the cloud does not hold offline (a scan: one row per lane)."""
        rows = self.model.scan(self.model.lane_key.startswith(self.PREFIX) & self.model.offline_since.does_not_exist())
        return [LaneHealth.model_validate_json(row.body) for row in rows]

    def mark_offline(self, health: LaneHealth, since: datetime) -> bool:
        """Hold the lane offline, unless a newer heartbeat came meanwhile (then it is not silent)."""
        at_ms = int(health.at.timestamp() * 1000)
        try:
            self.model(self._key(health.gate_id, health.lane_id)).update(
                actions=[self.model.offline_since.set(since.isoformat())],
                condition=(self.model.version == at_ms) & self.model.offline_since.does_not_exist(),
            )
        except UpdateError as err:
            if _conditional_failed(err):
                return False
            raise
        return True


class _BarrierItem(Model):
    lane_key = UnicodeAttribute(hash_key=True)  # barrier#gate#lane#event_id, or offline#passage_id
    body = UnicodeAttribute()
    reconciled_at = UnicodeAttribute(null=True)  # offline decisions: set once the cloud compared it
    expires_at = TTLAttribute(null=True)


class DynamoBarrierLog:
    """What lanes' barrier controllers report (commands acted on or refused, state changes, manual overrides
    naming the officer, offline decisions), kept in the lanes table for ``retention`` (an override names a
    person). An offline decision is also kept under its passage until the cloud has reconciled it."""

    def __init__(self, lanes_table: str, region: str, retention: timedelta = timedelta(days=30)) -> None:
        self.table = _Table(_bind(_BarrierItem, lanes_table, region), retention)
        self.table.meter()
        self.model = self.table.model

    def _put_once(self, key: str, event: BarrierEvent) -> bool:
        row = self.model(key, body=event.model_dump_json(by_alias=True), expires_at=event.at + self.table.ttl)
        try:
            row.save(condition=self.model.lane_key.does_not_exist())
        except PutError as err:
            if _conditional_failed(err):
                return False  # a redelivery: recorded before
            raise
        return True

    def record(self, event: BarrierEvent) -> bool:
        """Keep it (once per event id); an offline decision is also filed under its passage."""
        first = self._put_once(f"barrier#{_lane_key(event.gate_id, event.lane_id)}#{event.event_id}", event)
        if event.kind == BarrierEventKind.OFFLINE_DECISION and event.passage_id:
            self._put_once(f"offline#{event.passage_id}", event)
        return first

    def of_lane(self, gate_id: str, lane_id: str) -> list[BarrierEvent]:
        prefix = f"barrier#{_lane_key(gate_id, lane_id)}#"
        rows = self.model.scan(self.model.lane_key.startswith(prefix))
        return sorted((BarrierEvent.model_validate_json(r.body) for r in rows), key=lambda e: e.at)

    def offline_decision(self, passage_id: str) -> tuple[BarrierEvent, bool] | None:
        """The lane's offline decision on this passage and whether it was reconciled, or None."""
        try:
            row = self.model.get(f"offline#{passage_id}", consistent_read=True)
        except self.model.DoesNotExist:
            return None
        return BarrierEvent.model_validate_json(row.body), row.reconciled_at is not None

    def mark_reconciled(self, passage_id: str, at: datetime) -> bool:
        """True for the one caller that reconciles it first (the lane's event and the cloud's decision race)."""
        try:
            self.model(f"offline#{passage_id}").update(
                actions=[self.model.reconciled_at.set(at.isoformat())],
                condition=self.model.lane_key.exists() & self.model.reconciled_at.does_not_exist(),
            )
        except UpdateError as err:
            if _conditional_failed(err):
                return False
            raise
        return True


class SnsAlerts:
    """SNS for officers: the per gate-and-severity topics, subscriptions filtered by role and language, and
    push devices as platform endpoints."""

    def __init__(self, region: str, client: Any = None) -> None:
        self.client = client or boto3.client("sns", region_name=region)

    def publish(self, topic_arn: str, subject: str, text: str, attributes: dict[str, str]) -> str:
        response = self.client.publish(
            TopicArn=topic_arn,
            Subject=subject,
            Message=text,
            MessageAttributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()},
        )
        return str(response["MessageId"])

    def push_endpoint(self, application_arn: str, token: str, user_data: str) -> str:
        response = self.client.create_platform_endpoint(
            PlatformApplicationArn=application_arn, Token=token, CustomUserData=user_data[:2048]
        )
        return str(response["EndpointArn"])

    def subscribe(self, topic_arn: str, protocol: str, endpoint: str, filter_policy: dict[str, list[str]]) -> str:
        response = self.client.subscribe(
            TopicArn=topic_arn,
            Protocol=protocol,
            Endpoint=endpoint,
            Attributes={"FilterPolicy": json.dumps(filter_policy)},
            ReturnSubscriptionArn=True,
        )
        return str(response["SubscriptionArn"])

    def set_filter(self, subscription_arn: str, filter_policy: dict[str, list[str]]) -> None:
        self.client.set_subscription_attributes(
            SubscriptionArn=subscription_arn, AttributeName="FilterPolicy", AttributeValue=json.dumps(filter_policy)
        )

    def unsubscribe(self, subscription_arn: str) -> None:
        if subscription_arn and subscription_arn != "pending confirmation":
            self.client.unsubscribe(SubscriptionArn=subscription_arn)

    def delete_endpoint(self, endpoint_arn: str) -> None:
        self.client.delete_endpoint(EndpointArn=endpoint_arn)


class SqsEscalations:
    """The acknowledgement timer: a message delayed until the alert is due (SQS delays up to 15 minutes;
    a longer wait comes back early and is sent on again)."""

    MAX_DELAY = 900

    def __init__(self, queue_url: str, region: str, client: Any = None) -> None:
        self.queue_url = queue_url
        self.client = client or boto3.client("sqs", region_name=region)

    def schedule(self, alert_id: str, level: int, at: datetime) -> None:
        delay = min(self.MAX_DELAY, max(0, math.ceil((at - utc_now()).total_seconds())))
        self.client.send_message(
            QueueUrl=self.queue_url,
            DelaySeconds=delay,
            MessageBody=json.dumps({"alert_id": alert_id, "level": level, "at": at.isoformat()}),
        )


class S3Evidence:
    """Evidence images for officers (short-lived presigned URLs) and plate reads officers corrected, kept as
    labelled examples under ``labelled/plates/{gate}/{passage}.jpg`` + ``.json`` (the bucket's lifecycle
    expires them like all evidence)."""

    PREFIX = "labelled/plates/"

    def __init__(self, bucket: str, region: str, client: Any = None, url_seconds: int = 300) -> None:
        self.bucket = bucket
        self.client = client or boto3.client("s3", region_name=region)
        self.url_seconds = url_seconds

    def url(self, key: str) -> str:
        return str(
            self.client.generate_presigned_url(
                "get_object", Params={"Bucket": self.bucket, "Key": key}, ExpiresIn=self.url_seconds
            )
        )

    def keep(self, correction: PlateCorrection, source_crop_key: str | None) -> str | None:
        stem = f"{self.PREFIX}{correction.gate_id}/{correction.passage_id}"
        copied = None
        if source_crop_key:
            try:
                self.client.copy_object(
                    Bucket=self.bucket,
                    Key=f"{stem}.jpg",
                    CopySource={"Bucket": self.bucket, "Key": source_crop_key},
                    ServerSideEncryption="AES256",
                )
                copied = f"{stem}.jpg"
            except self.client.exceptions.ClientError as err:
                if err.response.get("Error", {}).get("Code") not in ("NoSuchKey", "404"):
                    raise  # a crop that expired or was never uploaded: the label is kept without it
        label = correction.model_copy(update={"crop_key": copied})
        self.client.put_object(
            Bucket=self.bucket,
            Key=f"{stem}.json",
            Body=label.model_dump_json(by_alias=True).encode(),
            ContentType="application/json",
            ServerSideEncryption="AES256",
        )
        return copied

    def corrections(self, gate_id: str | None = None) -> list[PlateCorrection]:
        prefix = self.PREFIX + (f"{gate_id}/" if gate_id else "")
        found = []
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith(".json"):
                    body = self.client.get_object(Bucket=self.bucket, Key=item["Key"])["Body"].read()
                    found.append(PlateCorrection.model_validate_json(body))
        return sorted(found, key=lambda c: (c.at, c.passage_id))

    def read(self, key: str) -> bytes:
        return bytes(self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read())
