"""Lane heartbeats (IoT rule on ``smartgate/+/lanes/+/health``) -> the lane's newest health, which the
officers' console shows (camera, frame rate, queue, and online while heartbeats keep coming). The first
heartbeat of a lane the cloud held offline puts LaneStatusChanged(online=true) on the bus."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from smartgate import wiring
from smartgate.domain.heartbeats import back_online
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import LaneHealth
from smartgate.topics import parse_lane_topic


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    body = {k: v for k, v in event.items() if k not in ("mqtt_topic", "received_at_ms")}
    try:
        health = LaneHealth.model_validate(body)
        topic = parse_lane_topic(str(event.get("mqtt_topic", "")))
    except (ValidationError, ValueError) as err:
        logger.warning("lane health message refused", error=str(err)[:300], topic=event.get("mqtt_topic"))
        return {"recorded": False}
    if (topic.gate_id, topic.lane_id) != (health.gate_id, health.lane_id):
        logger.warning("lane health for another lane's topic refused", topic=event.get("mqtt_topic"))
        return {"recorded": False}
    kept, before_outage = wiring.lane_health().record(health)
    if before_outage is not None:  # the lane was held offline: it is back
        wiring.event_publisher().publish([back_online(before_outage, health)])
        logger.info("lane back online", gate_id=health.gate_id, lane_id=health.lane_id, since=before_outage.at)
    return {"recorded": kept, "back_online": before_outage is not None}
