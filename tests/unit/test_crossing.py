"""A vehicle's detections become one passage and one decision: correlation, waiting, settling, tightening,
duplicates, concurrency, and order independence (property-based), on in-memory adapters."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from domain_fixtures import (
    T0,
    TEST_SIGNER,
    AccessLog,
    ContextCipher,
    RecordingFaces,
    World,
    consignment,
    container,
    face,
    goods,
    pass_scan,
    plate,
    race,
    weight,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartgate.adapters.biometrics import InMemoryFaceStore
from smartgate.domain.biometrics import BiometricDeps, Consent, LaneFaces, enrol, open_reference
from smartgate.domain.clearance import PassCheck
from smartgate.domain.commands import CommandSigner
from smartgate.domain.crossing import ingest_detection, passage_id_for, settle, signature_valid
from smartgate.domain.intake import RejectedDetection
from smartgate.schemas import BarrierAction, Channel, PassageStatus

GROSS_OK = 35_400  # 20,400 kg of goods + 15,000 kg tare


def truck(
    lane: str = "out-01",
    at=T0,
    plate_text: str = "24C-123.45",
    box: str | None = "MSKU6011672",
    kg: float | None = GROSS_OK,
):  # type: ignore[no-untyped-def]
    found = [plate(plate_text, at, lane=lane)]
    if box:
        found.append(container(box, at + timedelta(seconds=1), lane=lane))
    if kg:
        found.append(weight(kg, at + timedelta(seconds=2), lane=lane))
    return found


def run(world: World, detections) -> list:  # type: ignore[no-untyped-def]
    return [ingest_detection(d, world.deps) for d in detections]


def test_a_booked_truck_with_everything_declared_is_green_once_the_last_detection_arrives() -> None:
    w = World()
    w.book(consignment())
    results = run(w, truck())
    assert [r.outcome for r in results] == ["waiting", "waiting", "decided"]
    [command] = w.commands.sent
    assert command.action == BarrierAction.OPEN and signature_valid(command, TEST_SIGNER.keys())
    assert command.key_id == "test-1"
    other = CommandSigner(TEST_SIGNER.key_id, Ed25519PrivateKey.generate())  # a forger using the key id
    assert not signature_valid(other.sign(command), TEST_SIGNER.keys())
    assert not signature_valid(command.model_copy(update={"lane_id": "out-2"}), TEST_SIGNER.keys())  # another lane
    assert not signature_valid(command.model_copy(update={"key_id": "nobody"}), TEST_SIGNER.keys())
    assert not signature_valid(command.model_copy(update={"signature": "!!"}), TEST_SIGNER.keys())
    assert command.reason == "GREEN: plate matches booking BK-1 (exact match; confirmed by: container)"
    passage = w.store.get(command.passage_id)
    assert passage is not None and passage.status == PassageStatus.RELEASED
    assert len({r.passage_id for r in results}) == 1
    assert passage.decision is not None and passage.decision.facts["weight.deviation_pct"] == 0.0


def test_what_is_missing_waits_for_the_settle_time_then_decides_with_what_is_there() -> None:
    w = World()
    w.book(consignment())
    [result] = run(w, truck(box=None, kg=None)[:1])
    assert result.outcome == "waiting" and not w.commands.sent
    [(passage_id, at)] = w.settled.scheduled
    assert at == T0 + timedelta(seconds=4)
    early = settle(passage_id, w.deps)
    assert early.outcome == "waiting" and not w.commands.sent
    w.later(4)
    decided = settle(passage_id, w.deps)
    assert decided.outcome == "decided" and decided.channel == Channel.YELLOW
    [command] = w.commands.sent
    assert command.action == BarrierAction.HOLD
    assert "declared container MSKU6011672 was not read" in command.reason
    assert "no stable weight was read" in command.reason
    passage = w.store.get(passage_id)
    assert passage is not None and passage.decision is not None and passage.decision.settled
    assert settle(passage_id, w.deps).outcome == "recorded" and len(w.commands.sent) == 1


def test_a_slow_cloud_does_not_settle_a_truck_between_detections_the_lane_captured_together() -> None:
    # Given a booked truck whose plate, container and weight the lane captured within two seconds
    w = World()
    w.book(consignment())
    plate_read, box, scale = truck()
    assert run(w, [plate_read])[0].outcome == "waiting"
    # When the cloud is slow (a cold start): the container and the weight are handled 6 s later
    w.later(6)
    # Then the container alone does not find the settle time over (the lane's clock says 1 s): it waits
    assert run(w, [box])[0].outcome == "waiting" and not w.commands.sent
    # And the weight completes it: GREEN, not a YELLOW "container not read"
    [decided] = run(w, [scale])
    assert decided.outcome == "decided" and decided.channel == Channel.GREEN, w.commands.sent
    # While a detection the lane captured after the settle time does decide what is there
    v = World()
    v.book(consignment())
    first, late_box = truck(kg=None)
    run(v, [first])
    v.later(6)
    [late] = run(v, [late_box.model_copy(update={"captured_at": T0 + timedelta(seconds=5)})])
    assert late.outcome == "decided" and late.channel == Channel.YELLOW  # no weight came
    # And detections the lane captured 5 s apart but sent together later (its uplink was down) all count
    u = World()
    u.book(consignment())
    u.later(60)
    spread = [d.model_copy(update={"captured_at": T0 + timedelta(seconds=5 * i)}) for i, d in enumerate(truck())]
    assert [r.outcome for r in run(u, spread)] == ["waiting", "waiting", "decided"]
    assert u.commands.sent[-1].action == BarrierAction.OPEN, u.commands.sent[-1].reason


def test_an_unbooked_truck_waits_for_a_pass_then_is_red() -> None:
    w = World()
    run(w, [plate("29C-999.99"), weight(30_000, T0)])
    assert not w.commands.sent
    w.later(5)
    [(passage_id, _)] = w.settled.scheduled
    result = settle(passage_id, w.deps)
    assert result.channel == Channel.RED
    assert "no booking for plate 29C-999.99 at gate sandbox" in w.commands.sent[0].reason


def test_a_pass_names_the_booking_of_an_unreadable_vehicle() -> None:
    w = World()
    w.book(consignment(containers=()))
    w.passes["TOKEN-1"] = PassCheck(True, booking_id="BK-1", plate="24C-123.45")
    run(w, [pass_scan("TOKEN-1"), weight(GROSS_OK, T0)])
    w.later(5)
    [(passage_id, _)] = w.settled.scheduled
    result = settle(passage_id, w.deps)
    passage = w.store.get(passage_id)
    assert passage is not None and passage.booking_id == "BK-1" and passage.match == "pass"
    assert result.channel == Channel.YELLOW
    assert [r.rule_id for r in passage.decision.rules_fired] == ["R-NO-PLATE", "R-BOOKED"]  # type: ignore[union-attr]


def test_two_trucks_close_together_on_one_lane_get_their_own_passages() -> None:
    w = World()
    w.book(consignment())
    w.book(consignment("C-2", plate="24C-678.90", containers=("TGHU1234567",)), bid="BK-2")
    first = truck()
    second = truck(at=T0 + timedelta(seconds=6), plate_text="24C-678.90", box="TGHU1234567")
    # The second truck arrives six seconds after the first; its container read overtakes the first
    # truck's weight on the way to the cloud.
    run(w, [first[0], first[1], second[0], first[2], second[1], second[2]])
    assert [c.action for c in w.commands.sent] == [BarrierAction.OPEN, BarrierAction.OPEN]
    a, b = (w.store.get(c.passage_id) for c in w.commands.sent)
    assert a is not None and b is not None and a.passage_id != b.passage_id
    assert [c.container_no for c in b.detections.containers] == ["TGHU1234567"]
    assert b.booking_id == "BK-2"
    assert a.status == PassageStatus.DEPARTED  # the next truck at the lane means the first one left


def test_a_late_detection_tightens_a_green_and_holds_the_truck_still_at_the_barrier() -> None:
    w = World()
    w.book(consignment(trailer_plate="24R-012.34"))
    run(w, truck())
    assert [c.action for c in w.commands.sent] == [BarrierAction.OPEN]
    late = plate("24R-099.99", T0 + timedelta(seconds=4), camera="trailer")  # the trailer camera, a moment later
    [result] = run(w, [late])
    assert result.outcome == "tightened" and result.channel == Channel.RED
    assert [c.action for c in w.commands.sent] == [BarrierAction.OPEN, BarrierAction.HOLD]
    passage = w.store.get(result.passage_id)  # type: ignore[arg-type]
    assert passage is not None and passage.status == PassageStatus.IN_INSPECTION
    assert passage.decision is not None and passage.decision.decision_no == 2
    assert "trailer plate 24R-099.99 read, 24R-012.34 declared" in w.commands.sent[1].reason


def test_a_declared_trailer_read_confirms_the_vehicle() -> None:
    w = World()
    w.book(consignment(trailer_plate="24R-012.34"))
    front, box, kg = truck()
    run(w, [front, plate("24R-012.34", T0 + timedelta(seconds=1), camera="trailer"), box, kg])
    [command] = w.commands.sent
    assert command.action == BarrierAction.OPEN and "confirmed by: container, trailer" in command.reason


def test_a_decision_is_never_loosened() -> None:
    w = World()
    w.book(consignment())
    run(w, truck(box=None))
    w.later(5)
    [(passage_id, _)] = w.settled.scheduled
    assert settle(passage_id, w.deps).channel == Channel.YELLOW
    [result] = run(w, [container("MSKU6011672", T0 + timedelta(seconds=3))])
    assert result.outcome == "recorded" and result.channel == Channel.YELLOW
    assert len(w.commands.sent) == 1


def test_a_redelivered_detection_changes_nothing() -> None:
    w = World()
    w.book(consignment())
    detections = truck()
    run(w, detections)
    stored = w.store.get(w.commands.sent[0].passage_id)
    again = run(w, detections)
    assert {r.outcome for r in again} == {"duplicate"}
    assert w.store.get(w.commands.sent[0].passage_id) == stored and len(w.commands.sent) == 1


def test_a_detection_whose_handling_was_cut_short_is_finished_on_redelivery() -> None:
    w = World()
    w.book(consignment())
    detections = truck()
    run(w, detections)
    w.commands.sent.clear()
    last = detections[-1]
    w.store.detections[last.event_id] = w.store.detections[last.event_id].__class__(
        last.event_id, w.store.detections[last.event_id].passage_id, False
    )  # the crash came before handled
    [result] = run(w, [last])
    assert result.outcome == "duplicate" and [c.action for c in w.commands.sent] == [BarrierAction.OPEN]
    assert run(w, [last])[0].command_id is None


def test_a_detection_from_an_unknown_lane_is_refused_with_the_reason() -> None:
    w = World()
    with pytest.raises(RejectedDetection, match=r"lane_id: unknown lane 'zz-9' at gate sandbox"):
        ingest_detection(plate("24C-123.45", lane="zz-9"), w.deps)
    assert not w.store.passages


def test_the_passage_id_is_stable_per_opening_detection() -> None:
    d = plate("24C-123.45")
    assert passage_id_for(d) == passage_id_for(d.model_copy()) != passage_id_for(plate("24C-123.45"))


def test_concurrent_detections_of_one_truck_lose_no_update() -> None:
    w = World()
    w.book(consignment(containers=("MSKU6011672", "TGHU1234567")))
    detections = [*truck(), container("TGHU1234567", T0 + timedelta(seconds=1))]
    assert not race(lambda d: ingest_detection(d, w.deps), detections)
    [passage] = w.store.passages.values()
    assert passage.detections.event_ids() == {d.event_id for d in detections}
    assert passage.channel == Channel.GREEN and len(w.commands.sent) == 1


# ------------------------------------------------------------------------------- order independence

PLATES = ["24C-123.45", "24C-I23.45", "29C-999.99"]


@st.composite
def arrivals(draw: st.DrawFn):  # type: ignore[no-untyped-def]
    """One truck's detections (some right, some wrong), delivered in any order."""
    text = draw(st.sampled_from(PLATES))
    found = [plate(text, T0, confidence=draw(st.sampled_from([0.97, 0.5])))]
    if draw(st.booleans()):
        found.append(plate(text, T0 + timedelta(seconds=1), camera="rear"))
    for box in draw(st.lists(st.sampled_from(["MSKU6011672", "TGHU1234567", "MSKU6011673"]), max_size=2, unique=True)):
        found.append(container(box, T0 + timedelta(seconds=1), ok=box != "MSKU6011673"))
    for kg in draw(st.lists(st.sampled_from([GROSS_OK, 39_000.0, 52_000.0]), max_size=2)):
        found.append(weight(kg, T0 + timedelta(seconds=2)))
    if draw(st.booleans()):
        found.append(pass_scan(draw(st.sampled_from(["GOOD", "OTHER", "FORGED"])), T0 + timedelta(seconds=1)))
    order = draw(st.permutations(range(len(found))))
    return found, order


