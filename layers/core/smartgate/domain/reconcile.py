"""Reconciling a lane's offline decisions with the cloud's, once the lane has caught up.

A lane that heard nothing from the cloud decides a truck itself (only a valid pass for the plate opens;
``smartgate_edge.offline``). Its decision (a BarrierEvent of kind ``offline_decision``) and the truck's
detections reach the cloud after the link is back, in the lane's order; the cloud decides the passage as
usual. This module sets the two side by side: the lane opened and the cloud said GREEN — agreed; the lane
opened and the cloud did not say GREEN — a conflict officers must act on (the truck has crossed); the
lane held — no conflict (the truck waits, the cloud's own command or an officer moves it).
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from smartgate.schemas import (
    BarrierAction,
    BarrierEvent,
    BarrierEventKind,
    Channel,
    LaneDecisionReconciled,
    Passage,
)


def reconcile(offline: BarrierEvent, passage: Passage, now: datetime) -> LaneDecisionReconciled | None:
    """The two decisions side by side, or None while the cloud has not decided the passage."""
    if offline.kind != BarrierEventKind.OFFLINE_DECISION or offline.action is None or offline.passage_id is None:
        raise ValueError("kind: only an offline decision is reconciled")
    decision = passage.decision
    if decision is None:
        return None
    conflict = offline.action == BarrierAction.OPEN and decision.channel != Channel.GREEN
    digest = hashlib.sha256(f"{offline.passage_id}|{offline.event_id}".encode()).hexdigest()[:24]
    return LaneDecisionReconciled(
        event_id=f"rec-{digest}",
        gate_id=offline.gate_id,
        lane_id=offline.lane_id,
        passage_id=offline.passage_id,
        plate_text=offline.plate_text or passage.plate_text,
        booking_id=offline.booking_id,
        offline_action=offline.action,
        offline_reason=offline.reason,
        offline_at=offline.at,
        cloud_channel=decision.channel,
        cloud_reason=decision.reason()[:1000],
        conflict=conflict,
        at=now,
    )
