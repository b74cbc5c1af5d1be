"""Bus -> officers: a YELLOW or RED clearance, a tightened decision or a shelf-life alert is pushed to them.

The EventBridge rules in template.yaml already filter; the handler re-checks, so a widened rule
cannot page officers for GREEN trucks.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import Channel, ClearanceDecided, ShelfLifeAlert, schema_name


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    kind = event.get("detail-type")
    if kind == schema_name(ShelfLifeAlert):
        alert = ShelfLifeAlert.model_validate(event["detail"])
        subject = (
            f"Perishable goods: {alert.hours_left:.0f} h to shelf-life deadline, passage {alert.passage_id} "
            f"at {alert.gate_id} ({alert.status.value})"
        )
        wiring.officer_notifier().notify(subject, alert, {"kind": "shelf_life", "gate_id": alert.gate_id})
        logger.info("officers notified", passage_id=alert.passage_id, kind="shelf_life")
        return {"notified": True, "passage_id": alert.passage_id}
    decided = ClearanceDecided.model_validate(event["detail"])
    if decided.channel == Channel.GREEN or decided.previous_channel == decided.channel:
        return {"notified": False}  # nothing for an officer, or nothing new (the same channel, more evidence)
    what = (
        f"tightened {decided.previous_channel.value} -> {decided.channel.value}"
        if decided.previous_channel
        else f"{decided.channel.value} channel"
    )
    wiring.officer_notifier().notify(
        subject=f"{what}: {decided.plate_text or 'no plate read'} at {decided.gate_id}/{decided.lane_id}",
        message=decided,
        attributes={"channel": decided.channel.value, "gate_id": decided.gate_id},
    )
    logger.info(
        "officers notified",
        passage_id=decided.passage_id,
        channel=decided.channel,
        why="; ".join(rule.explanation for rule in decided.rules_fired),
    )
    return {"notified": True, "passage_id": decided.passage_id}