def _final(found, order):  # type: ignore[no-untyped-def]
    w = World()
    w.book(
        consignment(
            lines=[
                goods(
                    hs_code="0810.60", description="durian", perishable=True, shelf_life_deadline=T0 + timedelta(days=3)
                )
            ]
        )
    )
    w.passes.update(
        {
            "GOOD": PassCheck(True, booking_id="BK-1", plate="24C-123.45"),
            "OTHER": PassCheck(True, booking_id="BK-9", plate="51F-882.70"),
            "FORGED": PassCheck(False, "signature does not verify"),
        }
    )
    for i in order:
        ingest_detection(found[i], w.deps)
    w.later(10)
    for passage_id, _ in w.settled.scheduled:
        settle(passage_id, w.deps)
    [passage] = w.store.passages.values()
    decision = passage.decision
    assert decision is not None
    return decision.channel, tuple(r.rule_id for r in decision.rules_fired), passage.status, passage.booking_id


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrivals())
def test_the_order_of_arrival_does_not_change_the_final_decision(case) -> None:  # type: ignore[no-untyped-def]
    found, order = case
    assert _final(found, order) == _final(found, list(range(len(found))))


def test_a_container_code_with_a_wrong_check_digit_is_kept_and_never_cleared_by_default() -> None:
    w = World()
    w.book(consignment())
    run(w, [plate("24C-123.45"), container("MSKU6011673", ok=False), weight(GROSS_OK)])
    w.later(5)
    for passage_id, _ in w.settled.scheduled:
        settle(passage_id, w.deps)
    [passage] = w.store.passages.values()
    assert [c.container_no for c in passage.detections.containers] == ["MSKU6011673"]  # recorded as read
    assert passage.channel == Channel.YELLOW
    reasons = " | ".join(r.explanation for r in passage.decision.rules_fired)  # type: ignore[union-attr]
    assert "MSKU6011673 was read with a wrong ISO 6346 check digit" in reasons
    assert "declared container MSKU6011672 was not read" in reasons


