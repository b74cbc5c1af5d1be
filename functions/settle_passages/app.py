"""Settle queue -> decide: a passage whose settle time ran out is decided with the evidence it has.

The ingest function puts a message on the settle queue, delayed until the passage's deadline, when a
detection leaves the passage waiting for more evidence. A passage decided meanwhile is left as it is.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.crossing import settle
from smartgate.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)
_deps = wiring.crossing_deps()


def record_handler(record: SQSRecord) -> None:
    body = json.loads(record.body)
    result = settle(str(body["passage_id"]), _deps)
    logger.info(
        "passage settled",
        passage_id=result.passage_id,
        outcome=result.outcome,
        channel=result.channel,
        command_id=result.command_id,
    )


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
