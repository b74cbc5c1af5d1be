"""A lane that loses its uplink keeps clearing booked trucks on their passes, and catches up.

One lane in this process as on the lane computer (cameras through a store-and-forward outbox, the barrier
controller with offline clearance, an in-process local bus), its uplink to the stack's real broker through
a TCP link the test cuts. While the link is down: a booked truck with a valid pass is let through by the
lane itself, a truck without a pass is held, and a booked truck whose declaration the cloud would send to
the lab (RED) is let through too — the lane cannot know. After the link is back the detections and the
lane's decisions reach the real ingest and reconciliation functions: the first agrees, the last is a
conflict that reaches officers as a critical alert, and the cloud's late command for a truck the lane
already let through is refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from trade_helpers import RUBBER_LINE_FOR_LAB, new_trader

from smartgate.domain.crossing import passage_id_for
from smartgate.domain.slots import window_start
from smartgate.schemas import BarrierAction, BarrierEventKind, BarrierState, utc_now
from smartgate_infra.lane_node import LaneNode

pytestmark = pytest.mark.e2e

GATE, LANE = "sandbox", "out-30"  # VN_TO_CN, with a weighbridge


def eventually(probe: Callable[[], Any], timeout: float = 30.0, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(every)
    return probe()


@pytest.fixture(scope="module")
def node(stack, stack_client, tmp_path_factory) -> Iterator[LaneNode]:  # type: ignore[no-untyped-def]
    work: Path = tmp_path_factory.mktemp("offline-lane")
    with LaneNode(stack, stack_client, GATE, LANE, work, offline_after_s=6) as lane:
        yield lane


TARE_KG = 15_000


def _booked(trader: Any, plate: str, box: str, goods: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """The truck as the lane will see it: its pass, its container, its weight on the bridge."""
    extra = {"goods": goods} if goods else {}
    declared = trader.declare(plate, driver_id=trader.driver(), vehicle_tare_kg=TARE_KG, container_nos=[box], **extra)
    booking = trader.book(declared["consignment_id"], window_start(utc_now()))
    assert booking.status == 201, booking.raw
    token = trader.api.get(f"/bookings/{booking.body['booking_id']}/pass").body["token"]
    gross = sum(line["gross_kg"] for line in declared["goods"]) + TARE_KG
    return {"pass_token": token, "containers": tuple(declared["container_nos"]), "weight_kg": gross}


def test_offline_the_lane_clears_passes_holds_the_rest_and_the_cloud_reconciles(
    stack, stack_client, node: LaneNode
) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="OFF")
    # plates and containers unlike each other: the cloud tells trucks apart by what their reads name
    online_pass = _booked(trader, "24C-301.01", "TGHU4812036")
    offline_pass = _booked(trader, "15H-872.46", "CSQU7305194")
    lab_pass = _booked(trader, "37C-519.83", "MSKU6028470", [RUBBER_LINE_FOR_LAB])

    # online: the cloud answers and the barrier acts on its signed command
    first = node.sim.cross("24C-301.01", "VN", timeout=20, **online_pass)
    assert first.ok, first.error
    accepted = node.reports(BarrierEventKind.COMMAND_ACCEPTED)
    assert [r.command_id for r in accepted] == [first.command.command_id]
    if first.command.action == BarrierAction.OPEN:  # GREEN, unless selected at random (or slow to settle)
        assert eventually(lambda: node.state in (BarrierState.OPENING, BarrierState.OPEN), 5)
    assert eventually(lambda: node.state == BarrierState.CLOSED, 15)
    assert not node.degraded

    node.link.cut()  # the uplink is gone
    cleared = node.sim.truck("15H-872.46", "VN", **offline_pass)
    no_pass = node.sim.truck("51D-046.27", "VN", weight_kg=31_000)
    to_lab = node.sim.truck("37C-519.83", "VN", **lab_pass)

    node.sim.send(cleared, timeout=0.1)
    assert eventually(lambda: node.degraded, 10), "the lane did not decide on its own"
    assert eventually(lambda: node.state in (BarrierState.OPENING, BarrierState.OPEN), 3)
    assert eventually(lambda: node.mode.degraded, 3), "the lane did not say degraded mode on its local bus"
    health = node.sim.health()  # what its heartbeats say (none reaches the cloud while the link is down)
    assert health.degraded and "degraded mode" in (health.detail or "")
    assert eventually(lambda: node.state == BarrierState.CLOSED, 15)

    node.sim.send(no_pass, timeout=0.1)
    assert eventually(lambda: len(node.reports(BarrierEventKind.OFFLINE_DECISION)) == 2, 12)
    held = node.reports(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert held.action == BarrierAction.HOLD and "no pass" in held.reason
    assert node.state == BarrierState.CLOSED

    node.sim.send(to_lab, timeout=0.1)
    assert eventually(lambda: len(node.reports(BarrierEventKind.OFFLINE_DECISION)) == 3, 12)
    decisions = node.reports(BarrierEventKind.OFFLINE_DECISION)
    assert [d.action for d in decisions] == [BarrierAction.OPEN, BarrierAction.HOLD, BarrierAction.OPEN]
    assert [d.passage_id for d in decisions] == [passage_id_for(t[0]) for t in (cleared, no_pass, to_lab)]
    assert node.pending() > 0  # all of it waits on the lane

    node.link.restore()  # catching up
    assert node.wait_drained(60), f"{node.pending()} messages still queued after the link came back"

    reconciled = eventually(lambda: _all_reconciled(stack_client, decisions), 60)
    assert reconciled, "the cloud did not reconcile the lane's offline decisions"
    cleared_passage = stack_client.passages.get(decisions[0].passage_id)
    lab_passage = stack_client.passages.get(decisions[2].passage_id)
    assert lab_passage.channel == "RED"
    conflicts = eventually(lambda: _conflicts(stack_client, lab_passage.passage_id), 30)
    assert conflicts and conflicts[0].severity == "critical", "officers were not told the lane let a RED truck through"
    if cleared_passage.channel == "GREEN":  # the pass truck: GREEN, unless the 2 % random selection took it
        assert not _conflicts(stack_client, cleared_passage.passage_id)
    else:
        assert eventually(lambda: _conflicts(stack_client, cleared_passage.passage_id), 30)
    assert not _conflicts(stack_client, decisions[1].passage_id)  # held at the lane: nothing crossed

    # the cloud's own command for the truck the lane let through came late: refused, the barrier stays down
    late = eventually(
        lambda: [r for r in node.reports(BarrierEventKind.COMMAND_REFUSED) if r.passage_id == decisions[0].passage_id],
        20,
    )
    assert late and "decided at the lane" in late[0].reason
    assert eventually(lambda: not node.degraded, 20), "the cloud answers again, the lane is still degraded"
    # every report reached the cloud's barrier log
    logged = {e.event_id for e in stack_client.barrier_log.of_lane(GATE, LANE)}
    assert {r.event_id for r in node.reports()} <= logged


def _all_reconciled(stack_client: Any, decisions: list[Any]) -> bool:
    found = [stack_client.barrier_log.offline_decision(d.passage_id) for d in decisions]
    return all(f is not None and f[1] for f in found)


def _conflicts(stack_client: Any, passage_id: str) -> list[Any]:
    return [a for a in stack_client.alerts.for_passage(passage_id) if a.kind == "offline_conflict"]
