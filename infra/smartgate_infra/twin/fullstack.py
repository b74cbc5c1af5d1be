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

Around the lanes, as at the gate: a held booked truck is moved aside for the next one and a customs officer
releases it from the yard (through the API, the model's time in the yard later; a missed plate is typed in
first), and it drives out. The partner gate (``twincn``, :class:`~smartgate_infra.partner_sim.PartnerSimulator`
through the published contract) hears of every booked export, and when it has left us clears it or refuses
it, the trucks the model's partner refused. Each booking's timeline must show the partner's answer. The
last truck of a lane with a booked export is followed by an unbooked one (its arrival says the export left).
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
from smartgate.schemas import Direction, utc_now
from smartgate.schemas.partner import ConsignmentRefused, VehicleCleared, VehicleDeparted
from smartgate_infra.api_client import ApiClient
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE, Declared, declared
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.offline_demo import until
from smartgate_infra.partner_sim import PartnerSimulator
from smartgate_infra.stack import StackState
from smartgate_infra.twin.cost import STEP_OF
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
PARTNER = "twincn"
YARD_MAX_S = 8.0
"""The longest a held truck waits in the yard for its officer, in wall time (a lab's hours, accelerated)."""
LOOKS, LOOK_AGAIN_S = 1, 5.0
"""A booked export first let through is looked at again, this long after (a late read may hold it: the
partner would never hear that it left)."""
EXCHANGE_WAIT_S = 60.0
"""After the last truck: for the partner's last answers to reach the bookings' timelines."""


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
    looks: int = 0  # the yard officer's looks at it

    @property
    def matched(self) -> bool:
        if self.decided == self.planned.expected:
            return True
        return self.planned.expected == "GREEN" and self.decided == "YELLOW" and "at random" in self.reason


@dataclass
class Exchange:
    """The partner gate's side of the run: the booked exports, what it heard and answered."""

    exports: int
    """booked exports: each must reach the partner, leave, and be answered"""
    released: int
    """held booked trucks a customs officer released from the yard (through the API)"""
    actions: int
    """the officer's actions through the API (releases, plates typed in, retries after a change came first)"""
    told: int
    """exports whose departure the partner read (our VehicleDeparted)"""
    cleared: int
    refused: int
    model_refused: int
    """the model's partner refusals among the exports (the simulator refuses those)"""
    on_timeline: int
    """exports whose booking timeline shows the partner's answer"""
    messages: int
    """our messages about the exports the partner read, all kinds"""

    @property
    def complete(self) -> bool:
        return self.told == self.exports == self.on_timeline and self.refused == self.model_refused

    def line(self) -> str:
        return (
            f"exports={self.exports} released_from_yard={self.released} told={self.told} cleared={self.cleared} "
            f"refused={self.refused} (model {self.model_refused}) on_timeline={self.on_timeline}"
        )


