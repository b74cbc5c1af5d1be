"""Raw IoT-rule output -> detection, or a rejection whose reason names the field."""

from __future__ import annotations

import pytest

from smartgate.domain.intake import RejectedDetection, detection_from_rule_event, rejected_message
from smartgate.schemas import PlateRead
from smartgate.topics import commands_topic, detections_topic, parse_lane_topic

GOOD = {
    "schema": "PlateRead.v1",
    "event_id": "ev-1",
    "gate_id": "kimthanh2",
    "lane_id": "in-1",
    "plate_text": "29A-123.45",
    "country": "VN",
    "format_valid": True,
    "confidence": 0.9,
    "captured_at": "2026-11-26T09:00:00+07:00",
}


def rule_event(**changes: object) -> dict[str, object]:
    return {**GOOD, "mqtt_topic": detections_topic("kimthanh2", "in-1"), "received_at_ms": 1, **changes}


def test_valid_rule_output_becomes_a_detection_in_utc() -> None:
    detection = detection_from_rule_event(rule_event())
    assert isinstance(detection, PlateRead)
    assert detection.captured_at.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert detection.captured_at.hour == 2


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"confidence": 7}, "confidence"),
        ({"plate_text": ""}, "plate_text"),
        ({"captured_at": "2026-11-26T09:00:00"}, "captured_at"),  # no timezone
        ({"schema": "PlateRead.v9"}, "schema"),
        ({"unexpected": 1}, "unexpected"),
        ({"lane_id": "in-2"}, "gate_id/lane_id"),  # speaks for another lane
        ({"mqtt_topic": "elsewhere/x"}, "mqtt_topic"),
    ],
)
def test_bad_messages_are_rejected_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(RejectedDetection) as err:
        detection_from_rule_event(rule_event(**changes))
    assert field in err.value.reason


def test_missing_schema_is_named() -> None:
    event = rule_event()
    del event["schema"]
    with pytest.raises(RejectedDetection, match="schema"):
        detection_from_rule_event(event)


def test_rejected_message_keeps_binary_payload_as_base64() -> None:
    message = rejected_message("t", b"\xff\x00", "bad")
    assert message.payload_encoding == "base64" and message.payload == "/wA="
    assert rejected_message("t", {"a": 1}, "bad").payload == '{"a": 1}'


def test_topics_are_built_and_parsed_in_one_place() -> None:
    topic = commands_topic("kimthanh2", "in-1")
    assert topic == "smartgate/kimthanh2/lanes/in-1/commands"
    parsed = parse_lane_topic(topic)
    assert (parsed.gate_id, parsed.lane_id, parsed.channel) == ("kimthanh2", "in-1", "commands")
    with pytest.raises(ValueError):
        detections_topic("kim/thanh", "in-1")
    with pytest.raises(ValueError):
        parse_lane_topic("smartgate/kimthanh2/lanes/in-1/other")


def test_a_weight_of_zero_is_rejected_naming_the_field() -> None:
    weight = {
        "schema": "WeightReading.v1",
        "event_id": "w-1",
        "gate_id": "kimthanh2",
        "lane_id": "in-1",
        "gross_kg": 0,
        "stable": True,
        "captured_at": "2026-11-26T09:00:00Z",
        "mqtt_topic": detections_topic("kimthanh2", "in-1"),
    }
    with pytest.raises(RejectedDetection, match=r"^gross_kg: Input should be greater than 0"):
        detection_from_rule_event(weight)
