"""Trucks cross end to end: lane (MQTT5) -> IoT rule -> ingest -> DynamoDB -> barrier -> bus -> officers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport

from smartgate.schemas import BarrierAction, BarrierCommand, PlateRead, utc_now
from smartgate_infra.declarations import Declared
from smartgate_infra.demo import command_keys

pytestmark = pytest.mark.e2e


def eventually(probe: Callable[[], Any], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.1)
    return probe()


@pytest.fixture(scope="module")
def entries(stack_client) -> dict[str, Declared]:  # type: ignore[no-untyped-def]
    return {e.booking.booking_id: e for e in stack_client.seed() if e.booking}


@pytest.fixture(scope="module")
def lane(stack, stack_client) -> Iterator[LaneSimulator]:  # type: ignore[no-untyped-def]
    transport = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"e2e-{uuid.uuid4().hex[:6]}").connect()
    sim = LaneSimulator(transport, "kimthanh2", "out-1", command_keys(stack_client))
    sim.start()
    stack_client.forget_tapped()  # these tests read the bus events of their own trucks, not the session's
    yield sim
    transport.close()


def bus_events(stack_client, collected: list[dict[str, Any]]) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    collected.extend(stack_client.tapped())
    return collected


def test_booked_truck_gets_green_and_the_barrier_opens(lane, stack_client, entries) -> None:  # type: ignore[no-untyped-def]
    # Given a booked, declared truck (seed booking BK-KT2-0001) arriving at the lane with its pass
    entry = entries["BK-KT2-0001"]
    c = entry.consignment
    # When the lane publishes its plate, pass, container and weight, and waits
    result = lane.cross(
        "24C-123.45",
        "VN",
        containers=tuple(c.container_nos),
        weight_kg=c.gross_kg + (c.vehicle_tare_kg or 0),
        pass_token=stack_client.pass_token(entry),
        timeout=20,
    )
    # Then the barrier command opens, is signed by the cloud, and the passage is stored as GREEN
    assert result.ok, result.error
    assert result.signature_ok is True
    assert result.command.action == BarrierAction.OPEN
    passage = stack_client.passages.get(result.command.passage_id)
    assert passage is not None and passage.channel == "GREEN" and passage.booking_id == "BK-KT2-0001"
    # And ClearanceDecided.v2 is on the bus for the partner gate and the trader
    seen: list[dict[str, Any]] = []
    decided = eventually(
        lambda: [
            e
            for e in bus_events(stack_client, seen)
            if e.get("detail", {}).get("passage_id") == passage.passage_id and e["detail-type"] == "ClearanceDecided.v2"
        ]
    )
    assert decided
    assert decided[0]["source"] == "smartgate.clearance" and decided[0]["detail"]["channel"] == "GREEN"


def test_unknown_truck_gets_red_the_barrier_holds_and_officers_are_alerted(lane, stack_client) -> None:  # type: ignore[no-untyped-def]
    result = lane.cross("29C-999.99", "VN", weight_kg=31_000, timeout=20)
    assert result.ok and result.signature_ok
    assert result.command.action == BarrierAction.HOLD
    assert result.command.reason.startswith("RED") and "no booking" in result.command.reason
    passage_id = result.command.passage_id
    seen: list[dict[str, Any]] = []

    def alert() -> list[dict[str, Any]]:
        found = [m for m in bus_events(stack_client, seen) if m.get("Type") == "Notification"]
        mine = [m for m in found if "29C-999.99" in m.get("Subject", "")]
        return mine if len(mine) >= 3 else []

    alerts = eventually(alert)  # one message per language, to the gate's critical topic
    by_locale = {m["MessageAttributes"]["locale"]["Value"]: m for m in alerts}
    assert set(by_locale) == {"vi", "zh", "en"}
    assert by_locale["en"]["Subject"].startswith("RED channel: 29C-999.99")
    assert "no booking for plate 29C-999.99" in by_locale["en"]["Message"]
    assert by_locale["en"]["TopicArn"].endswith("alerts-kimthanh2-critical")
    stored = stack_client.alerts.for_passage(passage_id)
    assert [a.severity.value for a in stored] == ["critical"] and stored[0].role.value == "customs"


def test_malformed_messages_are_kept_with_a_reason_and_change_nothing(lane, stack_client) -> None:  # type: ignore[no-untyped-def]
    # Given the stored state before
    table = stack_client.client("dynamodb")
    passages_table = stack_client.name("PassagesTable")
    before = table.scan(TableName=passages_table)["Count"]
    marker = uuid.uuid4().hex
    # When a lane sends garbage and a message with a bad field
    lane.publish_raw(f"not json {marker}".encode())
    bad = {
        "schema": "PlateRead.v1",
        "event_id": f"bad-{marker}",
        "gate_id": "kimthanh2",
        "lane_id": lane.lane_id,
        "plate_text": "29A-123.45",
        "country": "VN",
        "format_valid": True,
        "confidence": 7,
        "captured_at": utc_now().isoformat(),
    }
    lane.publish_raw(json.dumps(bad).encode())

    # Then both are in the rejected queue with their reasons, where an operator can find them
    def found() -> list[dict[str, Any]]:
        return [
            m
            for m in stack_client.rejected()
            if marker in json.dumps(m) or marker in _b64(m.get("base64OriginalPayload", ""))
        ]

    messages = eventually(lambda: len(found()) >= 2 and found())
    reasons = " | ".join(m.get("reason") or m["failures"][0]["errorMessage"] for m in messages)
    assert "payload is not a JSON object" in reasons
    assert "confidence" in reasons
    # And nothing was stored, nothing decided, no barrier command sent
    assert table.scan(TableName=passages_table)["Count"] == before
    assert stack_client.passages.detection(f"bad-{marker}") is None
    assert lane.invalid_commands == 0


def test_redelivered_detection_changes_nothing(lane, stack_client) -> None:  # type: ignore[no-untyped-def]
    # Given a truck that crossed
    first = lane.cross("云A·88K21", "CN", weight_kg=26_000, timeout=20)
    assert first.ok
    passage_before = stack_client.passages.get(first.command.passage_id)
    [stored] = [d for d in passage_before.detections.plates if d.event_id == first.event_id]
    assert isinstance(stored, PlateRead)
    commands: list[BarrierCommand] = []
    probe = Mqtt5Transport("127.0.0.1", lane.transport.port, f"probe-{uuid.uuid4().hex[:6]}").connect()
    try:
        probe.subscribe(lane.commands_topic, lambda _t, p: commands.append(BarrierCommand.model_validate_json(p)))
        # When the same detection is delivered again (MQTT QoS 1 is at-least-once)
        lane.transport.publish(lane.detections_topic, stored)
        time.sleep(2.0)
    finally:
        probe.close()
    # Then no second barrier command and the passage is unchanged
    assert commands == []
    assert stack_client.passages.get(first.command.passage_id) == passage_before


def _b64(text: str) -> str:
    import base64

    try:
        return base64.b64decode(text).decode(errors="replace")
    except ValueError:
        return ""
