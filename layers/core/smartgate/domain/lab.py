"""The lab and the queues: register a sample, post its result, see who waits (perishables first).

Each step is a conditional write of the passage (read, change, write if nobody wrote in between,
else again); repeating a request with the same data changes nothing, and other data under the same
sample id is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from smartgate.domain.passages import QUEUED, PassageError, post_result, queue_order, register_sample, shelf_life_alerts
from smartgate.domain.stored import change_stored
from smartgate.ports import PassageStore
from smartgate.schemas import LabResult, LabSample, Passage, PassageStatus


class PassageNotFound(LookupError):
    pass


def change_passage(store: PassageStore, passage_id: str, change: Callable[[Passage], Passage]) -> Passage:
    """Apply ``change`` to the stored passage with a conditional write, retrying on a concurrent one."""

    def save(read: Passage, changed: Passage) -> Passage:
        stored = changed.model_copy(update={"version": read.version + 1})
        store.save(stored, read.version)
        return stored

    found = change_stored(lambda: store.get(passage_id), change, save, f"passage {passage_id}")
    if found is None:
        raise PassageNotFound(f"passage {passage_id} not found")
    return found


def take_sample(store: PassageStore, passage_id: str, sample: LabSample) -> Passage:
    return change_passage(store, passage_id, lambda p: register_sample(p, sample))


def record_result(store: PassageStore, passage_id: str, sample_id: str, result: LabResult) -> Passage:
    return change_passage(store, passage_id, lambda p: post_result(p, sample_id, result))


def queues(store: PassageStore, gate_id: str) -> dict[str, list[Passage]]:
    """The gate's inspection queue (held and in inspection) and lab queue (sampled, or needing a sample)."""
    waiting = store.in_status(gate_id, QUEUED)
    lab = [
        p
        for p in waiting
        if p.status == PassageStatus.SAMPLED or (p.decision is not None and p.decision.lab_tests and not p.lab_samples)
    ]
    inspection = [p for p in waiting if p not in lab]
    return {"inspection": queue_order(inspection), "lab": queue_order(lab)}


def raise_shelf_life_alerts(
    store: PassageStore, gate_ids: Sequence[str], now: datetime, within: timedelta
) -> list[Passage]:
    """Record an alert on every queued passage whose perishables near their deadline (once per deadline).

    The stored alert becomes a ShelfLifeAlert event through the passage stream (the outbox).
    """
    alerted = []
    for gate_id in gate_ids:
        for passage, key in shelf_life_alerts(store.in_status(gate_id, QUEUED), now, within):

            def add(p: Passage, key: str = key) -> Passage:
                if key in p.alerts_sent:
                    return p
                return p.model_copy(update={"alerts_sent": [*p.alerts_sent, key]})

            alerted.append(change_passage(store, passage.passage_id, add))
    return alerted


__all__ = [
    "PassageError",
    "PassageNotFound",
    "change_passage",
    "queues",
    "raise_shelf_life_alerts",
    "record_result",
    "take_sample",
]
