"""Bus -> trader: a booked vehicle's passage changed (arrived, held, in inspection, sampled, cleared,
refused, crossed); its booking's status and timeline follow, and the trader is told.

Delivery is at least once: the timeline entry is keyed by the event, and a booking's status only moves on.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.trading import passage_changed
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import PassageStateChanged


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = PassageStateChanged.model_validate(event["detail"])
    shown = passage_changed(wiring.trade_deps(), change)
    if shown:
        logger.info("booking followed", booking_id=change.booking_id, status=shown)
        metrics.add_metric(name="BookingUpdates", unit="Count", value=1)
    return {"booking_id": change.booking_id, "shown": shown}