def test_reads_delivered_long_after_they_were_captured_still_find_their_passage() -> None:
    # Given a lane that was offline: two trucks' reads, captured two hours ago, arrive now
    w = World()
    w.book(consignment(), start=-180, end=-60)
    w.book(consignment("C-2", plate="24C-678.90"), bid="BK-2", start=-180, end=-60)
    long_ago = T0 - timedelta(hours=2)
    run(w, truck(at=long_ago))
    run(w, truck(at=long_ago + timedelta(seconds=40), plate_text="24C-678.90"))
    # When the first truck's rear-camera read comes last
    [late] = run(w, [plate("24C-123.45", long_ago + timedelta(seconds=3), camera="rear")])
    # Then it joins the first truck's passage (the lane remembers by its own clock, not the cloud's)
    assert len(w.store.passages) == 2
    first = w.store.get(late.passage_id)  # type: ignore[arg-type]
    assert first is not None and first.plate_text == "24C-123.45" and len(first.detections.plates) == 2


def test_a_read_captured_while_a_truck_was_at_the_lane_joins_it_even_when_the_next_truck_came_first() -> None:
    # Given a booked truck that is cleared and a second truck a minute later
    w = World()
    w.book(consignment())
    first = truck()
    undeclared = container("TGHU1059000", T0 + timedelta(seconds=3))  # a second box the trailer carries
    second = plate("29C-999.99", T0 + timedelta(seconds=60))
    # When the undeclared container's read reaches the cloud only after the second truck's plate
    run(w, [*first, second, undeclared])
    # Then it joins the first truck (it was captured while that truck stood at the lane), whose decision
    # becomes RED; the truck had been let through, so it has left and officers see the tightened decision
    passage = w.store.get(w.commands.sent[0].passage_id)
    assert passage is not None and "TGHU1059000" in [c.container_no for c in passage.detections.containers]
    assert passage.channel == Channel.RED and passage.decision is not None and passage.decision.decision_no == 2
    assert passage.status == PassageStatus.DEPARTED
    assert len(w.store.passages) == 2  # no plate-less passage for the late read


