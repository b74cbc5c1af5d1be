"""The gate-day model: a discrete-event simulation (simpy) of one gate's trucks, lanes, yard, laboratory and
partner, from a :class:`~smartgate_infra.twin.scenario.Scenario`.

Each truck arrives (a booked one around its slot, a walk-in by the time-of-day profile), queues for a lane of
its direction, is read and decided at the barrier (a missed plate costs a manual entry; a lane whose uplink
is down decides on its own after the cloud's silence: a booked truck's pass opens it, anything else waits
for an officer), then GREEN leaves; YELLOW has its papers checked and RED its container opened by the
yard's officers (perishables first), some RED perishables wait for the laboratory. Trucks for China then
cross the bridge and wait for the partner gate's acceptance (its capacity per hour). Lanes close at night:
a queue left at closing waits for the morning.

Every truck's times by stage are recorded (:class:`TruckRecord`), with what the stack would have done for
it (:class:`Usage`, counted per flow step), for the metrics, the cost and the report.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any
from zoneinfo import ZoneInfo

import simpy

from smartgate_infra.twin.scenario import CHANNELS, Scenario, Spread

Process = Generator[simpy.Event, Any, None]
DAY = 86_400.0
SAMPLE_S = 300.0  # queue lengths every 5 minutes


@dataclass
class Usage:
    """What one truck made the stack do (counted per flow step; priced by :mod:`.cost`)."""

    detections: int = 0  # lane messages into IoT Core, each an ingest invocation
    commands: int = 0  # signed barrier commands out
    decisions: int = 0  # passage decisions (stream -> events, audit, trader notice)
    officer_actions: int = 0  # releases / inspections through the API
    alerts: int = 0  # officer alerts (three languages each)
    partner_out: int = 0  # our messages to the partner gate
    partner_in: int = 0  # the partner's answers
    trader_api: int = 0  # the trader's API calls (declare, book, pass, status)
    offline: int = 0  # decided at the lane while its uplink was down
    conflicts: int = 0  # the lane opened offline, the cloud would have held


@dataclass
class TruckRecord:
    number: int
    direction: str
    booked: bool
    perishable: bool
    channel: str
    lane: int = 0
    arrived: float = 0.0
    at_lane: float = 0.0
    left_lane: float = 0.0
    released: float = 0.0  # free to leave our gate (after inspection / lab)
    lab_s: float = 0.0
    inspection_s: float = 0.0  # in the yard: waiting for an officer and being inspected
    departed: float = 0.0  # accepted by the partner (VN_TO_CN) or gone inland
    refused: bool = False
    manual_entry: bool = False
    offline: bool = False
    usage: Usage = field(default_factory=Usage)

    @property
    def queue_s(self) -> float:
        return self.at_lane - self.arrived

    @property
    def lane_s(self) -> float:
        return self.left_lane - self.at_lane

    @property
    def partner_s(self) -> float:
        return self.departed - self.released

    @property
    def dwell_s(self) -> float:
        return self.departed - self.arrived

    @property
    def to_release_s(self) -> float:
        return self.released - self.arrived


@dataclass
class Result:
    scenario: Scenario
    trucks: list[TruckRecord]
    queue: dict[str, list[tuple[float, int]]]  # direction -> (seconds, trucks waiting)
    lane_busy: dict[tuple[str, int], float]  # (direction, lane) -> busy seconds
    open_s: float  # seconds the lanes were open over the run
    end_s: float
    start: datetime

    @property
    def per_day(self) -> float:
        """Trucks a day in this run."""
        return len(self.trucks) / self.scenario.days

    @property
    def gate_per_day(self) -> float:
        """Trucks a day the scenario's gate takes (its vehicles a day, all directions)."""
        return float(sum(d.vehicles_per_day for d in self.scenario.directions.values()))

    def done(self) -> list[TruckRecord]:
        return [t for t in self.trucks if t.departed > 0]


def run_model(scenario: Scenario, trucks: int | None = None, progress: Callable[[float], None] | None = None) -> Result:
    """Simulate the scenario; ``trucks`` (default: its vehicles a day times its days) split between the
    directions as their vehicles a day are, over as many days as the gate's daily traffic needs for them
    (2,000 trucks at a gate of 1,000 a day: two days; more a day is a what-if on ``vehicles_per_day``).
    ``progress`` is told the fraction of trucks done."""
    trucks = trucks or scenario.total_trucks()
    per_day = sum(d.vehicles_per_day for d in scenario.directions.values())
    days = max(scenario.days, math.ceil(trucks / per_day))
    return _Gate(scenario.model_copy(update={"days": days}), trucks, progress).run()


