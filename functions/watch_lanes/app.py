"""Every minute: a lane whose heartbeats stopped (none for LANE_OFFLINE_SECONDS) is held offline, once, with
LaneStatusChanged(online=false) on the bus; officers are alerted from there. RecordLaneHealthFunction says
when it is back. The event goes out before the lane is marked, so a failure in between repeats the event
(same event id) rather than losing it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.config import settings
from smartgate.domain.heartbeats import silent, went_offline
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import utc_now


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    now = utc_now()
    health = wiring.lane_health()
    offline = []
    for last in silent(health.online_lanes(), now, timedelta(seconds=settings().lane_offline_seconds)):
        wiring.event_publisher().publish([went_offline(last, now)])
        if health.mark_offline(last, now):
            offline.append(f"{last.gate_id}/{last.lane_id}")
            logger.warning("lane offline", gate_id=last.gate_id, lane_id=last.lane_id, last_heartbeat=last.at)
    if offline:
        metrics.add_metric(name="LanesWentOffline", unit="Count", value=len(offline))
    return {"offline": offline}