def test_a_released_truck_decided_after_the_next_one_arrived_has_left() -> None:
    # Given a booked truck whose weight reaches the cloud after the next truck's plate
    w = World()
    w.book(consignment())
    first = truck()
    nxt = [plate("29C-999.99", T0 + timedelta(seconds=60)), weight(31_000, T0 + timedelta(seconds=62))]
    run(w, [first[0], first[1], nxt[0], first[2], nxt[1]])
    # When the second truck (unbooked) is decided by the settle timer
    w.later(5)
    for passage_id, _ in list(w.settled.scheduled):
        settle(passage_id, w.deps)
    # Then the first truck, released, is marked departed whatever the order its reads arrived in
    released = w.store.get(passage_id_for(first[0]))
    assert released is not None and released.channel == Channel.GREEN
    assert released.status == PassageStatus.DEPARTED


def test_a_lanes_backlog_is_decided_but_sends_no_barrier_command() -> None:
    # Given a booked truck whose reads were captured ten minutes ago (a lane catching up after an outage)
    w = World()
    w.book(consignment(), start=-60, end=60)
    results = run(w, truck(at=T0 - timedelta(minutes=10)))
    # Then its passage is decided as usual, but no barrier command goes out: the vehicle is not waiting there
    # any more, and an OPEN would lift the barrier for the vehicle now in front of it
    assert results[-1].outcome == "decided" and results[-1].channel == Channel.GREEN
    assert w.commands.sent == []


