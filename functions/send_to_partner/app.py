"""Our facts -> the partner gate: signed, minimised cross-border messages on the outbound bus.

Two sources: the timeline table's stream (a booking made -> ExpectedArrival) and the bus's
PassageStateChanged of booked vehicles (released -> VehicleCleared, held or in inspection ->
ConsignmentHeld, refused -> ConsignmentRefused, departed -> VehicleDeparted). Each event goes through the
bilateral agreement's allow-list (smartgate/data/partner.yaml) and is signed (JWS, our key id), kept once in
the exchange table (our archive, and a redelivery sends nothing twice), then put on the outbound bus, whose
rule forwards it to the partner's bus or API destination and whose archive keeps it. A gate without a
partner agreement sends nothing.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import partner, wiring
from smartgate.adapters.partner import Claim, InFlight
from smartgate.config import settings
from smartgate.domain.exchange import expected_arrival, passage_event
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import PassageStateChanged, schema_name, utc_now
from smartgate.schemas.api import TimelineEntry
from smartgate.schemas.partner import PartnerEvent

processor = BatchProcessor(event_type=EventType.DynamoDBStreams)


def _send(event: PartnerEvent) -> bool:
    agreement = partner.default_agreements(settings().stage).between(event.from_gate, event.to_gate)
    key_id, key = wiring.partner_key()
    message = partner.minimise_and_sign(event, agreement, key_id, key)
    store = wiring.exchange()
    claim = store.claim("out", message, utc_now())
    if claim is Claim.DONE:
        return False  # sent before (a redelivered record or event)
    if claim is Claim.BUSY:  # being sent by another invocation: the record is retried
        raise InFlight(f"{message.message_id} is being sent by another invocation")
    try:
        wiring.partner_bus().send([message])
    except Exception:
        store.forget("out", message)  # the retry sends it
        raise
    store.done("out", message)
    metrics.add_metric(name="PartnerMessagesSent", unit="Count", value=1)
    logger.info("sent to the partner", type=message.type, message_id=message.message_id, to_gate=message.to_gate)
    return True


def _partner_of(gate_id: str) -> str | None:
    return partner.default_agreements(settings().stage).partner_of(gate_id)


def _plain(value: Any) -> str:
    """A string attribute of a stream image (DynamoDB JSON or already plain)."""
    return str(value["S"] if isinstance(value, dict) else value)


def record_handler(record: DynamoDBRecord) -> None:
    """A timeline row: only a new booking ("booked") is announced."""
    if record.event_name is None or record.event_name.name != "INSERT" or record.dynamodb is None:
        return
    image = record.dynamodb.new_image
    entry = TimelineEntry.model_validate_json(_plain(image["body"]))
    if entry.status != "booked":
        return
    found = wiring.trade_store().booked(_plain(image["booking_id"]))
    if found is None or found[1] is None:
        return
    booking, consignment = found
    other = _partner_of(booking.gate_id)
    if other is not None:
        _send(expected_arrival(booking, consignment, booking.gate_id, other, entry.at))


def _passage_changed(detail: dict[str, Any]) -> dict[str, Any]:
    event = PassageStateChanged.model_validate(detail)
    other = _partner_of(event.gate_id)
    if other is None or not event.booking_id:
        return {"sent": False}
    passage = wiring.passages().get(event.passage_id)
    outbound = passage_event(event, passage, event.gate_id, other) if passage else None
    return {"sent": _send(outbound) if outbound else False}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == schema_name(PassageStateChanged):
        return _passage_changed(event["detail"])
    return dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
