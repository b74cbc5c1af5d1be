"""A passage's life: its states and legal moves, deciding and tightening, the lab, and what changed.

Pure. Every function returns a new passage with ``version`` one higher; the store writes it only if
the stored version is still the one it was made from (no lost update). An illegal move raises
:class:`IllegalTransition` naming both states.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from smartgate.domain.rules import SEVERITY, Evaluation, RuleSet
from smartgate.schemas import (
    Channel,
    Decision,
    FactValue,
    LabResult,
    LabSample,
    Passage,
    PassageStatus,
)

S = PassageStatus
DECISION_STATUS = {Channel.GREEN: S.RELEASED, Channel.YELLOW: S.HELD, Channel.RED: S.IN_INSPECTION}
TRANSITIONS: dict[PassageStatus, frozenset[PassageStatus]] = {
    S.OPEN: frozenset({S.RELEASED, S.HELD, S.IN_INSPECTION}),
    S.RELEASED: frozenset({S.HELD, S.IN_INSPECTION, S.DEPARTED}),
    S.HELD: frozenset({S.RELEASED, S.REFUSED, S.IN_INSPECTION, S.SAMPLED}),
    S.IN_INSPECTION: frozenset({S.HELD, S.SAMPLED, S.RELEASED, S.REFUSED}),
    S.SAMPLED: frozenset({S.RELEASED, S.REFUSED}),
    S.REFUSED: frozenset({S.DEPARTED}),
    S.DEPARTED: frozenset(),
}
QUEUED = (S.HELD, S.IN_INSPECTION, S.SAMPLED)
"""States in which a vehicle waits at the gate (inspection and lab queues, shelf-life watch)."""


class IllegalTransition(ValueError):
    pass


class PassageError(ValueError):
    """A request on a passage that its state does not allow (a lab result for an unknown sample ...)."""


def bump(passage: Passage, **changes: Any) -> Passage:
    return passage.model_copy(update={**changes, "version": passage.version + 1})


def transition(passage: Passage, to: PassageStatus, reason: str, at: datetime, by: str = "clearance") -> Passage:
    if to not in TRANSITIONS[passage.status]:
        raise IllegalTransition(f"status: a passage cannot go from {passage.status.value} to {to.value}")
    return bump(passage, status=to, status_reason=reason[:1000], status_at=at, status_by=by)


# --------------------------------------------------------------------------- deciding


@dataclass(frozen=True)
class Outcome:
    """What applying an evaluation did."""

    passage: Passage
    decided: bool = False  # a new decision was recorded
    tightened: bool = False  # ... stricter than the one before
    waiting: bool = False  # still open: evidence may come before the settle deadline


def apply_evaluation(
    passage: Passage,
    evaluation: Evaluation,
    rule_set: RuleSet,
    facts: dict[str, FactValue],
    now: datetime,
    *,
    settled: bool = False,
    settle_clock: datetime | None = None,
) -> Outcome:
    """Decide, keep waiting, or tighten: never loosen a decision that was made.

    An open passage is decided when no fired rule waits for evidence, or when ``settled`` (the settle
    time is over), or when ``settle_clock`` (``now`` if not given) has reached its settle deadline. A
    decided one gets a new decision only if the evaluation is at least as strict and differs; if it is
    stricter, the passage is held (its status follows the stricter channel when its current status
    allows it).
    """
    previous = passage.decision
    if previous is None:
        deadline = passage.settle_deadline or (passage.opened_at + timedelta(seconds=rule_set.settings.settle_seconds))
        if evaluation.awaiting and not settled and (settle_clock or now) < deadline:
            return Outcome(
                bump(passage, settle_deadline=deadline) if passage.settle_deadline is None else passage, waiting=True
            )
    elif SEVERITY[evaluation.channel] < SEVERITY[previous.channel] or (
        evaluation.channel == previous.channel and evaluation.rule_ids == tuple(r.rule_id for r in previous.rules_fired)
    ):
        return Outcome(passage)
    decision = Decision(
        decision_no=previous.decision_no + 1 if previous else 1,
        channel=evaluation.channel,
        risk_score=evaluation.risk_score,
        rules_fired=list(evaluation.fired),
        lab_tests=list(evaluation.lab_tests),
        ruleset_id=rule_set.id,
        ruleset_version=rule_set.version,
        ruleset_digest=rule_set.digest,
        facts=facts,
        settled=settled and bool(evaluation.awaiting),
        decided_at=now,
    )
    tightened = previous is not None and SEVERITY[decision.channel] > SEVERITY[previous.channel]
    status = passage.status
    target = DECISION_STATUS[decision.channel]
    reason = decision.reason()
    if previous is None or (tightened and target in TRANSITIONS[status]):
        status = target
    moved = status != passage.status
    changed = bump(
        passage,
        decision=decision,
        status=status,
        status_reason=reason[:1000] if moved else passage.status_reason,
        status_at=now if moved else passage.status_at,
        status_by="clearance" if moved else passage.status_by,
    )
    return Outcome(changed, decided=True, tightened=tightened)


# --------------------------------------------------------------------------- the lab


def register_sample(passage: Passage, sample: LabSample) -> Passage:
    """A sample taken for the lab; the passage is SAMPLED. The same sample again changes nothing."""
    known = next((s for s in passage.lab_samples if s.sample_id == sample.sample_id), None)
    if known is not None:
        if known.model_copy(update={"result": None}) == sample.model_copy(update={"result": None}):
            return passage
        raise PassageError(f"sample_id: {sample.sample_id} is already registered with other data")
    if passage.status not in (S.HELD, S.IN_INSPECTION, S.SAMPLED):
        raise IllegalTransition(f"status: a sample cannot be taken from a passage that is {passage.status.value}")
    tests = ", ".join(t.value for t in sample.tests)
    samples = [*passage.lab_samples, sample]
    if passage.status == S.SAMPLED:
        return bump(passage, lab_samples=samples)
    return transition(
        passage, S.SAMPLED, f"sample {sample.sample_id} taken for {tests}", sample.taken_at, f"lab:{sample.taken_by}"
    ).model_copy(update={"lab_samples": samples})


def post_result(passage: Passage, sample_id: str, result: LabResult) -> Passage:
    """A lab result: a fail refuses the consignment; when every sample passed, it is released."""
    index = next((i for i, s in enumerate(passage.lab_samples) if s.sample_id == sample_id), None)
    if index is None:
        known = ", ".join(s.sample_id for s in passage.lab_samples) or "none"
        raise PassageError(f"sample_id: no sample {sample_id} on passage {passage.passage_id} (samples: {known})")
    sample = passage.lab_samples[index]
    if sample.result is not None:
        if sample.result == result:
            return passage
        raise PassageError(f"result: sample {sample_id} already has a result ({sample.result.outcome})")
    samples = list(passage.lab_samples)
    samples[index] = sample.model_copy(update={"result": result})
    with_result = passage.model_copy(update={"lab_samples": samples})
    failed = [p.name for p in result.parameters if not p.ok]
    if result.outcome == "fail":
        why = f"lab sample {sample_id} failed" + (f" ({', '.join(failed)})" if failed else "")
        return transition(with_result, S.REFUSED, why, result.posted_at, f"lab:{result.tested_by}")
    if all(s.result is not None and s.result.outcome == "pass" for s in samples):
        return transition(
            with_result, S.RELEASED, f"lab sample {sample_id} passed", result.posted_at, f"lab:{result.tested_by}"
        )
    return bump(with_result)


def depart(passage: Passage, at: datetime) -> Passage | None:
    """The vehicle left the lane (the next one arrived): released and refused vehicles depart."""
    if passage.status not in (S.RELEASED, S.REFUSED):
        return None
    return transition(passage, S.DEPARTED, "the vehicle left the lane", at, "lane")


# --------------------------------------------------------------------------- what changed


@dataclass(frozen=True)
class Change:
    """One thing that happened to a passage between two stored versions (for events and the audit)."""

    kind: str  # decision | state | lab_sample | lab_result | alert
    key: str  # stable: the same change always has the same key
    passage: Passage  # the passage after the change
    detail: dict[str, Any]


def changes(old: Passage | None, new: Passage) -> list[Change]:
    """What a stored write did, from the old and new image (a stream record)."""
    out: list[Change] = []
    pid = new.passage_id
    old_decision = old.decision if old else None
    if new.decision and (old_decision is None or new.decision.decision_no > old_decision.decision_no):
        out.append(
            Change(
                "decision",
                f"{pid}:decision:{new.decision.decision_no}",
                new,
                {
                    "decision": new.decision.model_dump(mode="json"),
                    "previous_channel": old_decision.channel.value if old_decision else None,
                },
            )
        )
    if old is None or old.status != new.status:
        out.append(
            Change(
                "state",
                f"{pid}:state:{new.version}",
                new,
                {
                    "from": old.status.value if old else None,
                    "to": new.status.value,
                    "reason": new.status_reason,
                    "by": new.status_by,
                },
            )
        )
    old_samples = {s.sample_id: s for s in (old.lab_samples if old else [])}
    for sample in new.lab_samples:
        before = old_samples.get(sample.sample_id)
        if before is None:
            out.append(
                Change(
                    "lab_sample",
                    f"{pid}:lab:{sample.sample_id}",
                    new,
                    {"sample": sample.model_copy(update={"result": None}).model_dump(mode="json")},
                )
            )
        if sample.result is not None and (before is None or before.result is None):
            out.append(
                Change(
                    "lab_result",
                    f"{pid}:result:{sample.sample_id}",
                    new,
                    {"sample_id": sample.sample_id, "result": sample.result.model_dump(mode="json")},
                )
            )
    for alert in new.alerts_sent:
        if old is None or alert not in old.alerts_sent:
            out.append(Change("alert", f"{pid}:alert:{alert}", new, {"alert": alert}))
    return out


def shelf_life_alerts(passages: Iterable[Passage], now: datetime, within: timedelta) -> list[tuple[Passage, str]]:
    """Queued passages whose perishable goods reach their deadline within ``within``, not yet alerted."""
    due = []
    for p in passages:
        deadline = p.consignment.shelf_life_deadline() if p.consignment else None
        if p.status not in QUEUED or deadline is None or deadline - now > within:
            continue
        key = f"shelf-life:{deadline.isoformat()}"
        if key not in p.alerts_sent:
            due.append((p, key))
    return due


def queue_order(passages: Iterable[Passage]) -> list[Passage]:
    """Perishables first (earliest shelf-life deadline first), then other refrigerated loads, then the rest;
    in order of arrival within each."""
    far = datetime.max.replace(tzinfo=None)

    def key(p: Passage) -> tuple[int, datetime, datetime, str]:
        deadline = p.consignment.shelf_life_deadline() if p.consignment else None
        reefer = p.consignment is not None and any(line.reefer for line in p.consignment.goods)
        rank = 0 if deadline else 1 if reefer else 2
        return (
            rank,
            deadline.replace(tzinfo=None) if deadline else far,
            p.first_seen.replace(tzinfo=None),
            p.passage_id,
        )

    return sorted(passages, key=key)
