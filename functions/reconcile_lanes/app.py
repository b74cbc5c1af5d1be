"""Lanes' barrier reports and their reconciliation with the cloud's decisions.

Two event sources, one job:

- the IoT rule on ``smartgate/+/lanes/+/barrier``: a lane's :class:`BarrierEvent` (a command acted on or
  refused, a state change, a manual override, a decision made offline) is kept once per event id; an
  offline decision is filed under its passage and reconciled at once if the cloud has decided it;
- the bus rule on ``ClearanceDecided``: the cloud decided a passage; if its lane decided it offline first,
  the two are reconciled now.

Reconciled means one ``LaneDecisionReconciled`` event on the bus (``conflict`` when the lane opened for a
truck the cloud did not clear GREEN: officers are alerted from there). Whichever source comes second does
it, once: the mark is a conditional write, so a redelivery or a race announces nothing twice.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from smartgate import wiring
from smartgate.domain.reconcile import reconcile
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import BarrierEvent, BarrierEventKind, ClearanceDecided, schema_name, utc_now
from smartgate.topics import parse_lane_topic


def _reconcile(passage_id: str) -> dict[str, Any]:
    log = wiring.barrier_log()
    found = log.offline_decision(passage_id)
    if found is None or found[1]:
        return {"reconciled": False}
    offline, _ = found
    passage = wiring.passages().get(passage_id)
    result = reconcile(offline, passage, utc_now()) if passage is not None else None
    if result is None:  # the cloud has not decided it yet: its ClearanceDecided event comes back here
        return {"reconciled": False, "waiting": True}
    if not log.mark_reconciled(passage_id, result.at):
        return {"reconciled": False}
    wiring.event_publisher().publish([result])
    metrics.add_metric(name="OfflineDecisionsReconciled", unit="Count", value=1)
    if result.conflict:
        metrics.add_metric(name="OfflineConflicts", unit="Count", value=1)
    logger.info(
        "offline decision reconciled",
        passage_id=passage_id,
        offline=result.offline_action,
        cloud=result.cloud_channel,
        conflict=result.conflict,
    )
    return {"reconciled": True, "conflict": result.conflict}


def _barrier_event(event: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in event.items() if k not in ("mqtt_topic", "received_at_ms")}
    try:
        report = BarrierEvent.model_validate(body)
        topic = parse_lane_topic(str(event.get("mqtt_topic", "")))
    except (ValidationError, ValueError) as err:
        logger.warning("barrier event refused", error=str(err)[:300], topic=event.get("mqtt_topic"))
        return {"recorded": False}
    if (topic.gate_id, topic.lane_id, topic.channel) != (report.gate_id, report.lane_id, "barrier"):
        logger.warning("barrier event for another lane's topic refused", topic=event.get("mqtt_topic"))
        return {"recorded": False}
    recorded = wiring.barrier_log().record(report)
    logger.info(
        "barrier event",
        kind=report.kind,
        gate_id=report.gate_id,
        lane_id=report.lane_id,
        state=report.state,
        reason=report.reason,
        operator=report.operator,
        recorded=recorded,
    )
    if report.kind == BarrierEventKind.OFFLINE_DECISION and report.passage_id:
        return {"recorded": recorded, **_reconcile(report.passage_id)}
    return {"recorded": recorded}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == schema_name(ClearanceDecided):
        decided = ClearanceDecided.model_validate(event["detail"])
        return _reconcile(decided.passage_id)
    return _barrier_event(event)
