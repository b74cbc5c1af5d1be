"""Passages table stream -> the bus: a passage that became DECIDED is announced as ClearanceDecided.v1.

The stream is the outbox: the decision is stored first and announced from the change record, so a
decision is never announced without being stored, nor stored without being announced. Records are
processed one by one; a failing record is reported back alone (ReportBatchItemFailures).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.crossing import clearance_decided
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import Passage, PassageStatus

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _passage(image: dict[str, Any] | None) -> Passage | None:
    return Passage.model_validate_json(image["body"]) if image and "body" in image else None


def record_handler(record: DynamoDBRecord) -> None:
    new = _passage(record.dynamodb.new_image if record.dynamodb else None)
    old = _passage(record.dynamodb.old_image if record.dynamodb else None)
    if new is None or new.status != PassageStatus.DECIDED:
        return
    if old is not None and old.status == PassageStatus.DECIDED and old.channel == new.channel:
        return
    event = clearance_decided(new)
    wiring.event_publisher().publish([event])
    logger.info("clearance announced", passage_id=new.passage_id, channel=new.channel, event_id=event.event_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                    context=context)