@dataclass
class FullStackRun:
    model: Result
    crossed: list[Crossed]
    wall_s: float
    speedup: float
    functions: dict[str, tuple[int, int]] = field(default_factory=dict)
    """function -> (invocations, log bytes) counted since the trucks started"""
    exchange: Exchange | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def invocations(self) -> dict[str, int]:
        return {name: requests for name, (requests, _) in self.functions.items()}

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
    exports = {
        p.entry.booking.booking_id: p
        for p in booked
        if p.record.direction == "VN_TO_CN" and p.entry is not None and p.entry.booking is not None
    }
    sim = PartnerSimulator(
        client,
        PARTNER,
        delay_s=max(0.2, plan_scenario.partner.delay_min.mean * 60 / speedup),
        seed=plan_scenario.seed,
        references=set(exports),
        refuse={b for b, p in exports.items() if p.record.refused},
    )
    yard = _Yard(ApiClient(state.api_url, client.officer_token("twin-customs", "customs", GATE, "en")), speedup)
    last_on: dict[str, Crossed] = {}  # each of the twin gate's lanes: the truck at its barrier

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
                c = Crossed(p, decided, reason, result.latency_ms, bool(result.signature_ok), passage)
                crossed.append(c)
                followed, last_on[p.lane_id] = last_on.get(p.lane_id), c
                if progress:
                    progress(len(crossed) / len(planned))
            if followed is not None:
                yard.take(followed)  # moved aside for this truck, if it was held

    def warm(lane_id: str) -> None:
        """One unbooked truck on a spare lane, not counted: the functions' cold starts (a second, a third
        worker) are paid before the day starts, as provisioned concurrency would on AWS; a cold start slower
        than the settle time would decide the first trucks before all their reads are in."""
        lanes.lane(GATE, lane_id).cross(_unbooked_plate(rng), "VN", timeout=15, at=capture_time(lane_id))

    def exchange(stop: threading.Event) -> None:
        while not stop.wait(0.5):
            sim.step()

    spares = [f"{'out' if i % 2 == 0 else 'in'}-01" for i in range(len(by_lane))]
    warmers = [threading.Thread(target=warm, args=(lane,), daemon=True) for lane in spares]
    stop_partner = threading.Event()
    partner_thread = threading.Thread(target=exchange, args=(stop_partner,), daemon=True)
    try:
        for t in warmers:
            t.start()
        for t in warmers:
            t.join()
        started_wall, t0 = time.time(), time.monotonic()
        yard.start()
        partner_thread.start()
        threads = [threading.Thread(target=drive, args=(trucks,), daemon=True) for trucks in by_lane.values()]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.monotonic() - t0
        for lane_id, c in sorted(last_on.items()):  # an unbooked truck after each lane's last booked export
            if c.planned.entry is not None and c.planned.record.direction == "VN_TO_CN":
                sim_lane = lanes.lane(GATE, lane_id)
                front = sim_lane.truck(_unbooked_plate(rng), "VN", at=capture_time(lane_id))[0]
                sim_lane.transport.publish(sim_lane.detections_topic, front)
                yard.take(c)
        yard.close()
    finally:
        stop_partner.set()
        partner_thread.join()
        lanes.close()
    time.sleep(1.0)  # reads still in flight, the stream functions behind the last decisions
    for c in crossed:  # what the stack decided in the end: a late read may have tightened it (a 2nd command)
        final = client.passages.get(c.passage_id) if c.passage_id else None
        if final is not None and final.decision is not None:
            c.decided, c.reason = final.channel.value if final.channel else c.decided, final.decision.reason()
    run = FullStackRun(model, crossed, wall, speedup, problems=list(yard.problems))
    run.exchange = _exchange(client, sim, exports, yard, run.problems)
    run.functions = function_logs_since(Path(state.state_dir) / "logs", started_wall)
    client.forget_tapped()  # the run's thousands of bus events: the tap is for people reading a few
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
    say(f"  the partner gate {PARTNER}: {run.exchange.line()}")
    for problem in run.problems[:5]:
        say(f"    !! {problem}")
    total = sum(run.invocations.values())
    say(
        f"  function invocations counted: {total} ({total / max(1, len(crossed)):.1f} a truck): "
        + ", ".join(f"{k} {v}" for k, v in sorted(run.invocations.items(), key=lambda kv: -kv[1])[:6])
    )
    return run


