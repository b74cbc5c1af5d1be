"""`make twin`: a gate-day in model mode, what-if runs beside it, the HTML report, and the last line
``trucks=… wall_s=… dwell_p50_min=… dwell_p95_min=… usd_per_crossing=…`` (read by tools).

``wall_s`` is the base run's simulation and summary on this machine (what the 10 s goal is about); the
what-if runs and the report come after it and are timed apart."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from smartgate_infra.twin.fullstack import FullStackRun
from smartgate_infra.twin.metrics import Summary, summarise
from smartgate_infra.twin.model import run_model
from smartgate_infra.twin.report import render
from smartgate_infra.twin.scenario import load


@dataclass
class TwinRun:
    summaries: list[tuple[str, Summary]]
    wall_s: float
    report: Path | None

    @property
    def line(self) -> str:
        return self.summaries[0][1].line(self.wall_s)


def progress_bar(label: str, out: object = sys.stderr) -> Callable[[float], None]:
    """A one-line progress bar on ``out`` (a terminal's stderr), redrawn in place."""

    def show(fraction: float) -> None:
        done = int(30 * fraction)
        end = "\n" if fraction >= 1 else ""
        print(
            f"\r  {label:28} [{'#' * done}{'.' * (30 - done)}] {100 * fraction:5.1f} %", end=end, file=out, flush=True
        )  # type: ignore[call-overload]

    return show


def run_twin(
    scenario: str = "kimthanh2",
    trucks: int | None = None,
    what_ifs: list[str] | None = None,
    report: Path | None = None,
    say: Callable[[str], None] = print,
    bar: bool = True,
    fullstack: FullStackRun | None = None,
) -> TwinRun:
    """The base run and one run per what-if (``field=value`` changes, several joined by ``;``); the report
    shows ``fullstack`` (the same scenario driven through the local stack) beside them when given."""
    base = load(scenario)
    say(f"twin: {base.name}, model mode, {trucks or base.total_trucks()} trucks")
    started = time.perf_counter()
    result = run_model(
        base,
        trucks,
        progress_bar(
            "base",
        )
        if bar
        else None,
    )
    summary = summarise(result)
    wall = time.perf_counter() - started
    summaries = [("base", summary)]
    _say_summary(summary, say)
    for what_if in what_ifs or []:
        changes = [c.strip() for c in what_if.split(";") if c.strip()]
        label = "; ".join(changes)
        varied = run_model(load(scenario, changes), trucks, progress_bar(label[:28]) if bar else None)
        other = summarise(varied)
        summaries.append((label, other))
        say(
            f"what if {label}: dwell p50 {other.dwell_min.p50:.1f} min (base {summary.dwell_min.p50:.1f}), "
            f"p95 {other.dwell_min.p95:.1f} min (base {summary.dwell_min.p95:.1f}), "
            f"USD {other.cost.per_crossing_usd:.6f} a crossing"
        )
    if report is not None:
        t0 = time.perf_counter()
        report.parent.mkdir(parents=True, exist_ok=True)
        report.write_text(render(summaries, fullstack=fullstack), encoding="utf-8")
        say(f"report: {report} ({time.perf_counter() - t0:.1f} s to draw) - open it in a browser")
    return TwinRun(summaries, wall, report)


def _say_summary(s: Summary, say: Callable[[str], None]) -> None:
    say(f"  {s.trucks} trucks over {s.days} day(s)")
    for d, n in s.per_day.items():
        b = s.barrier_s[d]
        say(
            f"  {d}: {n:.0f} a day cleared on the day they came; "
            f"at barrier 1 (GREEN) p50 {b.p50:.0f} s, p95 {b.p95:.0f} s"
        )
    say(
        "  dwell by channel (p50 / p95 min): "
        + ", ".join(f"{c} {v.p50:.0f} / {v.p95:.0f}" for c, v in s.dwell_by_channel.items())
    )
    say(
        "  by stage (p50 / p95 min): "
        + ", ".join(f"{st} {v.p50:.1f} / {v.p95:.1f}" for st, v in s.stage_min.items() if v.n)
    )
    busiest = max(s.utilisation.items(), key=lambda kv: kv[1])
    say(f"  busiest lane: {busiest[0]} {100 * busiest[1]:.0f} % of the open hours")
    fresh = s.perishable_release_min
    say(f"  perishables: released p50 {fresh.p50:.0f} min, p95 {fresh.p95:.0f} min")
    for figure, published, model, ok in s.published:
        say(f"  published {figure}: {published}; model {model} -> {'reproduced' if ok else 'NOT reproduced'}")
    top = ", ".join(f"{k} {100 * v / s.cost.per_crossing_usd:.0f} %" for k, v in s.cost.top(4))
    say(f"  cost: USD {s.cost.per_crossing_usd:.6f} a crossing ({top}); {s.cost.notes[0]}")
