"""Bus -> officers: a YELLOW or RED clearance is pushed to the officer alerts topic.

The EventBridge rule in template.yaml already filters on the channel; the handler re-checks, so a
widened rule cannot page officers for GREEN trucks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.parser import envelopes, parse
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import Channel, ClearanceDecided


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    decided: ClearanceDecided = parse(event=event, model=ClearanceDecided, envelope=envelopes.EventBridgeEnvelope)
    if decided.channel == Channel.GREEN:
        return {"notified": False}
    why = "; ".join(rule.explanation for rule in decided.rules_fired)
    wiring.officer_notifier().notify(
        subject=f"{decided.channel.value} channel: {decided.plate_text} at {decided.gate_id}/{decided.lane_id}",
        message=decided,
        attributes={"channel": decided.channel.value, "gate_id": decided.gate_id},
    )
    logger.info("officers notified", passage_id=decided.passage_id, channel=decided.channel, why=why)
    return {"notified": True, "passage_id": decided.passage_id}