@pytest.mark.parametrize(
    ("decision", "booking_id", "channel"),
    [
        ("match", "BK-1", Channel.GREEN),
        ("mismatch", "BK-1", Channel.YELLOW),  # an officer looks: never refused on the face alone
        ("unusable", "BK-1", Channel.GREEN),
        ("no_reference", "BK-1", Channel.GREEN),
        ("mismatch", "BK-2", Channel.GREEN),  # compared with another booking's driver: not this one's
    ],
)
def test_the_drivers_face_sends_a_mismatch_to_an_officer_and_nothing_else(
    decision: str, booking_id: str, channel: Channel
) -> None:
    w = World()
    w.book(consignment())
    first, box, scale = truck()
    checked = face(decision, booking_id, T0 + timedelta(seconds=1))
    results = run(w, [first, checked, box, scale])
    passage = w.store.get(results[-1].passage_id)  # type: ignore[arg-type]
    assert passage is not None and passage.decision is not None
    assert [f.event_id for f in passage.detections.faces] == [checked.event_id]  # it joined the truck
    assert passage.decision.channel == channel, passage.decision.reason()
    fired = {r.rule_id for r in passage.decision.rules_fired}
    assert ("R-FACE-MISMATCH" in fired) == (channel == Channel.YELLOW)
    if channel == Channel.YELLOW:
        assert "similarity 0.28, a match is 0.45 or more" in passage.decision.reason()
        assert passage.status == PassageStatus.HELD
    assert passage.decision.facts["face.decision"] == decision


