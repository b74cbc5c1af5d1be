"""`make demo`, section 10: a lane loses its uplink, keeps clearing booked trucks on their passes, and
catches up.

One lane as on the lane computer (:class:`~smartgate_infra.lane_node.LaneNode`: cameras through a
store-and-forward outbox, the barrier controller with offline clearance, a local bus), its uplink to the
stack's broker through a link the demo cuts. A trader books three trucks through the API. The first
crosses while the link is up. Then the link goes: the lane says degraded mode; a booked truck with a valid
pass is let through by the lane itself; a truck without a pass is held for an officer; a booked truck
whose declaration the cloud would send to the lab (RED) is let through too — the lane cannot know. The
link comes back: the queue goes out, the cloud decides the passages and reconciles the lane's decisions;
the RED one is a conflict that reaches officers as a critical alert, and the cloud's late command for a
truck the lane already let through is refused by the lane.
"""

from __future__ import annotations

import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from smartgate.domain.slots import window_start
from smartgate.schemas import BarrierAction, BarrierEvent, BarrierEventKind, BarrierState, Passage, utc_now
from smartgate.schemas.officers import OfficerAlert
from smartgate_infra.api_client import ApiClient
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE
from smartgate_infra.lane_node import LaneNode
from smartgate_infra.stack import StackState
from smartgate_infra.trader_demo import DemoStepFailed, _ok, register_company, section

GATE, LANE = "sandbox", "out-30"  # VN_TO_CN, with a weighbridge
OFFLINE_AFTER_S = 6.0  # compressed: a deployed lane waits 45 s (longer than the cloud's settle time)
TARE_KG = 15_000
LAB_LINE = {**RUBBER_LINE, "needs_testing": ["quality"]}  # the cloud sends it to the lab: RED


@dataclass
class OfflineRun:
    """What happened, for the demo's summary and the end-to-end test."""

    first_command: Any = None
    decisions: list[BarrierEvent] = field(default_factory=list)
    queued_at_restore: int = 0
    reconciled: bool = False
    passages: list[Passage | None] = field(default_factory=list)
    conflicts: list[list[OfficerAlert]] = field(default_factory=list)
    late_refusals: list[BarrierEvent] = field(default_factory=list)
    degraded_health: bool = False
    degraded_after: bool = True
    reports: list[BarrierEvent] = field(default_factory=list)
    logged: set[str] = field(default_factory=set)

    @property
    def ok(self) -> bool:
        actions = [d.action for d in self.decisions]
        cleared, held, lab = (self.passages + [None] * 3)[:3]
        return (
            actions == [BarrierAction.OPEN, BarrierAction.HOLD, BarrierAction.OPEN]
            and self.reconciled
            and lab is not None
            and lab.channel == "RED"
            and bool(self.conflicts[2])
            and not self.conflicts[1]
            and cleared is not None
            and bool(self.conflicts[0]) == (cleared.channel != "GREEN")
            and bool(self.late_refusals)
            and self.degraded_health
            and not self.degraded_after
            and {r.event_id for r in self.reports} <= self.logged
        )


