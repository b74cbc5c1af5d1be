"""The twin's full-stack mode: the model's trucks driven through the real local stack on an accelerated
clock, and what the stack decided compared with what the model expected.

The model plans the gate-day (:func:`~smartgate_infra.twin.model.run_model`); each planned truck becomes a
real one at the scenario's gate: a booked truck is declared and booked (its signed pass), and on its lane
a lane simulator publishes what the lane's devices would read of it (front plate, pass, containers, a
weight on a lane with a scale) as MQTT5 messages to the broker; the IoT rule, the ingest function, the
rules, DynamoDB, the barrier command, alerts and the partner exchange do the rest. The lanes run at once,
each taking its trucks in the model's order at the model's times divided by the speed-up (a truck the
lane is still busy for waits, as in a queue).

What each truck shows follows its planned channel, so that the rule set must reach the same one:

- GREEN: booked and declared, everything read as declared;
- YELLOW: booked, but five hours before its slot (the pass is genuine, not for now);
- RED: booked, with a container on it that the declaration does not name;
- a booked truck whose plate the cameras missed: its pass only (YELLOW: no plate read, papers checked);
- a walk-in: no booking (RED for the rules; officers register it).

A GREEN truck drawn for the rule set's random document check (YELLOW, R-RANDOM) counts as matching.
Function invocations are counted from the functions' logs (distinct request ids since the run began).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from smartgate.domain.containers import check_digit
from smartgate.domain.gates import default_gates
from smartgate.schemas import utc_now
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE, Declared, declared
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import StackState
from smartgate_infra.twin.metrics import percentile
from smartgate_infra.twin.model import Result, TruckRecord, run_model
from smartgate_infra.twin.scenario import Scenario, load

PACE_S = 0.1
"""Between one truck's detections: separate devices report one after another."""
CROSS_TIMEOUT_S = 20.0
QUIET_S = 0.3
"""After a truck's barrier command, before the next truck: reads still in flight are decided for it."""
OWNERS = ("TGHU", "CSQU", "MSKU", "TCLU", "MSCU", "OOLU", "CMAU", "HLXU", "SEGU", "TEMU")
GOODS: dict[str, dict[str, object]] = {
    "VN_TO_CN": RUBBER_LINE,
    "CN_TO_VN": {
        "hs_code": "8517.79",
        "description": "display modules (parts)",
        "quantity": 1200,
        "unit": "carton",
        "net_kg": 7200,
        "gross_kg": 8100,
        "value": 186000,
        "currency": "USD",
        "origin": "CN",
    },
}
TARE_KG = 15_000
GATE = "twin"
"""The gate the run drives (gates.yaml): each modelled lane is played by a pool of its lanes. The cloud tells
two vehicles at one lane apart by what their reads name and by time (the rule set's 20 s gap); on a real
lane trucks are a minute or more apart at the barrier, the accelerated run sends them seconds apart."""
CAPTURE_GAP = timedelta(seconds=25)
"""Between two trucks' capture times on one of the twin gate's lanes: more than the rule set's gap."""
FRESH = timedelta(seconds=150)
"""How far back a truck's capture time may be set (the cloud sends no barrier command for reads captured
more than 180 s ago: a lane's backlog)."""


@dataclass
class Planned:
    record: TruckRecord
    lane_id: str  # the twin gate's lane that plays it
    model_lane: str  # the modelled gate's lane (direction and number)
    profile: str
    expected: str
    plate: str | None
    country: str
    containers: tuple[str, ...]
    weight_kg: float | None
    entry: Declared | None = None
    token: str | None = None


@dataclass
class Crossed:
    planned: Planned
    decided: str | None  # the passage's channel in the end (a read that came late may have tightened it)
    reason: str
    latency_ms: float  # last detection -> the first barrier command
    signed: bool
    passage_id: str | None = None

    @property
    def matched(self) -> bool:
        if self.decided == self.planned.expected:
            return True
        return self.planned.expected == "GREEN" and self.decided == "YELLOW" and "at random" in self.reason


