"""IoT rule -> ingest: a lane detection joins its passage, which is decided and answered with a barrier command.

Invoked asynchronously by the topic rule on ``smartgate/+/lanes/+/detections``. A message that is
not a valid detection, or comes from a lane the gate registry does not know, is kept with its reason
in the rejected-detections queue and not retried; any other failure raises, so Lambda retries it and
finally sends it to the same queue (DLQ). Redelivery is safe: the detection's event_id is written in
the same transaction as its passage.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.adapters.dynamodb import requests_made
from smartgate.domain.crossing import CrossingDeps, ingest_detection
from smartgate.domain.intake import TOPIC_KEY, RejectedDetection, detection_from_rule_event, rejected_message
from smartgate.observability import logger, metrics, tracer
from smartgate.ports import CommandPublisher
from smartgate.schemas import BarrierCommand


class _Metered:
    """Notes how many DynamoDB requests had been made when the barrier command went out."""

    def __init__(self, inner: CommandPublisher) -> None:
        self.inner = inner
        self.requests_before: int | None = None

    def publish(self, command: BarrierCommand) -> None:
        self.requests_before = requests_made()
        self.inner.publish(command)


# Built during the init phase, so the first truck after a cold start does not wait for client set-up.
_deps = wiring.crossing_deps()
wiring.rejected_sink()
wiring.rule_sets().current()  # reads (and archives) the rule sets in force


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = str(event.get(TOPIC_KEY, "iot-rule")) if isinstance(event, dict) else "iot-rule"
    start = requests_made()
    commands = _Metered(_deps.commands)
    deps = CrossingDeps(**{**_deps.__dict__, "commands": commands})
    try:
        detection = detection_from_rule_event(event)
        logger.append_keys(gate_id=detection.gate_id, lane_id=detection.lane_id, event_id=detection.event_id)
        result = ingest_detection(detection, deps)
    except RejectedDetection as err:
        wiring.rejected_sink().put(rejected_message(source, event, err.reason))
        logger.warning("detection rejected", source=source, reason=err.reason)
        metrics.add_metric(name="DetectionsRejected", unit=MetricUnit.Count, value=1)
        return {"outcome": "rejected", "reason": err.reason}
    before_command = None if commands.requests_before is None else commands.requests_before - start
    logger.info(
        "detection ingested",
        outcome=result.outcome,
        passage_id=result.passage_id,
        channel=result.channel,
        status=result.status,
        command_id=result.command_id,
        dynamodb_requests=requests_made() - start,
        dynamodb_requests_before_command=before_command,
    )
    if result.outcome in ("decided", "tightened"):
        metrics.add_metric(name="PassagesDecided", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"{result.channel}Channel", unit=MetricUnit.Count, value=1)
    return {**result.model_dump(mode="json"), "dynamodb_requests_before_command": before_command}
