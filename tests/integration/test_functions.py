"""Each function on its sample event from events/, in a worker with its template environment, against the stack."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from events import event_path, load_event
from smartgate_infra.functions import FunctionHost, FunctionSpec, LocalAws
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def host(stack, stack_client, tmp_path_factory):  # type: ignore[no-untyped-def]
    hosts: dict[str, FunctionHost] = {}
    aws = LocalAws(stack.endpoint_url, f"http://127.0.0.1:{stack.ports.iot_data}",
                   stack_client.template.region, stack_client.template.account_id)
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


def test_ingest_decides_once_and_redelivery_is_a_duplicate(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    event = load_event("iot/plate_read_ok")
    ingest = host("IngestDetectionsFunction")
    first = ingest.invoke(event)
    assert first["outcome"] == "decided" and first["channel"] in ("GREEN", "RED", "YELLOW")
    stored = stack_client.detections.get(event["event_id"])
    assert stored is not None and stored.plate_text == event["plate_text"]
    passage = stack_client.passages.get(first["passage_id"])
    # The same detection again: the idempotency record answers with the first result; nothing changes
    again = ingest.invoke(event)
    assert again == first
    assert stack_client.passages.get(first["passage_id"]) == passage


def test_ingest_rejects_a_bad_field_into_the_queue_and_stores_nothing(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    event = load_event("iot/plate_read_bad_confidence")
    result = host("IngestDetectionsFunction").invoke(event)
    assert result["outcome"] == "rejected" and "confidence" in result["reason"]
    assert stack_client.detections.get(event["event_id"]) is None
    kept = [m for m in stack_client.rejected() if event["event_id"] in m.get("payload", "")]
    assert kept and "confidence" in kept[0]["reason"] and kept[0]["source"] == event["mqtt_topic"]


def test_wrong_lane_is_rejected(host) -> None:  # type: ignore[no-untyped-def]
    result = host("IngestDetectionsFunction").invoke(load_event("iot/plate_read_wrong_lane"))
    assert result["outcome"] == "rejected" and "gate_id/lane_id" in result["reason"]


def test_stream_record_of_a_decided_passage_is_announced_on_the_bus(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    event = load_event("dynamodb/passage_decided")
    passage_id = event["Records"][0]["dynamodb"]["Keys"]["passage_id"]["S"]
    result = host("PublishPassageEventsFunction").invoke(event)
    assert result == {"batchItemFailures": []}
    announced = tapped_until(stack_client, lambda m: m.get("detail", {}).get("passage_id") == passage_id)
    assert announced and announced[0]["detail-type"] == "ClearanceDecided.v1"


def test_a_broken_stream_record_is_reported_alone(host) -> None:  # type: ignore[no-untyped-def]
    event = load_event("dynamodb/passage_decided")
    good = event["Records"][0]
    broken = json.loads(json.dumps(good))
    broken["dynamodb"]["NewImage"]["body"]["S"] = "{not json"
    broken["dynamodb"]["SequenceNumber"] = "999"
    result = host("PublishPassageEventsFunction").invoke({"Records": [good, broken]})
    assert result == {"batchItemFailures": [{"itemIdentifier": "999"}]}


def test_officers_are_alerted_for_red_not_green(host, stack_client) -> None:  # type: ignore[no-untyped-def]
    notify = host("NotifyOfficersFunction")
    red = load_event("eventbridge/clearance_decided_red")
    assert notify.invoke(red)["notified"] is True
    assert notify.invoke(load_event("eventbridge/clearance_decided_green")) == {"notified": False}
    passage_id = red["detail"]["passage_id"]
    alerts = tapped_until(stack_client, lambda m: m.get("Type") == "Notification" and passage_id in m["Message"])
    assert alerts and alerts[0]["Subject"].startswith("RED channel")


def test_smartgate_invoke_runs_a_function_on_an_event_file(stack, state_dir: Path) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(state_dir), "invoke",
         "ApiFunction", str(event_path("api/get_health"))],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["statusCode"] == 200
    missing = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(state_dir), "invoke", "Nope", "x.json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert missing.returncode == 2 and "IngestDetectionsFunction" in missing.stderr

