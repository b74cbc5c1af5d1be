"""Each function on its sample event from events/, in a worker with its template environment, against the stack."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from events import event_path, load_event
from smartgate.schemas import utc_now
from smartgate_infra.functions import FunctionHost, FunctionSpec, LocalAws
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def host(stack, stack_client, tmp_path_factory):  # type: ignore[no-untyped-def]
    hosts: dict[str, FunctionHost] = {}
    aws = LocalAws(
        stack.endpoint_url,
        f"http://127.0.0.1:{stack.ports.iot_data}",
        stack_client.template.region,
        stack_client.template.account_id,
    )
    logs = tmp_path_factory.mktemp("function-logs")

    def get(logical_id: str) -> FunctionHost:
        if logical_id not in hosts:
            spec = FunctionSpec.from_resource(stack_client.template, stack_client.template.resources[logical_id], ROOT)
            hosts[logical_id] = FunctionHost(spec, aws, logs)
        return hosts[logical_id]

    yield get
    for h in hosts.values():
        h.stop()


def tapped_until(stack_client, predicate, timeout: float = 10.0) -> list:  # type: ignore[no-untyped-def]
    seen: list = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen.extend(stack_client.tapped())
        if any(predicate(m) for m in seen):
            break
        time.sleep(0.2)
    return [m for m in seen if predicate(m)]


def test_ingest_waits_for_evidence_then_the_settle_function_decides(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    # Given the plate read sample, with no booking for its plate at that gate
    event = load_event("iot/plate_read_ok")
    ingest = host("IngestDetectionsFunction")
    # When it is ingested, and delivered again
    first = ingest.invoke(event)
    again = ingest.invoke(event)
    # Then the passage waits (a pass may still name its booking) and the redelivery changes nothing
    assert first["outcome"] == "waiting" and first["status"] == "OPEN"
    assert again["outcome"] == "duplicate" and again["passage_id"] == first["passage_id"]
    record = stack_client.passages.detection(event["event_id"])
    assert record is not None and record.passage_id == first["passage_id"] and record.handled
    passage = stack_client.passages.get(first["passage_id"])
    assert passage is not None and passage.settle_deadline is not None
    # And once its settle time is over, the settle function decides it with what is there
    time.sleep(max(0.0, (passage.settle_deadline - utc_now()).total_seconds()) + 0.2)
    due = load_event("sqs/settle_due")
    due["Records"][0]["body"] = json.dumps({"passage_id": passage.passage_id})
    assert host("SettlePassagesFunction").invoke(due) == {"batchItemFailures": []}
    decided = stack_client.passages.get(passage.passage_id)
    assert decided is not None and decided.decision is not None and decided.decision.settled
    assert decided.channel.value == "RED"
    assert {r.rule_id for r in decided.decision.rules_fired} == {"R-NO-BOOKING", "R-WEIGHT-MISSING"}  # in-1 weighs


def test_ingest_rejects_a_bad_field_into_the_queue_and_stores_nothing(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    event = load_event("iot/plate_read_bad_confidence")
    result = host("IngestDetectionsFunction").invoke(event)
    assert result["outcome"] == "rejected" and "confidence" in result["reason"]
    assert stack_client.passages.detection(event["event_id"]) is None
    kept = [m for m in stack_client.rejected() if event["event_id"] in m.get("payload", "")]
    assert kept and "confidence" in kept[0]["reason"] and kept[0]["source"] == event["mqtt_topic"]


def test_wrong_lane_and_unknown_lane_are_rejected(host) -> None:  # type: ignore[no-untyped-def]
    ingest = host("IngestDetectionsFunction")
    result = ingest.invoke(load_event("iot/plate_read_wrong_lane"))
    assert result["outcome"] == "rejected" and "gate_id/lane_id" in result["reason"]
    unknown = load_event("iot/weight_reading")
    unknown.update(
        {"lane_id": "in-99", "mqtt_topic": "smartgate/kimthanh2/lanes/in-99/detections", "event_id": "in-99-weight-1"}
    )
    result = ingest.invoke(unknown)
    assert result["outcome"] == "rejected" and result["reason"].startswith("lane_id: unknown lane 'in-99'")


def test_stream_record_is_announced_on_the_bus(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    from smartgate.domain.events import passage_events
    from smartgate.schemas import Passage

    event = load_event("dynamodb/passage_decided")
    images = event["Records"][0]["dynamodb"]
    old, new = (Passage.model_validate_json(images[k]["body"]["S"]) for k in ("OldImage", "NewImage"))
    expected = {e.event_id: type(e).__name__ for e in passage_events(old, new, utc_now())}
    result = host("PublishPassageEventsFunction").invoke(event)
    assert result == {"batchItemFailures": []}
    seen: dict[str, dict] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and set(seen) != set(expected):
        seen.update(
            {
                m["detail"]["event_id"]: m
                for m in stack_client.tapped()
                if m.get("detail", {}).get("event_id") in expected
            }
        )
        time.sleep(0.2)
    assert {k: m["detail-type"].split(".")[0] for k, m in seen.items()} == expected
    decided = next(m for m in seen.values() if m["detail-type"] == "ClearanceDecided.v2")
    assert decided["source"] == "smartgate.clearance" and decided["detail"]["channel"] == "GREEN"


def test_stream_record_is_audited_once(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    from smartgate.domain.audit import AUDITED, verify
    from smartgate.domain.passages import changes
    from smartgate.schemas import Passage

    event = load_event("dynamodb/passage_decided")
    images = event["Records"][0]["dynamodb"]
    old, new = (Passage.model_validate_json(images[k]["body"]["S"]) for k in ("OldImage", "NewImage"))
    expected = {c.key: c.kind for c in changes(old, new) if c.kind in AUDITED}
    appender = host("AppendAuditFunction")
    assert appender.invoke(event) == {"batchItemFailures": []}
    assert appender.invoke(event) == {"batchItemFailures": []}  # redelivered: recorded once
    entries = stack_client.audit.entries("kimthanh2")
    mine = [e for e in entries if e.entry_id in expected]
    assert sorted((e.entry_id, e.kind) for e in mine) == sorted(expected.items())
    assert {"decision", "state"} <= set(expected.values()) and verify("kimthanh2", entries).ok


def test_a_broken_stream_record_is_reported_alone(host) -> None:  # type: ignore[no-untyped-def]
    event = load_event("dynamodb/passage_decided")
    good = event["Records"][0]
    broken = json.loads(json.dumps(good))
    broken["dynamodb"]["NewImage"]["body"]["S"] = "{not json"
    broken["dynamodb"]["SequenceNumber"] = "999"
    result = host("PublishPassageEventsFunction").invoke({"Records": [good, broken]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "999"}]}


def test_officers_are_alerted_for_red_and_perishables_not_green(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    notify = host("NotifyOfficersFunction")
    red = notify.invoke(load_event("eventbridge/clearance_decided_red"))
    assert red["notified"] is True
    assert notify.invoke(load_event("eventbridge/clearance_decided_green")) == {"notified": False}
    shelf = notify.invoke(load_event("eventbridge/shelf_life_alert"))
    assert shelf["notified"] is True
    wanted = {red["alert_id"], shelf["alert_id"]}
    seen: dict[str, list[str]] = {}
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and sum(len(v) for v in seen.values()) < 6:
        for m in stack_client.tapped():
            alert_id = m.get("MessageAttributes", {}).get("alert_id", {}).get("Value")
            if m.get("Type") == "Notification" and alert_id in wanted:
                seen.setdefault(alert_id, []).append(m["Subject"])
        time.sleep(0.2)
    assert sorted(re.split("[:：]", s)[0] for s in seen[red["alert_id"]]) == ["Luồng ĐỎ", "RED channel", "红色通道"]
    assert any(s.startswith("Perishables: 11 h left") for s in seen[shelf["alert_id"]])
    again = notify.invoke(load_event("eventbridge/clearance_decided_red"))
    assert again["alert_id"] == red["alert_id"]  # the same event again: the stored alert, nobody paged twice
    assert len(stack_client.alerts.get(red["alert_id"]).deliveries) == 3


def test_the_shelf_life_watch_runs_on_its_schedule_event(host) -> None:  # type: ignore[no-untyped-def]
    result = host("WatchShelfLifeFunction").invoke(load_event("schedule/shelf_life_watch"))
    assert isinstance(result["alerted"], list)


def test_smartgate_invoke_runs_a_function_on_an_event_file(stack, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "smartgate_infra.cli",
            "--state-dir",
            str(state_dir),
            "invoke",
            "ApiFunction",
            str(event_path("api/get_health")),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200
    missing = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(state_dir), "invoke", "Nope", "x.json"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert missing.returncode == 2 and "IngestDetectionsFunction" in missing.stderr


def test_a_passage_that_keeps_alerting_is_rate_limited_not_lost(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    notify = host("NotifyOfficersFunction")
    base = load_event("eventbridge/clearance_decided_red")
    passage_id = f"psg-ratelimit-{int(time.time() * 1000)}"
    results = []
    for no in range(1, 6):  # five ever stricter decisions of one passage within seconds
        event = json.loads(json.dumps(base))
        event["detail"].update(passage_id=passage_id, decision_no=no, previous_channel="YELLOW" if no > 1 else None)
        results.append(notify.invoke(event))
    assert [r["status"] for r in results] == ["open", "open", "open", "suppressed", "suppressed"]
    stored = {a.alert_id: a for a in stack_client.alerts.for_passage(passage_id)}
    assert len(stored) == 5  # all kept ...
    assert [len(stored[r["alert_id"]].deliveries) for r in results] == [3, 3, 3, 0, 0]  # ... three pushed


def test_a_lane_whose_heartbeats_stop_goes_offline_once_alerts_and_comes_back(host, stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    from datetime import timedelta

    from smartgate_edge.transport import Mqtt5Transport

    from smartgate.adapters.officers import DynamoLaneHealth
    from smartgate.domain.alerts import lane_alert_id
    from smartgate.schemas import LaneHealth, LaneStatusChanged
    from smartgate.topics import health_topic

    gate, lane = "sandbox", "open-15"
    health = DynamoLaneHealth(stack_client.name("LanesTable"), stack_client.template.region)
    transport = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"hb-{uuid.uuid4().hex[:6]}").connect()

    def beat(ago_s: float) -> LaneHealth:
        message = LaneHealth(
            event_id=f"hb-{uuid.uuid4().hex[:8]}",
            gate_id=gate,
            lane_id=lane,
            camera_ok=True,
            fps=12,
            inference_ms=40,
            at=utc_now() - timedelta(seconds=ago_s),
        )
        transport.publish(health_topic(gate, lane), message)
        return message

    try:
        last = beat(200)  # the lane's last word, long ago: then silence
        deadline = time.monotonic() + 10
        while (health.last(gate, lane) or last).at != last.at or health.last(gate, lane) is None:
            assert time.monotonic() < deadline, "the heartbeat was not recorded"
            time.sleep(0.2)
        watch = host("WatchLanesFunction")
        assert f"{gate}/{lane}" in watch.invoke(load_event("schedule/lane_watch"))["offline"]
        assert f"{gate}/{lane}" not in watch.invoke(load_event("schedule/lane_watch"))["offline"]  # once
        down = LaneStatusChanged(
            event_id="x",
            gate_id=gate,
            lane_id=lane,
            online=False,
            last_heartbeat_at=last.at,
            silent_seconds=0,
            at=last.at,
        )
        alert_id = lane_alert_id(down)
        deadline = time.monotonic() + 15
        while (alert := stack_client.alerts.get(alert_id)) is None or len(alert.deliveries) < 3:
            assert time.monotonic() < deadline, "no lane-offline alert"
            time.sleep(0.3)
        # LaneStatusChanged(online=false) went over the bus to the notify function: the outage's alert
        assert alert.kind.value == "lane_offline" and alert.status.value == "open" and alert.lane_id == lane
        assert {d.locale for d in alert.deliveries} == {"vi", "zh", "en"}

        beat(0)  # back: LaneStatusChanged(online=true) over the bus resolves the alert
        deadline = time.monotonic() + 15
        while (alert := stack_client.alerts.get(alert_id)) is not None and alert.status.value != "resolved":
            assert time.monotonic() < deadline, f"the alert stayed {alert.status}"
            time.sleep(0.3)
        assert f"{gate}/{lane}" not in watch.invoke(load_event("schedule/lane_watch"))["offline"]
    finally:
        transport.close()
