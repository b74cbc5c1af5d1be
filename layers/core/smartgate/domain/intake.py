"""Turning a raw lane message (as the IoT rule hands it over) into a detection, or a clear rejection."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from smartgate.domain.correlation import AnyDetection
from smartgate.schemas import DETECTION_ADAPTER, RejectedMessage, utc_now
from smartgate.topics import parse_lane_topic

TOPIC_KEY = "mqtt_topic"
RECEIVED_KEY = "received_at_ms"


class RejectedDetection(ValueError):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def describe_validation_error(err: ValidationError, union_tag: str | None = None) -> str:
    """``plate_text: Field required; confidence: Input should be ≤ 1`` — field names first.

    ``union_tag`` is the ``schema`` of a message validated through a tagged union; pydantic puts
    it in front of every field name, and the sender needs the field name alone.
    """
    parts = []
    for e in err.errors():
        loc = list(e["loc"])
        if union_tag is not None and loc[:1] == [union_tag]:
            loc = loc[1:]
        message = e["msg"].removeprefix("Value error, ")
        parts.append(f"{'.'.join(str(p) for p in loc) or '(message)'}: {message}")
    return "; ".join(parts)


def detection_from_rule_event(event: Mapping[str, Any]) -> AnyDetection:
    """The IoT rule's output (``SELECT *, topic() AS mqtt_topic, ...``) as a validated detection.

    Raises RejectedDetection naming the offending field, or a topic that disagrees with the
    message's own gate and lane (a lane may only speak for itself).
    """
    if not isinstance(event, Mapping):
        raise RejectedDetection(f"message is {type(event).__name__}, not a JSON object")
    body = {k: v for k, v in event.items() if k not in (TOPIC_KEY, RECEIVED_KEY)}
    if "schema" not in body:
        raise RejectedDetection('schema: Field required (e.g. "PlateRead.v1")')
    try:
        detection = DETECTION_ADAPTER.validate_python(body)
    except ValidationError as err:
        raise RejectedDetection(describe_validation_error(err, union_tag=str(body["schema"]))) from err
    topic = event.get(TOPIC_KEY)
    if topic is not None:
        try:
            lane = parse_lane_topic(str(topic))
        except ValueError as err:
            raise RejectedDetection(f"{TOPIC_KEY}: {err}") from err
        if (lane.gate_id, lane.lane_id) != (detection.gate_id, detection.lane_id):
            raise RejectedDetection(
                f"gate_id/lane_id: message says {detection.gate_id}/{detection.lane_id} but was published on {topic}"
            )
    return detection


def rejected_message(source: str, raw: Any, reason: str) -> RejectedMessage:
    if isinstance(raw, bytes):
        try:
            text, encoding = raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            text, encoding = base64.b64encode(raw).decode(), "base64"
    elif isinstance(raw, str):
        text, encoding = raw, "utf-8"
    else:
        text, encoding = json.dumps(raw, default=str, ensure_ascii=False), "utf-8"
    return RejectedMessage(
        source=source, reason=reason[:2000], payload=text[:200_000], payload_encoding=encoding, received_at=utc_now()
    )  # type: ignore[arg-type]
