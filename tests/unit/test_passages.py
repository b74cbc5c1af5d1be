"""A passage's states and moves, the lab workflow, queues (perishables first), shelf-life alerts, the audit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from domain_fixtures import T0, World, consignment, goods, plate, weight

from smartgate.adapters.memory import InMemoryAudit
from smartgate.domain.audit import record, replay, verify
from smartgate.domain.crossing import ingest_detection, settle
from smartgate.domain.events import passage_events
from smartgate.domain.lab import PassageNotFound, queues, raise_shelf_life_alerts, record_result, take_sample
from smartgate.domain.passages import TRANSITIONS, IllegalTransition, PassageError, changes, transition
from smartgate.schemas import (
    AuditEntry,
    Channel,
    ClearanceDecided,
    LabParameter,
    LabResult,
    LabResultPosted,
    LabSample,
    LabSampleRegistered,
    Passage,
    PassageStateChanged,
    PassageStatus,
    ShelfLifeAlert,
)

S = PassageStatus
FRUIT = goods(
    hs_code="0810.60",
    description="fresh durian",
    quantity=800,
    unit="carton",
    net_kg=14_000,
    gross_kg=15_200,
    value=52_000,
    currency="USD",
    origin="VN",
    perishable=True,
    reefer=True,
    shelf_life_deadline=T0 + timedelta(hours=30),
    needs_testing=["phytosanitary"],
)


def decided(
    w: World,
    lines=None,
    plate_text: str = "24C-123.45",
    lane: str = "out-01",  # type: ignore[no-untyped-def]
    cid: str = "C-1",
    bid: str = "BK-1",
    at=T0,
) -> Passage:
    c = consignment(cid, plate=plate_text, lines=lines, containers=())
    w.book(c, bid=bid)
    gross = c.gross_kg + 15_000
    for d in (plate(plate_text, at, lane=lane), weight(gross, at, lane=lane)):
        result = ingest_detection(d, w.deps)
    passage = w.store.get(result.passage_id)  # type: ignore[arg-type]
    assert passage is not None and passage.decision is not None
    return passage


def sample(sid: str = "S-1") -> LabSample:
    return LabSample(sample_id=sid, tests=["phytosanitary"], taken_by="lab-01", taken_at=T0 + timedelta(minutes=20))


def result(outcome: str = "pass") -> LabResult:
    return LabResult(
        outcome=outcome,
        tested_by="lab-02",
        posted_at=T0 + timedelta(hours=3),  # type: ignore[arg-type]
        parameters=[
            LabParameter(
                name="fruit fly larvae",
                value=0 if outcome == "pass" else 3,
                unit="per kg",
                limit="0",
                ok=outcome == "pass",
            )
        ],
    )


def test_goods_that_need_testing_go_red_with_a_lab_sample_then_a_pass_releases_them() -> None:
    w = World()
    p = decided(w, [FRUIT])
    assert p.channel == Channel.RED and p.status == S.IN_INSPECTION
    assert [t.value for t in p.decision.lab_tests] == ["phytosanitary"]  # type: ignore[union-attr]
    sampled = take_sample(w.store, p.passage_id, sample())
    assert sampled.status == S.SAMPLED and sampled.status_by == "lab:lab-01"
    assert take_sample(w.store, p.passage_id, sample()).version == sampled.version  # same request: no change
    released = record_result(w.store, p.passage_id, "S-1", result("pass"))
    assert released.status == S.RELEASED and "lab sample S-1 passed" in released.status_reason


def test_a_lab_fail_refuses_the_consignment() -> None:
    w = World()
    p = decided(w, [FRUIT])
    take_sample(w.store, p.passage_id, sample())
    refused = record_result(w.store, p.passage_id, "S-1", result("fail"))
    assert refused.status == S.REFUSED and "fruit fly larvae" in refused.status_reason
    with pytest.raises(PassageError, match="result: sample S-1 already has a result"):
        record_result(w.store, p.passage_id, "S-1", result("pass"))


def test_lab_requests_that_do_not_fit_are_refused_naming_the_field() -> None:
    w = World()
    p = decided(w)  # GREEN: released
    with pytest.raises(IllegalTransition, match="status: a sample cannot be taken from a passage that is RELEASED"):
        take_sample(w.store, p.passage_id, sample())
    red = decided(w, [FRUIT], plate_text="24C-678.90", lane="out-02", cid="C-2", bid="BK-2")
    with pytest.raises(PassageError, match="sample_id: no sample S-9"):
        record_result(w.store, red.passage_id, "S-9", result())
    take_sample(w.store, red.passage_id, sample())
    with pytest.raises(PassageError, match="sample_id: S-1 is already registered with other data"):
        take_sample(w.store, red.passage_id, sample().model_copy(update={"tests": ["quality"]}))
    with pytest.raises(PassageNotFound):
        take_sample(w.store, "psg-nope", sample())


def test_only_legal_moves() -> None:
    w = World()
    p = decided(w)
    assert p.status == S.RELEASED
    with pytest.raises(IllegalTransition, match="status: a passage cannot go from RELEASED to SAMPLED"):
        transition(p, S.SAMPLED, "x", T0)
    assert all(S.OPEN not in targets for targets in TRANSITIONS.values())
    assert TRANSITIONS[S.DEPARTED] == frozenset()


def test_perishables_go_first_in_the_queues() -> None:
    w = World()
    timber = goods(
        hs_code="4403.99",
        description="sawn logs, plantation acacia",
        net_kg=24_000,
        gross_kg=24_000,
        value=9_000,
        currency="USD",
        origin="VN",
    )
    held = decided(w, [timber], plate_text="24C-111.11", lane="out-03", cid="C-3", bid="BK-3")
    reefer = FRUIT.model_copy(update={"needs_testing": []})
    cold = decided(
        w, [reefer], plate_text="24C-444.44", lane="out-06", cid="C-6", bid="BK-6", at=T0 + timedelta(minutes=1)
    )
    chilled = timber.model_copy(update={"reefer": True, "description": "chilled logs (a reefer, not perishable)"})
    cool = decided(
        w, [chilled], plate_text="24C-555.55", lane="out-07", cid="C-7", bid="BK-7", at=T0 + timedelta(minutes=2)
    )
    fruit = decided(
        w, [FRUIT], plate_text="24C-222.22", lane="out-04", cid="C-4", bid="BK-4", at=T0 + timedelta(minutes=5)
    )
    assert held.status == S.HELD and cold.status == S.HELD
    q = queues(w.store, "sandbox")
    # perishable first, then refrigerated, then the rest (each in order of arrival)
    assert [p.passage_id for p in q["inspection"]] == [cold.passage_id, cool.passage_id, held.passage_id]
    assert [p.passage_id for p in q["lab"]] == [fruit.passage_id]
    late_fruit = decided(
        w,
        [FRUIT.model_copy(update={"shelf_life_deadline": T0 + timedelta(hours=10)})],
        plate_text="24C-333.33",
        lane="out-05",
        cid="C-5",
        bid="BK-5",
        at=T0 + timedelta(minutes=9),
    )
    assert [p.passage_id for p in queues(w.store, "sandbox")["lab"]] == [late_fruit.passage_id, fruit.passage_id]


def test_a_held_perishable_near_its_deadline_raises_one_alert() -> None:
    w = World()
    p = decided(w, [FRUIT])
    assert raise_shelf_life_alerts(w.store, ["sandbox"], T0, timedelta(hours=12)) == []
    alerted = raise_shelf_life_alerts(w.store, ["sandbox"], T0 + timedelta(hours=20), timedelta(hours=12))
    assert [a.passage_id for a in alerted] == [p.passage_id]
    assert raise_shelf_life_alerts(w.store, ["sandbox"], T0 + timedelta(hours=21), timedelta(hours=12)) == []
    [event] = [e for e in passage_events(p, alerted[0], T0 + timedelta(hours=20)) if isinstance(e, ShelfLifeAlert)]
    assert event.hours_left == 10.0


def test_every_step_is_an_event_with_a_stable_id() -> None:
    w = World()
    opened = None
    c = consignment(lines=[FRUIT], containers=())
    w.book(c)
    for d in (plate("24C-123.45"), weight(c.gross_kg + 15_000)):
        r = ingest_detection(d, w.deps)
        opened = opened or w.store.get(r.passage_id)  # type: ignore[arg-type]
    decided_p = w.store.get(r.passage_id)  # type: ignore[arg-type]
    assert decided_p is not None
    first = passage_events(opened, decided_p, T0)
    assert [type(e) for e in first] == [ClearanceDecided, PassageStateChanged]
    assert first[0].channel == Channel.RED and first[1].to_status == S.IN_INSPECTION  # type: ignore[attr-defined]
    sampled = take_sample(w.store, decided_p.passage_id, sample())
    done = record_result(w.store, decided_p.passage_id, "S-1", result())
    lab_events = passage_events(decided_p, sampled, T0) + passage_events(sampled, done, T0)
    assert [type(e).__name__ for e in lab_events] == [
        "PassageStateChanged",
        "LabSampleRegistered",
        "PassageStateChanged",
        "LabResultPosted",
    ]
    assert isinstance(lab_events[1], LabSampleRegistered) and lab_events[1].perishable_deadline is not None
    assert isinstance(lab_events[3], LabResultPosted) and lab_events[3].status == S.RELEASED
    assert [e.event_id for e in passage_events(sampled, done, T0)] == [e.event_id for e in lab_events[2:]]


def _audited(w: World) -> tuple[InMemoryAudit, list[AuditEntry]]:
    log = InMemoryAudit()
    history: list[Passage | None] = [None]
    c = consignment(lines=[FRUIT], containers=())
    w.book(c)
    for d in (plate("24C-123.45"), weight(c.gross_kg + 15_000)):
        r = ingest_detection(d, w.deps)
        history.append(w.store.get(r.passage_id))  # type: ignore[arg-type]
    pid = history[-1].passage_id  # type: ignore[union-attr]
    history.append(take_sample(w.store, pid, sample()))
    history.append(record_result(w.store, pid, "S-1", result()))
    for old, new in zip(history, history[1:], strict=False):
        assert new is not None
        record(log, changes(old, new), T0)
        record(log, changes(old, new), T0)  # a redelivered stream record is not recorded twice
    return log, log.entries("sandbox")


def test_the_audit_chain_verifies_and_shows_the_first_altered_entry() -> None:
    log, entries = _audited(World())
    assert [e.kind for e in entries] == ["state", "decision", "state", "state", "lab_sample", "state", "lab_result"]
    assert verify("sandbox", entries).ok and verify("sandbox", entries).checked == len(entries)
    altered = list(entries)
    decision = altered[1]
    detail = {**decision.detail, "decision": {**decision.detail["decision"], "channel": "GREEN"}}
    altered[1] = decision.model_copy(update={"detail": detail})
    report = verify("sandbox", altered)
    assert report.broken_at == 2 and "altered" in (report.problem or "")
    missing = verify("sandbox", entries[:2] + entries[3:])
    assert missing.broken_at == 4 and "3..3 are missing" in (missing.problem or "")
    rehashed = altered[1].model_copy(update={"hash": "f" * 64})
    relinked = verify("sandbox", [entries[0], rehashed, *entries[2:]])
    assert relinked.broken_at == 2


def test_a_recorded_decision_replays_to_the_same_channel_and_explanation() -> None:
    w = World()
    _, entries = _audited(w)
    [entry] = [e for e in entries if e.kind == "decision"]
    again = replay(entry, w.deps.rulesets.by_digest(entry.detail["decision"]["ruleset_digest"]))
    assert again.same and again.channel == "RED"
    assert not replay(entry, None).same


def test_settle_and_tightening_are_audited_as_decisions() -> None:
    w = World()
    c = consignment()
    w.book(c)
    r = ingest_detection(plate("24C-123.45"), w.deps)
    before = w.store.get(r.passage_id)  # type: ignore[arg-type]
    w.later(5)
    settle(r.passage_id, w.deps)  # type: ignore[arg-type]
    after = w.store.get(r.passage_id)  # type: ignore[arg-type]
    kinds = [ch.kind for ch in changes(before, after)]  # type: ignore[arg-type]
    assert kinds == ["decision", "state"]
