"""Passages table stream -> the audit trail: every decision, state change and lab step, chained per gate.

Each entry links to the previous entry of its gate by hash (``smartgate audit verify`` finds the first
broken link); a decision entry keeps the facts and the rule set digest it was made on (``smartgate
audit replay``). A redelivered record is not recorded twice (entry ids come from the change).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.adapters.dynamodb import passage_change
from smartgate.domain.audit import record as record_changes
from smartgate.domain.passages import changes
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import utc_now

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def record_handler(record: DynamoDBRecord) -> None:
    old, new = passage_change(record)
    if new is None:
        return
    written = record_changes(wiring.audit(), changes(old, new), utc_now())
    if written:
        logger.info("audited", passage_id=new.passage_id, entries=[f"{e.gate_id}#{e.seq} {e.kind}" for e in written])


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