CAB = "cab-01"  # a sandbox lane with a cab camera


def _cab_world(enrolled: bool = True) -> tuple[World, RecordingFaces, AccessLog]:
    w = World()
    log = AccessLog()
    bio = BiometricDeps(InMemoryFaceStore(), ContextCipher(), log, w.clock)
    sent = RecordingFaces()
    w.faces = LaneFaces(bio, sent, "key-1")
    w.book(consignment())
    w.passes["TOKEN-1"] = PassCheck(True, booking_id="BK-1", plate="24C-123.45")
    if enrolled:
        consent = Consent(given=True, given_at=T0 - timedelta(days=1))
        enrol(bio, "TR-VN-0107", "DRV-1", [0.01 * i for i in range(128)], consent, "tester")
    return w, sent, log


def _cab_truck(at=T0):  # type: ignore[no-untyped-def]
    first, box, scale = truck(lane=CAB, at=at)
    return [first, pass_scan("TOKEN-1", at, lane=CAB), box, scale]


@pytest.mark.parametrize(("decision", "channel"), [("match", Channel.GREEN), ("mismatch", Channel.YELLOW)])
def test_an_enrolled_drivers_face_goes_to_the_cab_camera_and_the_decision_waits_for_its_check(
    decision: str, channel: Channel
) -> None:
    w, sent, log = _cab_world()
    results = run(w, _cab_truck())
    # the pass named the booking: its driver's face (still encrypted) went to this lane, once, on the record
    [reference] = sent.sent
    assert (reference.lane_id, reference.booking_id, reference.driver_ref) == (CAB, "BK-1", "DRV-1")
    assert reference.passage_id == results[0].passage_id and reference.use_by <= T0 + timedelta(minutes=10)
    opened = open_reference(reference, ContextCipher())
    assert opened == pytest.approx([0.01 * i for i in range(128)], abs=1e-6)
    assert any("face sent for a 1:1 check at gate sandbox lane cab-01 (booking BK-1)" in row[3] for row in log.rows)
    # everything else is there, but the decision waits for the face check (no command yet)
    assert results[-1].outcome == "waiting" and not w.commands.sent
    [checked] = run(w, [face(decision, "BK-1", T0 + timedelta(seconds=2), lane=CAB)])
    assert checked.outcome == "decided" and checked.channel == channel
    [command] = w.commands.sent
    assert (command.action == BarrierAction.OPEN) == (channel == Channel.GREEN)
    assert len(sent.sent) == 1  # the face check does not send the face again


def test_a_face_check_that_never_comes_costs_the_settle_time_only() -> None:
    w, sent, _ = _cab_world()
    results = run(w, _cab_truck())
    assert results[-1].outcome == "waiting" and len(sent.sent) == 1
    w.later(5)
    settled = settle(results[0].passage_id, w.deps)  # type: ignore[arg-type]
    assert settled.outcome == "decided" and settled.channel == Channel.GREEN  # no face is no reason to hold
    passage = w.store.get(results[0].passage_id)  # type: ignore[arg-type]
    assert passage is not None and passage.decision is not None
    assert "R-FACE-AWAITED" in {r.rule_id for r in passage.decision.rules_fired}


@pytest.mark.parametrize(("enrolled", "lane"), [(False, CAB), (True, "out-01")])
def test_no_face_is_sent_or_awaited_without_an_enrolled_driver_or_a_cab_camera(enrolled: bool, lane: str) -> None:
    w, sent, _ = _cab_world(enrolled)
    first, box, scale = truck(lane=lane)
    results = run(w, [first, pass_scan("TOKEN-1", T0, lane=lane), box, scale])
    assert results[-1].outcome == "decided" and results[-1].channel == Channel.GREEN
    assert sent.sent == []
