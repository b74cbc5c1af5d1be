"""Outbox table stream -> the trader topic: each new notification of a company goes out by SNS (e-mail /
SMS subscriptions filter on ``company_id`` when deployed).

The outbox is written first — in the same transaction as the booking it tells of, or on its own for later
steps — and sent from its change record: nothing is sent that was not stored, nor stored and never sent.
Only new entries are sent; a redelivered event overwrites its entry (MODIFY) and is not sent again. A
failing record is reported back alone (ReportBatchItemFailures).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.adapters.trade import outbox_note, publish_note
from smartgate.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    note = outbox_note(record.dynamodb.new_image)
    client, topic_arn = wiring.trader_topic()
    publish_note(client, topic_arn, note)
    logger.info("trader told", company_id=note.company_id, kind=note.kind, booking_id=note.booking_id)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
