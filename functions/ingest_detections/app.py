"""IoT rule -> ingest: a lane detection becomes a stored passage, a decision and a barrier command.

Invoked asynchronously by the topic rule on ``smartgate/+/lanes/+/detections``. A message that is
not a valid detection is kept with its reason in the rejected-detections queue and not retried;
any other failure raises, so Lambda retries it and finally sends it to the same queue (DLQ).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.config import settings
from smartgate.domain.crossing import IngestResult, ingest_detection
from smartgate.domain.intake import TOPIC_KEY, RejectedDetection, detection_from_rule_event, rejected_message
from smartgate.observability import logger, metrics, tracer
from smartgate.ports import AnyDetection

idempotency = IdempotencyConfig(event_key_jmespath="event_id", expires_after_seconds=24 * 3600)
persistence = DynamoDBPersistenceLayer(table_name=settings().require("idempotency_table"))
# Built during the init phase, so the first truck after a cold start does not wait for client set-up.
wiring.crossing_deps()
wiring.rejected_sink()


@idempotent_function(data_keyword_argument="detection", config=idempotency, persistence_store=persistence,
                     output_serializer=PydanticSerializer(IngestResult))
def handle(detection: AnyDetection) -> IngestResult:
    return ingest_detection(detection, wiring.crossing_deps())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    source = str(event.get(TOPIC_KEY, "iot-rule")) if isinstance(event, dict) else "iot-rule"
    try:
        detection = detection_from_rule_event(event)
    except RejectedDetection as err:
        wiring.rejected_sink().put(rejected_message(source, event, err.reason))
        logger.warning("detection rejected", source=source, reason=err.reason)
        metrics.add_metric(name="DetectionsRejected", unit=MetricUnit.Count, value=1)
        return {"outcome": "rejected", "reason": err.reason}
    idempotency.register_lambda_context(context)
    logger.append_keys(gate_id=detection.gate_id, lane_id=detection.lane_id, event_id=detection.event_id)
    result = handle(detection=detection)
    logger.info("detection ingested", outcome=result.outcome, passage_id=result.passage_id,
                channel=result.channel)
    if result.outcome == "decided":
        metrics.add_metric(name="PassagesDecided", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name=f"{result.channel}Channel", unit=MetricUnit.Count, value=1)
    return result.model_dump(mode="json")
