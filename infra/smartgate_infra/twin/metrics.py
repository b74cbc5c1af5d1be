"""What a gate-day run comes to: throughput, queues, dwell by channel and by stage, lanes' utilisation,
perishables' time to release, the published figures checked, and the cost per crossing."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from smartgate_infra.twin.cost import CostBreakdown, crossing_cost
from smartgate_infra.twin.model import DAY, Result, TruckRecord
from smartgate_infra.twin.scenario import CHANNELS

STAGES = ("queue", "lane", "inspection", "lab", "partner")
BARRIER_GOAL_S = 120.0  # Kim Thanh II's published "under 2 minutes at barrier 1"


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between ranks; nan for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


@dataclass(frozen=True)
class Spread2:
    p50: float
    p95: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Spread2:
        return cls(percentile(values, 50), percentile(values, 95), len(values))


@dataclass
class Summary:
    name: str
    trucks: int
    days: int
    dwell_min: Spread2
    dwell_by_channel: dict[str, Spread2]
    stage_min: dict[str, Spread2]  # only the trucks that went through the stage
    barrier_s: dict[str, Spread2]  # time at barrier 1 (approach to barrier up), by direction, GREEN trucks
    per_day: dict[str, float]  # trucks a day cleared on the day they came, by direction
    cleared_per_hour: dict[str, list[int]]  # by direction, by hour of the run
    queue: dict[str, list[tuple[float, int]]]
    utilisation: dict[str, float]  # "VN_TO_CN lane 1" -> busy share of the open hours
    perishable_release_min: Spread2
    refused: int
    offline: int
    conflicts: int
    manual_entries: int
    cost: CostBreakdown
    published: list[tuple[str, str, str, bool]] = field(default_factory=list)  # figure, published, model, ok

    def line(self, wall_s: float) -> str:
        """The last line of ``make twin`` (read by tools)."""
        return (
            f"trucks={self.trucks} wall_s={wall_s:.2f} dwell_p50_min={self.dwell_min.p50:.1f} "
            f"dwell_p95_min={self.dwell_min.p95:.1f} usd_per_crossing={self.cost.per_crossing_usd:.6f}"
        )


def summarise(result: Result) -> Summary:
    s = result.scenario
    done = result.done()
    minutes = {
        "queue": lambda t: t.queue_s,
        "lane": lambda t: t.lane_s,
        "inspection": lambda t: t.inspection_s,
        "lab": lambda t: t.lab_s,
        "partner": lambda t: t.partner_s,
    }
    stage_min = {}
    for stage, get in minutes.items():
        through = [t for t in done if _went_through(t, stage)]
        stage_min[stage] = Spread2.of([get(t) / 60 for t in through])
    hours = max(1, math.ceil(result.end_s / 3600))
    cleared: dict[str, list[int]] = {d: [0] * hours for d in s.directions}
    for t in done:
        cleared[t.direction][min(hours - 1, int(t.released // 3600))] += 1
    open_s = max(1.0, result.open_s)
    lanes = sum(d.lanes for d in s.directions.values())
    summary = Summary(
        name=s.name,
        trucks=len(result.trucks),
        days=s.days,
        dwell_min=Spread2.of([t.dwell_s / 60 for t in done]),
        dwell_by_channel={c: Spread2.of([t.dwell_s / 60 for t in done if t.channel == c]) for c in CHANNELS},
        stage_min=stage_min,
        barrier_s={
            d: Spread2.of([t.lane_s for t in done if t.direction == d and t.channel == "GREEN" and not t.offline])
            for d in s.directions
        },
        per_day={
            d: sum(1 for t in done if t.direction == d and day_of(t.released) == day_of(t.arrived)) / s.days
            for d in s.directions
        },
        cleared_per_hour=cleared,
        queue=result.queue,
        utilisation={f"{d} lane {n}": busy / open_s for (d, n), busy in sorted(result.lane_busy.items())},
        perishable_release_min=Spread2.of([t.to_release_s / 60 for t in done if t.perishable]),
        refused=sum(t.refused for t in done),
        offline=sum(t.offline for t in done),
        conflicts=sum(t.usage.conflicts for t in done),
        manual_entries=sum(t.manual_entry for t in done),
        # fixed costs are shared over the gate's traffic: a scaled-down run does not make a quieter gate
        cost=crossing_cost([t.usage for t in result.trucks], lanes, max(result.per_day, result.gate_per_day)),
    )
    summary.published = published_check(summary, result)
    return summary


def _went_through(t: TruckRecord, stage: str) -> bool:
    if stage == "inspection":
        return t.channel != "GREEN"
    if stage == "lab":
        return t.lab_s > 0
    if stage == "partner":
        return t.direction == "VN_TO_CN"
    return True


def published_check(summary: Summary, result: Result) -> list[tuple[str, str, str, bool]]:
    """The scenario's published figures against the model's (the lanes are inputs; traffic and time at the
    barrier are outcomes)."""
    s = result.scenario
    rows = []
    if result.per_day != result.gate_per_day:  # a run of more or fewer trucks than the gate's day
        return []
    for d, spec in s.directions.items():
        if not s.provenance.get(f"directions.{d}.vehicles_per_day", "").startswith("published"):
            continue
        got = summary.per_day[d]
        rows.append(
            (
                f"{d} vehicles a day (cleared the day they come)",
                f"about {spec.vehicles_per_day}",
                f"{got:.0f}",
                abs(got - spec.vehicles_per_day) <= 0.1 * spec.vehicles_per_day,
            )
        )
        b = summary.barrier_s[d]
        rows.append((f"{d} time at barrier 1 (p95, GREEN)", "under 2 min", f"{b.p95:.0f} s", b.p95 < BARRIER_GOAL_S))
    return rows


def day_of(seconds: float) -> int:
    return int(seconds // DAY)
