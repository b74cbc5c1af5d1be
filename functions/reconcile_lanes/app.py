"""Lanes' barrier reports and their reconciliation with the cloud's decisions.

Two event sources, one job:

- the IoT rule on ``smartgate/+/lanes/+/barrier``: a lane's :class:`BarrierEvent` (a command acted on or
  refused, a state change, a manual override, a decision made offline) is kept once per event id; an
  offline decision is filed under its passage and reconciled at once if the cloud has decided it;
- the bus rule on ``ClearanceDecided``: the cloud decided a passage; if its lane decided it offline first,
  the two are reconciled now.

Reconciled means one ``LaneDecisionReconciled`` event on the bus (``conflict`` when the lane opened for a
truck the cloud did not clear GREEN: officers are alerted from there). Whichever source comes second does
it. The lane names the passage after its own first detection of the truck, the cloud after the first it
stored; the decision is found from the cloud passage's detections, and must name some of them and come
from the passage's own lane. The event is published before the decision is marked reconciled: a failure
in between publishes it again, under the same event id (and the same officer alert id).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from smartgate import wiring
from smartgate.domain.crossing import passage_id_for
from smartgate.domain.reconcile import reconcile
from smartgate.observability import logger, metrics, tracer
from smartgate.schemas import BarrierEvent, BarrierEventKind, ClearanceDecided, Passage, schema_name, utc_now
from smartgate.topics import parse_lane_topic


def _offline_keys(passage: Passage) -> list[str]:
    """The ids a lane may have given this passage: the lane names a truck after its own first detection,
    which is one of the passage's, while the cloud named it after the first it committed (not always the
    same under concurrent delivery)."""
    det = passage.detections
    found = [d for group in (det.plates, det.containers, det.passes, det.weights) for d in group]
    return list(dict.fromkeys([passage.passage_id, *(passage_id_for(d) for d in found)]))


def _reconcile(passage_id: str) -> dict[str, Any]:
    """Set the lane's offline decision on this cloud passage (if there is one) against the cloud's."""
    log = wiring.barrier_log()
    passage = wiring.passages().get(passage_id)
    if passage is None or passage.decision is None:  # its ClearanceDecided event comes back here
        return {"reconciled": False, "waiting": True}
    held = passage.detections.event_ids()
    for key in _offline_keys(passage):
        found = log.offline_decision(key)
        if found is None or found[1]:
            continue
        offline, _ = found
        if (offline.gate_id, offline.lane_id) != (passage.gate_id, passage.lane_id) or not held & set(
            offline.detection_ids
        ):
            logger.warning("offline decision does not name this passage", key=key, passage_id=passage_id)
            continue
        result = reconcile(offline.model_copy(update={"passage_id": passage.passage_id}), passage, utc_now())
        if result is None:
            continue
        # publish first, then mark: a failure in between publishes again (the event and alert ids are stable)
        wiring.event_publisher().publish([result])
        log.mark_reconciled(key, result.at)
        metrics.add_metric(name="OfflineDecisionsReconciled", unit="Count", value=1)
        if result.conflict:
            metrics.add_metric(name="OfflineConflicts", unit="Count", value=1)
        logger.info(
            "offline decision reconciled",
            passage_id=passage.passage_id,
            lane_passage_id=key,
            offline=result.offline_action,
            cloud=result.cloud_channel,
            conflict=result.conflict,
        )
        return {"reconciled": True, "conflict": result.conflict}
    return {"reconciled": False}


def _cloud_passage(report: BarrierEvent) -> str | None:
    """The cloud passage holding the detections the lane decided on (None while none has arrived)."""
    store = wiring.passages()
    for event_id in report.detection_ids:
        record = store.detection(event_id)
        if record is not None:
            return str(record.passage_id)
    return None


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
        cloud = _cloud_passage(report)  # None: its detections come later; their decision comes back here
        return {"recorded": recorded, **(_reconcile(cloud) if cloud else {"reconciled": False, "waiting": True})}
    return {"recorded": recorded}


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == schema_name(ClearanceDecided):
        decided = ClearanceDecided.model_validate(event["detail"])
        return _reconcile(decided.passage_id)
    return _barrier_event(event)