@dataclass
class FullStackRun:
    model: Result
    crossed: list[Crossed]
    wall_s: float
    speedup: float
    invocations: dict[str, int]
    partner: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def matched(self) -> int:
        return sum(c.matched for c in self.crossed)

    @property
    def latency_p50_ms(self) -> float:
        return percentile([c.latency_ms for c in self.crossed if c.decided], 50)

    @property
    def latency_p95_ms(self) -> float:
        return percentile([c.latency_ms for c in self.crossed if c.decided], 95)

    def by_expected(self) -> dict[str, tuple[int, int]]:
        """Expected channel -> (trucks, matched)."""
        out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for c in self.crossed:
            out[c.planned.expected][0] += 1
            out[c.planned.expected][1] += c.matched
        return {k: (v[0], v[1]) for k, v in sorted(out.items())}

    def line(self) -> str:
        return (
            f"fullstack trucks={len(self.crossed)} matched={self.matched} "
            f"decision_p50_ms={self.latency_p50_ms:.0f} decision_p95_ms={self.latency_p95_ms:.0f} "
            f"wall_s={self.wall_s:.0f}"
        )


def run_fullstack(
    state: StackState,
    scenario: str | Scenario = "kimthanh2",
    trucks: int = 200,
    wall_s: float = 60.0,
    say: Callable[[str], None] = print,
    progress: Callable[[float], None] | None = None,
) -> FullStackRun:
    """The model's ``trucks`` through the running local stack, the day compressed into about ``wall_s``
    of driving (more when the stack is slower than the schedule: trucks then queue)."""
    client = StackClient(state)
    plan_scenario = load(scenario) if isinstance(scenario, str) else scenario
    model = run_model(plan_scenario, trucks)
    rng = random.Random(plan_scenario.seed)
    planned = _plan(client, model, rng)
    booked = [p for p in planned if p.entry is not None]
    for p in booked:
        assert p.entry is not None
        client.declare(p.entry)
        p.token = client.pass_token(p.entry)
    say(
        f"full stack: {len(planned)} trucks of the model of {plan_scenario.gate_id}, on the {GATE} gate's lanes "
        f"({len(booked)} booked and declared, {len(planned) - len(booked)} walk-ins); "
        + ", ".join(f"{k} {v}" for k, v in sorted(Counter(p.profile for p in planned).items()))
    )
    span = max(1.0, max(p.record.at_lane for p in planned) - min(p.record.at_lane for p in planned))
    speedup = span / wall_s
    say(f"  the model's {span / 3600:.1f} h of lane arrivals in about {wall_s:.0f} s: {speedup:,.0f}x")

    lanes = Lanes(state, command_keys(client))
    crossed: list[Crossed] = []
    lock = threading.Lock()
    first = min(p.record.at_lane for p in planned)
    by_lane: dict[str, list[Planned]] = defaultdict(list)
    for p in sorted(planned, key=lambda p: p.record.at_lane):
        by_lane[p.model_lane].append(p)
    captured: dict[str, datetime] = {}

    def capture_time(lane_id: str) -> datetime:
        """After the lane's last truck by more than the correlation gap, never in the future."""
        with lock:
            now = utc_now()
            at = max(now - FRESH, captured.get(lane_id, now - FRESH - CAPTURE_GAP) + CAPTURE_GAP)
            captured[lane_id] = at
        if at > now:
            time.sleep((at - now).total_seconds())
        return at

    def drive(trucks_here: list[Planned]) -> None:
        for p in trucks_here:  # one after another, as the modelled lane serves them
            wait = (p.record.at_lane - first) / speedup - (time.monotonic() - t0)
            if wait > 0:
                time.sleep(wait)
            result = lanes.lane(GATE, p.lane_id).cross(
                p.plate,
                p.country,
                containers=p.containers,
                weight_kg=p.weight_kg,
                pass_token=p.token,
                timeout=CROSS_TIMEOUT_S,
                pace_s=PACE_S,
                at=capture_time(p.lane_id),
            )
            time.sleep(QUIET_S)
            command = result.command
            decided = command.reason.split(":", 1)[0] if command else None
            with lock:
                reason = command.reason if command else result.error or ""
                passage = command.passage_id if command else None
                crossed.append(Crossed(p, decided, reason, result.latency_ms, bool(result.signature_ok), passage))
                if progress:
                    progress(len(crossed) / len(planned))

    def warm(lane_id: str) -> None:
        """One unbooked truck on a spare lane, not counted: the functions' cold starts (a second, a third
        worker) are paid before the day starts, as provisioned concurrency would on AWS; a cold start slower
        than the settle time would decide the first trucks before all their reads are in."""
        plate = f"24{rng.choice('LMN')}-{rng.randrange(100, 999)}.{rng.randrange(10, 99)}"
        lanes.lane(GATE, lane_id).cross(plate, "VN", timeout=15, at=capture_time(lane_id))

    spares = [f"{'out' if i % 2 == 0 else 'in'}-01" for i in range(len(by_lane))]
    warmers = [threading.Thread(target=warm, args=(lane,), daemon=True) for lane in spares]
    try:
        for t in warmers:
            t.start()
        for t in warmers:
            t.join()
        started_wall, t0 = time.time(), time.monotonic()
        threads = [threading.Thread(target=drive, args=(trucks,), daemon=True) for trucks in by_lane.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        lanes.close()
    wall = time.monotonic() - t0
    time.sleep(1.0)  # reads still in flight, the stream functions behind the last decisions
    client.forget_tapped()  # the run's thousands of bus events: the tap is for people reading a few
    for c in crossed:  # what the stack decided in the end: a late read may have tightened it (a 2nd command)
        final = client.passages.get(c.passage_id) if c.passage_id else None
        if final is not None and final.decision is not None:
            c.decided, c.reason = final.channel.value if final.channel else c.decided, final.decision.reason()
    run = FullStackRun(model, crossed, wall, speedup, invocations_since(Path(state.state_dir) / "logs", started_wall))
    for c in crossed:
        if c.decided is None:
            run.problems.append(f"{c.planned.plate or c.planned.profile} on {c.planned.lane_id}: {c.reason}")
        elif not c.signed:
            run.problems.append(f"{c.planned.plate} on {c.planned.lane_id}: the command's signature did not verify")
    say(
        f"  {run.matched}/{len(crossed)} decided as the model expected; last detection -> barrier command "
        f"p50 {run.latency_p50_ms:.0f} ms, p95 {run.latency_p95_ms:.0f} ms; {wall:.0f} s of driving"
    )
    for expected, (n, ok) in run.by_expected().items():
        say(f"    expected {expected:6}: {ok}/{n} as expected")
    for c in [c for c in crossed if not c.matched][:5]:
        say(f"    MISMATCH {c.planned.profile} {c.planned.plate}: expected {c.planned.expected}, got {c.reason[:100]}")
    total = sum(run.invocations.values())
    say(
        f"  function invocations counted: {total} ({total / max(1, len(crossed)):.1f} a truck): "
        + ", ".join(f"{k} {v}" for k, v in sorted(run.invocations.items(), key=lambda kv: -kv[1])[:6])
    )
    return run


def _plan(client: StackClient, model: Result, rng: random.Random) -> list[Planned]:
    """Each model truck as a real one: plate, containers, weight, booking, and the channel to expect."""
    stage = str(client.template.parameters.get("Stage", "local"))
    registry = default_gates(stage)
    if GATE not in registry.gates:
        raise ValueError(f"the stack's stage {stage!r} has no {GATE!r} gate (local and dev stacks have it)")
    specs = registry.gates[GATE].all_lanes()
    pools = _pools(model.scenario, specs)
    used: Counter[str] = Counter()
    series = rng.choice("CDEFGHK")
    base = rng.randrange(0, 90_000)
    tag = uuid.uuid4().hex[:6].upper()
    now = utc_now()
    out = []
    for i, t in enumerate(sorted(model.trucks, key=lambda t: t.number)):
        model_lane = f"{t.direction} lane {t.lane}"
        pool = pools[model_lane]
        lane_id = pool[used[model_lane] % len(pool)]
        used[model_lane] += 1
        scale = specs[lane_id].scale
        n = base + i
        vn = t.direction == "VN_TO_CN"
        plate = f"24{series}-{n // 100:03d}.{n % 100:02d}" if vn else f"云{series}·{n:05d}"
        box = _container(rng)
        goods = GOODS[t.direction]
        weight = TARE_KG + float(goods["gross_kg"]) if scale else None  # type: ignore[arg-type]
        if not t.booked:
            profile, expected = "walk-in", "RED"
            containers: tuple[str, ...] = (box,)
            entry = None
        else:
            slot = (-120, 120)
            containers = (box,)
            read_plate: str | None = plate
            if t.manual_entry:
                profile, expected, read_plate = "plate missed", "YELLOW", None
            elif t.channel == "YELLOW":
                profile, expected, slot = "early", "YELLOW", (300, 420)
            elif t.channel == "RED":
                # the undeclared one read first: decided RED at once, not OPEN then tightened (a second
                # command the lane would give the next truck)
                profile, expected, containers = "undeclared container", "RED", (_container(rng), box)
            else:
                profile, expected = "clean", "GREEN"
            entry = declared(
                {
                    "consignment_id": f"C-TWIN-{tag}-{i:04d}",
                    "trader_id": f"TR-TWIN-{tag}",
                    "gate_id": GATE,
                    "direction": t.direction,
                    "plate_text": plate,
                    "country": "VN" if vn else "CN",
                    "container_nos": [box],
                    "driver_ref": f"DRV-TWIN-{i:04d}",
                    "vehicle_tare_kg": TARE_KG,
                    "goods": [goods],
                    "booking": {"booking_id": f"BK-TWIN-{tag}-{i:04d}", "slot_minutes": list(slot)},
                },
                now,
            )
            plate = read_plate  # type: ignore[assignment]
        country = "VN" if vn else "CN"
        out.append(Planned(t, lane_id, model_lane, profile, expected, plate, country, containers, weight, entry))
    return out


def _pools(scenario: Scenario, specs: dict[str, Any]) -> dict[str, list[str]]:
    """Each modelled lane's share of the twin gate's lanes of its direction (lane 01 kept for the warm-up)."""
    pools: dict[str, list[str]] = {}
    for direction, spec in scenario.directions.items():
        lanes = sorted(lane_id for lane_id, lane in specs.items() if lane.direction.value == direction)[1:]
        if len(lanes) < spec.lanes:
            raise ValueError(f"the {GATE!r} gate has {len(lanes)} lanes {direction}, the scenario {spec.lanes}")
        for n in range(1, spec.lanes + 1):
            pools[f"{direction} lane {n}"] = lanes[n - 1 :: spec.lanes]
    return pools


def _container(rng: random.Random) -> str:
    owner = rng.choice(OWNERS)
    serial = f"{rng.randrange(1_000_000):06d}"
    return f"{owner}{serial}{check_digit(owner + serial)}"


def invocations_since(logs: Path, since: float) -> dict[str, int]:
    """Each function's invocations since ``since`` (epoch s): distinct request ids in its log."""
    counts = {}
    for log in sorted(logs.glob("*Function.log")):
        ids: set[str] = set()
        for line in log.read_text(errors="replace").splitlines():
            if '"function_request_id"' not in line:
                continue
            try:
                record: dict[str, Any] = json.loads(line)
                stamp = datetime.fromisoformat(str(record["timestamp"]).replace(",", "."))
            except (ValueError, KeyError):
                continue
            if stamp.timestamp() >= since:
                ids.add(str(record["function_request_id"]))
        if ids:
            counts[log.name.removesuffix("Function.log")] = len(ids)
    return counts


DEMO_TRUCKS = 200


def run_twin_section(state: StackState, client: StackClient, say: Callable[[str], None] = print) -> bool:
    """`make demo`'s last section: the model's gate-day at Kim Thanh II, 200 of its trucks through this
    stack, and the report that shows both."""
    from smartgate_infra.trader_demo import section
    from smartgate_infra.twin.run import run_twin

    title = f"12. The gate-day twin: {DEMO_TRUCKS} trucks of a modelled Kim Thanh II day through this stack"

    def steps(state: StackState, client: StackClient, say: Callable[[str], None]) -> bool:
        full = run_fullstack(state, "kimthanh2", DEMO_TRUCKS, wall_s=40, say=lambda line: say(f"   {line}"))
        report = Path(state.state_dir) / "twin" / "report.html"
        twin = run_twin("kimthanh2", None, ["arrivals.booked_share=0.9"], report, lambda _: None, False, full)
        base = twin.summaries[0][1]
        say(
            f"   the model's whole day ({base.trucks} trucks): dwell p50 {base.dwell_min.p50:.0f} min, "
            f"p95 {base.dwell_min.p95:.0f} min; USD {base.cost.per_crossing_usd:.5f} a crossing on AWS"
        )
        say(f"   report (model, a what-if with 90 % booked, the full-stack run): {report.resolve().as_uri()}")
        return full.matched == len(full.crossed) and not full.problems

    return section(title, steps, state, client, say)
