"""Escalation queue -> the next role: an alert nobody acknowledged in time goes to the next role (customs,
border guard or quarantine first; then the supervisor). An acknowledged alert, or one whose passage was
acted on, stops here. The message was delayed until the alert was due (``SqsEscalations``).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.duty import escalate_due
from smartgate.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    alert = escalate_due(str(body["alert_id"]), int(body["level"]), wiring.alert_deps())
    if alert is not None:
        logger.info("alert due", alert_id=alert.alert_id, level=alert.level, role=alert.role, status=alert.status)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
