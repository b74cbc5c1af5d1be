"""The audit trail: every decision, state change and lab step, chained per gate so that tampering shows.

Each entry carries the hash of the previous entry of its gate and its own hash over its content and
that link (SHA-256 of canonical JSON). ``verify`` walks a gate's entries and reports the first broken
link: an altered entry (its hash no longer fits), a removed one (a gap in ``seq``) or a re-ordered one
(a link that points elsewhere). Entries older than the retention period expire from the oldest end;
verification starts at the oldest entry kept. What a chain cannot show on its own is the loss of its
newest entries (the head): that needs the head's hash kept somewhere else as well.

A decision entry holds the facts and the rule set digest it was made on, so ``replay`` re-runs it.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from smartgate.domain.passages import Change
from smartgate.domain.rules import RuleSet, evaluate
from smartgate.ports import AuditLog, Conflict
from smartgate.schemas import AuditEntry, Decision

GENESIS = "0" * 64
ATTEMPTS = 20


def canonical(data: dict[str, Any]) -> bytes:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str).encode()


def entry_hash(entry: AuditEntry) -> str:
    body = entry.model_dump(mode="json", by_alias=True, exclude={"hash"})
    return hashlib.sha256(canonical(body)).hexdigest()


def _actor(change: Change) -> str:
    if change.kind == "decision":
        return "clearance"
    if change.kind == "state":
        return str(change.detail.get("by") or "clearance")
    if change.kind == "officer_action":
        return f"officer:{change.detail.get('officer')}"
    who = change.detail.get("sample", {}).get("taken_by") or change.detail.get("result", {}).get("tested_by")
    return f"lab:{who}" if who else "lab"


def next_entry(previous: AuditEntry | None, change: Change, at: datetime) -> AuditEntry:
    p = change.passage
    draft = AuditEntry(
        gate_id=p.gate_id,
        seq=previous.seq + 1 if previous else 1,
        entry_id=change.key.replace("|", ":"),
        kind=change.kind,
        passage_id=p.passage_id,
        actor=_actor(change),
        at=at,  # type: ignore[arg-type]
        detail=change.detail,
        prev_hash=previous.hash if previous else GENESIS,
        hash="",
    )
    return draft.model_copy(update={"hash": entry_hash(draft)})


AUDITED = ("decision", "state", "lab_sample", "lab_result", "officer_action")


def _back_off(attempt: int) -> None:
    """After losing the chain's head to another writer: a random pause that grows (full jitter), so that
    a busy gate's writers spread out instead of colliding again at once (seen: 20 losses in a row on a
    gate taking 200 trucks in a few minutes, with no pause between tries)."""
    time.sleep(random.uniform(0, min(0.01 * 2**attempt, 0.4)))  # noqa: S311 - jitter, not security


def record(log: AuditLog, passage_changes: Iterable[Change], at: datetime) -> list[AuditEntry]:
    """Append each audited change to its gate's chain (once: a redelivered change is not recorded again)."""
    written = []
    for change in passage_changes:
        if change.kind not in AUDITED:
            continue
        for attempt in range(ATTEMPTS):
            entry = next_entry(log.last(change.passage.gate_id, fresh=attempt > 0), change, at)
            try:
                if log.append(entry):
                    written.append(entry)
                break
            except Conflict:
                _back_off(attempt)
                continue
        else:
            raise Conflict(f"audit of gate {change.passage.gate_id}: {ATTEMPTS} concurrent appends in a row won")
    return written


@dataclass(frozen=True)
class Verification:
    gate_id: str
    checked: int
    broken_at: int | None = None  # seq of the first broken entry
    problem: str | None = None

    @property
    def ok(self) -> bool:
        return self.broken_at is None


def verify(gate_id: str, entries: Sequence[AuditEntry]) -> Verification:
    """Check the chain of one gate, oldest first; stop at the first broken link."""
    ordered = sorted(entries, key=lambda e: e.seq)
    previous: AuditEntry | None = None
    for count, entry in enumerate(ordered, start=1):
        if entry.hash != entry_hash(entry):
            return Verification(
                gate_id,
                count,
                entry.seq,
                f"entry {entry.seq} ({entry.entry_id}) was altered: its content no longer gives its hash",
            )
        if previous is not None:
            if entry.seq != previous.seq + 1:
                return Verification(
                    gate_id, count, entry.seq, f"entries {previous.seq + 1}..{entry.seq - 1} are missing"
                )
            if entry.prev_hash != previous.hash:
                return Verification(
                    gate_id,
                    count,
                    entry.seq,
                    f"entry {entry.seq} does not link to entry {previous.seq} (prev_hash differs)",
                )
        elif entry.seq == 1 and entry.prev_hash != GENESIS:
            return Verification(gate_id, count, entry.seq, "the first entry does not start the chain")
        previous = entry
    return Verification(gate_id, len(ordered))


@dataclass(frozen=True)
class Replay:
    entry: AuditEntry
    original: Decision
    channel: str | None = None
    explanations: tuple[str, ...] = ()
    problem: str | None = None

    @property
    def same(self) -> bool:
        return (
            self.problem is None
            and self.channel == self.original.channel.value
            and self.explanations == tuple(r.explanation for r in self.original.rules_fired)
        )


def replay(entry: AuditEntry, rule_set: RuleSet | None) -> Replay:
    """Re-run a recorded decision on its recorded facts under the rule set it names (by digest)."""
    decision = Decision.model_validate(entry.detail["decision"])
    if rule_set is None:
        return Replay(
            entry,
            decision,
            problem=f"rule set {decision.ruleset_id} {decision.ruleset_version} "
            f"(digest {decision.ruleset_digest[:12]}) is not in the archive",
        )
    if rule_set.digest != decision.ruleset_digest:
        return Replay(entry, decision, problem="the archived rule set does not have the recorded digest")
    again = evaluate(rule_set, decision.facts)
    return Replay(entry, decision, again.channel.value, tuple(r.explanation for r in again.fired))