class _Gate:
    def __init__(self, s: Scenario, trucks: int, progress: Callable[[float], None] | None) -> None:
        self.s = s
        self.rng = random.Random(s.seed)
        self.env = simpy.Environment()
        self.progress = progress
        tz = ZoneInfo(s.timezone)
        self.start = datetime(2026, 12, 1, tzinfo=tz)
        self.opens = _seconds(s.opening.opens)
        self.closes = _seconds(s.opening.closes)
        self.lanes: dict[str, simpy.Store] = {
            d: simpy.Store(self.env, capacity=spec.lanes) for d, spec in s.directions.items()
        }
        for d, store in self.lanes.items():
            store.items.extend(range(1, s.directions[d].lanes + 1))
        self.officers = simpy.PriorityResource(self.env, capacity=s.inspection.officers)
        self.lab = simpy.Resource(self.env, capacity=s.inspection.lab_capacity)
        self.partner_tokens = simpy.Container(self.env, capacity=max(1, s.partner.capacity_per_hour), init=1)
        self.records: list[TruckRecord] = []
        self.queue: dict[str, list[tuple[float, int]]] = {d: [] for d in s.directions}
        self.busy: dict[tuple[str, int], float] = {
            (d, n): 0.0 for d, spec in s.directions.items() for n in range(1, spec.lanes + 1)
        }
        self.total = trucks
        self.finished = 0

    # ---- set-up

    def run(self) -> Result:
        plan = list(self._arrivals())
        for record in plan:
            self.env.process(self._truck(record))
        self.env.process(self._partner_gate())
        self.env.process(self._sampler())
        horizon = DAY * (self.s.days + 3)  # room for the last day's queue, yard and lab
        self.env.run(until=self._all_done(len(plan), horizon))
        end = self.env.now
        open_s = (self.closes - self.opens) * self.s.days
        return Result(self.s, self.records, self.queue, self.busy, open_s, end, self.start)

    def _all_done(self, n: int, horizon: float) -> simpy.Event:
        self.everyone = self.env.event()
        if n == 0:
            self.everyone.succeed()
        self.env.process(self._deadline(horizon))
        return self.everyone

    def _deadline(self, horizon: float) -> Process:
        yield self.env.timeout(horizon)
        if not self.everyone.triggered:
            self.everyone.succeed()

    def _arrivals(self) -> Iterator[TruckRecord]:
        s, rng = self.s, self.rng
        total_day = sum(d.vehicles_per_day for d in s.directions.values())
        hours = [w if self.opens <= h * 3600 < self.closes else 0.0 for h, w in enumerate(s.arrivals.profile)]
        number = 0
        left = self.total
        names = list(s.directions)
        for i, (name, spec) in enumerate(s.directions.items()):
            count = left if i == len(names) - 1 else round(self.total * spec.vehicles_per_day / total_day)
            left -= count
            for _ in range(count):
                number += 1
                day = rng.randrange(s.days)
                hour = rng.choices(range(24), weights=hours)[0]
                booked = rng.random() < s.arrivals.booked_share
                if booked:  # the slot is the hour; the driver comes a little before it
                    at = hour * 3600 - _draw(rng, s.arrivals.booked_early_min) * 60
                    at = max(at, self.opens - 1800)  # some wait at the gate before it opens
                else:
                    at = hour * 3600 + rng.random() * 3600
                mix = s.channels.booked if booked else s.channels.walk_in
                channel = rng.choices(CHANNELS, weights=[mix.GREEN, mix.YELLOW, mix.RED])[0]
                yield TruckRecord(
                    number=number,
                    direction=name,
                    booked=booked,
                    perishable=rng.random() < spec.perishable_share,
                    channel=channel,
                    arrived=day * DAY + at,
                )

    # ---- the truck

    def _truck(self, t: TruckRecord) -> Process:
        # each truck draws from its own stream: a what-if run meets the same trucks with the same luck
        # (common random numbers), so that what differs is what the change did, not the dice
        s, rng, env = self.s, random.Random(f"{self.s.seed}-{t.number}"), self.env
        yield env.timeout(max(0.0, t.arrived - env.now))
        self.records.append(t)
        u = t.usage
        if t.booked:
            u.trader_api += 5  # declare, book, fetch the pass, two status reads
        lane: int = 0
        while True:
            lane = yield self.lanes[t.direction].get()
            wait = self._closed_for(env.now)
            if not wait:
                break
            yield self.lanes[t.direction].put(lane)
            yield env.timeout(wait)
        t.lane, t.at_lane = lane, env.now
        yield env.timeout(_draw(rng, s.lane.approach_s))
        u.detections += 4  # plate, container, scale, pass (a walk-in shows no pass: its rear plate instead)
        if rng.random() < s.lane.plate_read_failure:
            t.manual_entry = True
            if t.booked:  # its pass names the booking, but no plate read: the rules want its papers seen
                t.channel = "RED" if t.channel == "RED" else "YELLOW"
            else:
                yield env.timeout(_draw(rng, s.lane.manual_entry_s))
                u.officer_actions += 1
        yield env.timeout(_draw(rng, s.lane.service_s))
        if self._offline(t.direction, lane, env.now):
            t.offline = True
            u.offline += 1
            yield env.timeout(s.offline.decide_after_s)
            if t.booked:  # a valid pass opens the lane offline; the cloud decides again when it is back
                u.conflicts += t.channel == "RED"
                t.channel = "GREEN"
            else:
                yield env.timeout(_draw(rng, s.offline.officer_min) * 60)
                u.officer_actions += 1
        u.decisions += 1
        u.commands += 1
        yield env.timeout(s.lane.barrier_cycle_s)
        t.left_lane = env.now
        self.busy[(t.direction, lane)] += t.left_lane - t.at_lane
        yield self.lanes[t.direction].put(lane)

        if t.channel != "GREEN":
            u.alerts += 1
            entered = env.now
            minutes = s.inspection.document_check_min if t.channel == "YELLOW" else s.inspection.physical_min
            with self.officers.request(priority=0 if t.perishable else 1) as officer:
                yield officer
                yield env.timeout(_draw(rng, minutes) * 60)
            t.inspection_s = env.now - entered
            if t.channel == "RED" and t.perishable and rng.random() < s.inspection.lab_share:
                entered = env.now
                with self.lab.request() as sample:
                    yield sample
                    yield env.timeout(_draw(rng, s.inspection.lab_hours) * 3600)
                t.lab_s = env.now - entered
            u.officer_actions += 1
            u.commands += 1  # the release opens the barrier
            u.decisions += 1
        t.released = env.now

        if t.direction == "VN_TO_CN":
            u.partner_out += 3 + (t.channel != "GREEN")  # ExpectedArrival, (Held,) Cleared, Departed
            yield env.timeout(_draw(rng, s.partner.delay_min) * 60)
            yield self.partner_tokens.get(1)
            u.partner_in += 2  # their clearance and departure (or one refusal)
            if rng.random() < s.partner.refusal_rate:
                t.refused = True
                u.partner_in -= 1
        t.departed = env.now
        self.finished += 1
        if self.progress and (self.finished % 50 == 0 or self.finished == self.total):
            self.progress(self.finished / self.total)
        if self.finished == self.total and not self.everyone.triggered:
            self.everyone.succeed()

    # ---- the gate's clocks

    def _closed_for(self, now: float) -> float:
        """Seconds until the lanes open again (0 while they are open)."""
        day, into = divmod(now, DAY)
        if self.opens <= into < self.closes:
            return 0.0
        if into < self.opens:
            return self.opens - into
        return DAY - into + self.opens

    def _offline(self, direction: str, lane: int, now: float) -> bool:
        into = now % DAY
        return any(
            o.direction == direction and o.lane == lane and 0 <= into - _seconds(o.at) < o.minutes * 60
            for o in self.s.outages
        )

    def _partner_gate(self) -> Process:
        """The partner accepts ``capacity_per_hour`` trucks an hour, evenly, while the gate is open."""
        every = 3600 / self.s.partner.capacity_per_hour
        while True:
            yield self.env.timeout(every)
            if not self._closed_for(self.env.now) and self.partner_tokens.level < self.partner_tokens.capacity:
                yield self.partner_tokens.put(1)

    def _sampler(self) -> Process:
        while True:
            for d, store in self.lanes.items():
                self.queue[d].append((self.env.now, len(store.get_queue)))
            yield self.env.timeout(SAMPLE_S)


def _seconds(t: time) -> float:
    return t.hour * 3600 + t.minute * 60 + t.second


def _draw(rng: random.Random, spread: Spread) -> float:
    """A log-normal duration with the spread's mean and standard deviation."""
    if spread.sd <= 0:
        return spread.mean
    sigma2 = math.log(1 + (spread.sd / spread.mean) ** 2)
    return rng.lognormvariate(math.log(spread.mean) - sigma2 / 2, math.sqrt(sigma2))
