"""Schedule -> no-shows: a booking whose window ended more than the grace ago, with no vehicle seen, becomes
NO_SHOW; its window is freed and its company's open-booking limit drops for 30 days."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.trading import sweep_no_shows
from smartgate.observability import logger, metrics, tracer


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    done = sweep_no_shows(wiring.trade_deps())
    if done:
        logger.info("no-shows", bookings=done)
        metrics.add_metric(name="NoShows", unit="Count", value=len(done))
    return {"no_shows": done}
