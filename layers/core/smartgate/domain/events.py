"""Bus events from a passage's stored changes (the passages table's stream is the outbox).

Each event's ``event_id`` comes from the change it announces, so a redelivered stream record
publishes the same ids and consumers drop the repeat.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from smartgate.domain.passages import Change, changes
from smartgate.schemas import (
    Channel,
    ClearanceDecided,
    Contract,
    Decision,
    LabResult,
    LabResultPosted,
    LabSample,
    LabSampleRegistered,
    Passage,
    PassageStateChanged,
    PassageStatus,
    ShelfLifeAlert,
)


def event_id(change_key: str) -> str:
    return f"evt-{hashlib.sha256(change_key.encode()).hexdigest()[:24]}"


def _ids(p: Passage) -> dict[str, object]:
    return {
        "passage_id": p.passage_id,
        "gate_id": p.gate_id,
        "lane_id": p.lane_id,
        "booking_id": p.booking_id,
        "consignment_id": p.consignment_id,
    }


def clearance_decided(
    passage: Passage, previous_channel: Channel | None = None, decision: Decision | None = None, key: str | None = None
) -> ClearanceDecided:
    decision = decision or passage.decision
    if decision is None:
        raise ValueError(f"passage {passage.passage_id} is not decided")
    return ClearanceDecided(
        event_id=event_id(key or f"{passage.passage_id}:decision:{decision.decision_no}"),
        **_ids(passage),
        direction=passage.direction,
        plate_text=passage.plate_text,
        channel=decision.channel,
        previous_channel=previous_channel,
        risk_score=decision.risk_score,
        rules_fired=decision.rules_fired,
        lab_tests=decision.lab_tests,
        ruleset_id=decision.ruleset_id,
        ruleset_version=decision.ruleset_version,
        decision_no=decision.decision_no,
        status=passage.status,
        decided_at=decision.decided_at,
    )


def event_for(change: Change, now: datetime) -> Contract:
    p, d = change.passage, change.detail
    ids = {"event_id": event_id(change.key), **_ids(p)}
    if change.kind == "decision":
        previous = d["previous_channel"]
        return clearance_decided(
            p, Channel(previous) if previous else None, Decision.model_validate(d["decision"]), change.key
        )
    if change.kind == "state":
        return PassageStateChanged(
            **ids,
            from_status=PassageStatus(d["from"]) if d["from"] else None,
            to_status=PassageStatus(d["to"]),
            reason=d["reason"] or d["to"],
            actor=d["by"],
            at=p.status_at,
        )
    if change.kind == "lab_sample":
        deadline = p.consignment.shelf_life_deadline() if p.consignment else None
        sample = LabSample.model_validate(d["sample"])
        return LabSampleRegistered(**ids, sample=sample, perishable_deadline=deadline, at=sample.taken_at)
    if change.kind == "lab_result":
        result = LabResult.model_validate(d["result"])
        return LabResultPosted(**ids, sample_id=d["sample_id"], result=result, status=p.status, at=result.posted_at)
    deadline = datetime.fromisoformat(d["alert"].split(":", 1)[1])
    return ShelfLifeAlert(
        **ids, status=p.status, deadline=deadline, hours_left=round((deadline - now).total_seconds() / 3600, 1), at=now
    )


def passage_events(old: Passage | None, new: Passage, now: datetime) -> list[Contract]:
    """The bus events a stored write of a passage announces."""
    return [event_for(change, now) for change in changes(old, new)]