def until(probe: Callable[[], Any], timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(every)
    return probe()


def _trucks(state: StackState, client: StackClient) -> list[dict[str, Any]]:
    """Three booked trucks of one trader (through the API), as the lane will see them."""
    company_id = f"OFF-{uuid.uuid4().hex[:6].upper()}"
    register_company(state, client, company_id, "Cong ty Van tai Bien gioi", "5300765432")
    trader = ApiClient(state.api_url, client.token_for(f"trader-{company_id.lower()}", ["traders"], company_id))
    trucks = []
    # plates and containers unlike each other: the cloud tells trucks apart by what their reads name
    for plate, box, goods in (
        ("24C-517.36", "TGHU4812036", RUBBER_LINE),
        ("15H-872.46", "CSQU7305194", RUBBER_LINE),
        ("37C-519.83", "MSKU6028470", LAB_LINE),
    ):
        driver = _ok(
            trader.post("/drivers", {"full_name": "Tran Van Duc", "document_number": "C0987654", "country": "VN"}),
            "register the driver",
        )
        declared = _ok(
            trader.post(
                "/consignments",
                {
                    "gate_id": GATE,
                    "direction": "VN_TO_CN",
                    "country": "VN",
                    "plate_text": plate,
                    "container_nos": [box],
                    "driver_id": driver["driver_id"],
                    "vehicle_tare_kg": TARE_KG,
                    "goods": [goods],
                },
            ),
            f"declare {plate}",
        )
        booking = _ok(
            trader.post(
                "/bookings",
                {"consignment_id": declared["consignment_id"], "window_start": window_start(utc_now()).isoformat()},
            ),
            f"book {plate}",
        )
        token = _ok(trader.get(f"/bookings/{booking['booking_id']}/pass"), "fetch the pass")["token"]
        trucks.append(
            {
                "plate": plate,
                "booking_id": booking["booking_id"],
                "pass_token": token,
                "containers": (box,),
                "weight_kg": float(str(goods["gross_kg"])) + TARE_KG,
            }
        )
    return trucks


def _cross_offline(node: LaneNode, plate: str, decided: int, **truck: Any) -> BarrierEvent:
    node.sim.send(node.sim.truck(plate, "VN", **truck), timeout=0.1)
    decisions = until(lambda: len(node.reports(BarrierEventKind.OFFLINE_DECISION)) >= decided, OFFLINE_AFTER_S + 10)
    if not decisions:
        raise DemoStepFailed(f"the lane did not decide {plate} on its own")
    return node.reports(BarrierEventKind.OFFLINE_DECISION)[decided - 1]


def run_offline_lane(state: StackState, client: StackClient, say: Any, work: Path) -> OfflineRun:
    run = OfflineRun()
    trucks = _trucks(state, client)
    say(
        f"   a trader booked {', '.join(t['plate'] for t in trucks)} for now at {GATE} "
        "(the last one's goods need a lab test)"
    )
    with LaneNode(state, client, GATE, LANE, work, offline_after_s=OFFLINE_AFTER_S) as node:
        online, cleared, lab = trucks
        first = node.sim.cross(online["plate"], "VN", timeout=20, **_lane_view(online))
        if first.command is None:
            raise DemoStepFailed(f"no barrier command for {online['plate']}: {first.error}")
        run.first_command = first.command
        until(lambda: node.state == BarrierState.CLOSED and node.driver.moves, 15)
        say(
            f"   link up:   {online['plate']} -> cloud {first.command.action.value.upper()} "
            f"({first.command.reason[:90]}); barrier moved {', '.join(m.value for m in node.driver.moves[-2:])}"
        )

        node.link.cut()
        say("   link CUT:  the lane's uplink to the cloud is down")
        t0 = time.monotonic()
        decision = _cross_offline(node, cleared["plate"], 1, **_lane_view(cleared))
        health = node.sim.health()
        run.degraded_health = health.degraded
        say(
            f"   offline:   {cleared['plate']} shows its pass; after {time.monotonic() - t0:.1f} s of cloud silence "
            f"the lane decides: {_said(decision)} - {decision.reason}"
        )
        say(f"              lane health: degraded={health.degraded} ({health.detail})")
        until(lambda: node.state == BarrierState.CLOSED, 15)
        decision = _cross_offline(node, "51D-046.27", 2, weight_kg=31_000)
        say(f"   offline:   51D-046.27, no pass: {_said(decision)} - {decision.reason}")
        decision = _cross_offline(node, lab["plate"], 3, **_lane_view(lab))
        say(f"   offline:   {lab['plate']} shows its pass: {_said(decision)} (the lane cannot know its lab test)")
        until(lambda: node.state == BarrierState.CLOSED, 15)
        run.decisions = node.reports(BarrierEventKind.OFFLINE_DECISION)
        run.queued_at_restore = node.pending()

        node.link.restore()
        t0 = time.monotonic()
        drained = node.wait_drained(60)
        say(
            f"   link BACK: {run.queued_at_restore} queued detections and barrier reports sent in "
            f"{time.monotonic() - t0:.1f} s{'' if drained else ' (NOT ALL)'}"
        )
        run.reconciled = bool(until(lambda: _all_reconciled(client, run.decisions), 60))
        run.passages = [client.passages.get(d.passage_id) for d in run.decisions if d.passage_id]
        until(lambda: _conflicts(client, run.decisions[2].passage_id), 30)
        run.conflicts = [_conflicts(client, d.passage_id) for d in run.decisions]
        if run.passages[0] is not None and run.passages[0].channel != "GREEN":
            run.conflicts[0] = until(lambda: _conflicts(client, run.decisions[0].passage_id), 30) or []
        for d, passage, alerts in zip(run.decisions, run.passages, run.conflicts, strict=True):
            cloud = passage.channel.value if passage and passage.channel else "undecided"
            verdict = (
                "CONFLICT: officers alerted"
                if alerts
                else "agreed"
                if d.action == BarrierAction.OPEN
                else "held, no conflict"
            )
            say(f"   reconciled {d.plate_text:11} lane {_said(d):4} cloud {cloud:6} -> {verdict}")
        for alerts in run.conflicts:
            for alert in alerts[:1]:
                say(f"   officer alert ({alert.severity}): {alert.plate_text} - {alert.facts.get('rules', '')[:80]}")
        refused = BarrierEventKind.COMMAND_REFUSED
        opened_offline = {d.passage_id for d in run.decisions if d.action == BarrierAction.OPEN}
        run.late_refusals = until(lambda: [r for r in node.reports(refused) if r.passage_id in opened_offline], 20)
        for r in run.late_refusals[:2]:
            say(f"   the cloud's late command for {r.passage_id}: refused by the lane ({r.reason[:100]})")
        run.degraded_after = not until(lambda: not node.degraded, 20)
        say(f"   the lane is {'still DEGRADED' if run.degraded_after else 'back to normal'}: the cloud answers again")
        run.reports = node.reports()
        run.logged = until(lambda: _logged(client, run.reports), 20) or set()
        all_logged = run.logged >= {r.event_id for r in run.reports}
        say(f"   {len(run.reports)} barrier reports of the lane; all in the cloud's barrier log: {all_logged}")
    return run


def _said(decision: BarrierEvent) -> str:
    return decision.action.value.upper() if decision.action else "?"


def _lane_view(truck: dict[str, Any]) -> dict[str, Any]:
    return {k: truck[k] for k in ("pass_token", "containers", "weight_kg")}


def _all_reconciled(client: StackClient, decisions: list[BarrierEvent]) -> bool:
    found = [client.barrier_log.offline_decision(d.passage_id) for d in decisions if d.passage_id]
    return len(found) == len(decisions) and all(f is not None and f[1] for f in found)


def _conflicts(client: StackClient, passage_id: str | None) -> list[OfficerAlert]:
    if passage_id is None:
        return []
    return [a for a in client.alerts.for_passage(passage_id) if a.kind == "offline_conflict"]


def _logged(client: StackClient, reports: list[BarrierEvent]) -> set[str] | None:
    logged = {e.event_id for e in client.barrier_log.of_lane(GATE, LANE)}
    return logged if {r.event_id for r in reports} <= logged else None


def run_offline(state: StackState, client: StackClient, say: Any = print) -> bool:
    title = "10. A lane loses its uplink: it clears booked trucks on their passes, holds the rest, catches up"

    def steps(state: StackState, client: StackClient, say: Any) -> bool:
        with tempfile.TemporaryDirectory(prefix="smartgate-lane-") as work:
            return run_offline_lane(state, client, say, Path(work)).ok

    return section(title, steps, state, client, say)
