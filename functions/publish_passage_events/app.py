"""Passages table stream -> the bus: each stored change of a passage is announced as its event.

The stream is the outbox: a decision, a state change, a lab step or an alert is stored first and
announced from the change record, so nothing is announced without being stored, nor stored without
being announced. ClearanceDecided.v2, PassageStateChanged.v1, LabSampleRegistered.v1,
LabResultPosted.v1, ShelfLifeAlert.v1; event ids come from the change, so a redelivered record
publishes the same ids. A failing record is reported back alone (ReportBatchItemFailures).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.adapters.dynamodb import passage_change
from smartgate.domain.events import passage_events
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import utc_now

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    old, new = passage_change(record)
    if new is None:
        return
    events = passage_events(old, new, utc_now())
    if events:
        wiring.event_publisher().publish(events)
        logger.info("passage events published", passage_id=new.passage_id, events=[type(e).__name__ for e in events])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
