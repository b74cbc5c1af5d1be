"""Bus -> officers: a YELLOW or RED decision, a tightened one, perishables near their deadline, a lab
result, a lane gone offline, or a lane that opened offline for a truck the cloud did not clear GREEN
becomes one officer alert (a lane back online resolves its outage's alert), pushed to the gate's topic
for its severity in vi / zh / en.

The EventBridge rules in template.yaml filter; ``raise_alert`` decides again (a widened rule cannot page
officers for GREEN trucks) and stores the alert under an id stable per cause, so a redelivered event pages
nobody twice. The alert table is the outbox the console and ``smartgate alerts`` show.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from smartgate import wiring
from smartgate.domain.duty import raise_alert
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import (
    ClearanceDecided,
    LabResultPosted,
    LaneDecisionReconciled,
    LaneStatusChanged,
    PartnerExchangeAlarm,
    ShelfLifeAlert,
    schema_name,
)

EVENTS = {
    schema_name(m): m
    for m in (
        ClearanceDecided,
        ShelfLifeAlert,
        LabResultPosted,
        LaneStatusChanged,
        LaneDecisionReconciled,
        PartnerExchangeAlarm,
    )
}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    model = EVENTS.get(str(event.get("detail-type")))
    if model is None:
        logger.warning("not an event officers are alerted for", detail_type=event.get("detail-type"))
        return {"notified": False}
    alert = raise_alert(model.model_validate(event["detail"]), wiring.alert_deps())
    if alert is None:
        return {"notified": False}
    metrics.add_metric(name="OfficerAlerts", unit="Count", value=1)
    logger.info(
        "officer alert",
        alert_id=alert.alert_id,
        passage_id=alert.passage_id,
        kind=alert.kind,
        severity=alert.severity,
        role=alert.role,
        status=alert.status,
        deliveries=len(alert.deliveries),
    )
    return {"notified": alert.status.value != "suppressed", "alert_id": alert.alert_id, "status": alert.status.value}