class _Yard:
    """The customs officer of the run: each held booked truck, moved aside for the next one, is released
    from the yard through the API the model's time in the yard later (a missed plate typed in first)."""

    def __init__(self, officer: ApiClient, speedup: float) -> None:
        self.officer = officer
        self.speedup = speedup
        self.released: list[Crossed] = []
        self.actions = 0
        self.problems: list[str] = []
        self._due: list[tuple[float, int, Crossed]] = []
        self._ready = threading.Condition()
        self._closing = False
        self._thread = threading.Thread(target=self._work, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def take(self, c: Crossed, after_s: float | None = None) -> None:
        """The booked truck left the barrier: the officer looks at it (the model's time in the yard later,
        or ``after_s``) and releases it if it is held. One first let through is looked at again a little
        later if it is an export: a read that came late may still hold it (on a busy stack, seconds after its first
        command)."""
        if c.planned.entry is None or c.passage_id is None:
            return
        record = c.planned.record
        in_yard = min(YARD_MAX_S, max(0.5, (record.released - record.left_lane) / self.speedup))
        with self._ready:
            self._due.append((time.monotonic() + (in_yard if after_s is None else after_s), id(c), c))
            self._due.sort(key=lambda d: d[:2])
            self._ready.notify()

    def close(self) -> None:
        """No more trucks: release those waiting, then stop."""
        with self._ready:
            self._closing = True
            self._ready.notify()
        self._thread.join()

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._due and not self._closing:
                    self._ready.wait()
                if not self._due:
                    return
                at, _, c = self._due[0]
                if at > time.monotonic():
                    self._ready.wait(at - time.monotonic())
                    continue
                self._due.pop(0)
            outcome = self._release(c)
            if outcome == "released":
                self.released.append(c)
            elif outcome == "free" and c.looks < LOOKS and c.planned.record.direction == "VN_TO_CN":
                c.looks += 1
                self.take(c, LOOK_AGAIN_S)
            elif outcome not in ("free", "departed"):
                self.problems.append(f"{c.planned.profile} {c.planned.plate} on {c.planned.lane_id}: {outcome}")

    def _release(self, c: Crossed) -> str:
        """ "released" (after a missed plate is typed in), "free" (not held: nothing to do), "departed", or
        why not; a change that came first is read again, the action retried."""
        assert c.planned.entry is not None
        plate = c.planned.entry.consignment.plate_text
        for _ in range(4):
            got = self.officer.get(f"/passages/{c.passage_id}")
            if got.status != 200:
                return f"read: HTTP {got.status} {got.raw[:120]!r}"
            status = got.body["status"]
            if status not in ("HELD", "IN_INSPECTION"):
                return "departed" if status in ("DEPARTED", "REFUSED") else "free"
            if not got.body.get("plate_text"):
                action = {"action": "correct_plate", "plate": plate, "country": c.planned.country}
                reason = "plate read from the registration papers"
            else:
                action = {"action": "release"}
                reason = "checked in the yard (the twin's officer)"
            done = self.officer.post(
                f"/passages/{c.passage_id}/actions",
                {**action, "reason": reason, "version": got.body["version"]},
                key=f"twin-{c.passage_id}-{action['action']}-{got.body['version']}",
            )
            self.actions += 1
            if done.status == 409:
                continue
            if done.status != 200:
                return f"{action['action']}: HTTP {done.status} {done.raw[:120]!r}"
            if action["action"] == "release":
                return "released"  # DEPARTED; or RELEASED while still the newest at its lane: the next one's arrival
        return "four changes came first"


def _exchange(
    client: StackClient, sim: PartnerSimulator, exports: dict[str, Planned], yard: _Yard, problems: list[str]
) -> Exchange:
    """The partner's last answers, and what reached the bookings' timelines."""

    def told() -> set[str]:
        return {
            e.reference for e in sim.received if isinstance(e, VehicleDeparted) and e.direction == Direction.VN_TO_CN
        }

    sim.run_until(lambda s: told() >= set(exports) and s.pending == 0, EXCHANGE_WAIT_S)
    refused = {e.reference for e in sim.sent_events if isinstance(e, ConsignmentRefused)}
    cleared = {e.reference for e in sim.sent_events if isinstance(e, VehicleCleared)}
    want = {b: {"partner_refused"} if b in refused else {"partner_cleared", "partner_departed"} for b in exports}
    heard = told() & set(exports)  # the partner answers only what it heard of (the rest is a problem below)

    found: dict[str, set[str]] = {}

    def answered() -> bool:
        """The bookings not yet showing the partner's answer, read again (the done ones are not)."""
        for booking_id in [b for b in heard if found.get(b) != want[b]]:
            statuses = {json.loads(row.body).get("status", "") for row in client.trade.timeline.query(booking_id)}
            found[booking_id] = {s for s in statuses if s.startswith("partner_")}
        return all(found.get(b) == want[b] for b in heard)

    until(answered, EXCHANGE_WAIT_S, every=1.0)
    on_timeline = sum(found.get(b) == want[b] for b in exports)
    for booking_id in sorted(set(exports) - heard)[:5]:
        entry = exports[booking_id].entry
        plate = entry.consignment.plate_text if entry else "?"
        problems.append(f"the partner never heard that the {exports[booking_id].profile} export {plate} left")
    for booking_id in [b for b in exports if found.get(b) != want[b]][:5]:
        has, wanted = sorted(found.get(booking_id, ())), sorted(want[booking_id])
        problems.append(f"booking {booking_id}: its timeline has {has} of the partner, not {wanted}")
    problems.extend(sim.problems[:5])
    return Exchange(
        exports=len(exports),
        released=len(yard.released),
        actions=yard.actions,
        told=len(heard),
        cleared=len(cleared),
        refused=len(refused),
        model_refused=sum(p.record.refused for p in exports.values()),
        on_timeline=on_timeline,
        messages=sim.stats.consumed,
    )


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


def _unbooked_plate(rng: random.Random) -> str:
    """A plate in a series the planned trucks do not use (warm-up and closing trucks)."""
    return f"24{rng.choice('LMN')}-{rng.randrange(100, 999)}.{rng.randrange(10, 99)}"


def _container(rng: random.Random) -> str:
    owner = rng.choice(OWNERS)
    serial = f"{rng.randrange(1_000_000):06d}"
    return f"{owner}{serial}{check_digit(owner + serial)}"


def function_logs_since(logs: Path, since: float) -> dict[str, tuple[int, int]]:
    """Each function's (invocations, log bytes) since ``since`` (epoch s): distinct request ids in its log,
    and the bytes of its structured lines (what CloudWatch Logs would ingest)."""
    counts = {}
    for log in sorted(logs.glob("*Function.log")):
        ids: set[str] = set()
        size = 0
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
                size += len(line.encode()) + 1
        if ids:
            counts[log.name.removesuffix("Function.log")] = (len(ids), size)
    return counts


FUNCTION_STEP = {
    "IngestDetections": "detection",
    "SettlePassages": "decision",
    "PublishPassageEvents": "decision",
    "AppendAudit": "decision",
    "PublishTraderNotifications": "decision",
    "TrackBookings": "decision",
    "NotifyOfficers": "alert",
    "SendToPartner": "partner_out",
    "ReceiveFromPartner": "partner_in",
    "Api": "officer_action",
}
"""The flow step (data/usage.yaml) each function's invocations belong to; the scheduled functions (lane
watch, health, reconciliation, sweeps, escalation) are the stack's fixed costs, not a truck's."""


def measured_steps(run: FullStackRun) -> dict[str, dict[str, float]]:
    """Lambda requests and log bytes per unit of each flow step, as this run counted them: the step's
    functions' totals over the times the model's trucks made the step (so that the model, priced with these,
    makes the stack's counts); an officer's action over the actions the run's officer took."""
    model_counts: Counter[str] = Counter()
    for t in run.model.trucks:
        for name, step in STEP_OF.items():
            model_counts[step] += getattr(t.usage, name)
        model_counts["partner_out"] += t.usage.partner_out
        model_counts["partner_in"] += t.usage.partner_in
    if run.exchange is not None:
        model_counts["officer_action"] = run.exchange.actions
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for function, (requests, size) in run.functions.items():
        if (of := FUNCTION_STEP.get(function)) is not None:
            totals[of][0] += requests
            totals[of][1] += size
    out: dict[str, dict[str, float]] = {}
    for step, (requests, size) in sorted(totals.items()):
        if made := model_counts[step]:
            out[step] = {"lambda_request": round(requests / made, 3), "logs_bytes": round(size / made)}
    return out


DEMO_TRUCKS = 200


def run_twin_section(state: StackState, client: StackClient, say: Callable[[str], None] = print) -> bool:
    """`make demo`'s last section: the model's gate-day at Kim Thanh II, 200 of its trucks through this
    stack, and the report that shows both."""
    from smartgate_infra.trader_demo import section
    from smartgate_infra.twin.run import run_twin

    title = f"13. The gate-day twin: {DEMO_TRUCKS} trucks of a modelled Kim Thanh II day through this stack"

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
