"""Schedule -> shelf-life watch: a queued consignment whose perishables near their deadline is alerted once.

The alert is recorded on the passage (a conditional write) and announced from the passages stream as
ShelfLifeAlert.v1, which the officers' notifier pushes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.config import settings
from smartgate.domain.lab import raise_shelf_life_alerts
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import utc_now


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    within = timedelta(hours=settings().shelf_life_alert_hours)
    alerted = raise_shelf_life_alerts(wiring.passages(), wiring.gates().gate_ids(), utc_now(), within)
    if alerted:
        logger.info("shelf-life alerts", passages=[p.passage_id for p in alerted])
        metrics.add_metric(name="ShelfLifeAlerts", unit="Count", value=len(alerted))
    return {"alerted": [p.passage_id for p in alerted]}
