"""The twin's report: one self-contained HTML page (plots inlined as PNG), a base run and any what-if runs
side by side, readable by an operator deciding lanes, quotas and inspection rates."""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from datetime import UTC, datetime

import matplotlib

matplotlib.use("Agg")  # no display: files only
import matplotlib.pyplot as plt  # noqa: E402

from smartgate_infra.twin.cost import usage_profile  # noqa: E402
from smartgate_infra.twin.fullstack import PARTNER, FullStackRun, measured_steps  # noqa: E402
from smartgate_infra.twin.metrics import STAGES, Summary  # noqa: E402

COLOURS = ("#1f5f99", "#d9822b", "#3a8f5c", "#a33a3a")
DIRECTION_NAMES = {"VN_TO_CN": "Vietnam → China", "CN_TO_VN": "China → Vietnam"}
STYLE = """
body{font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;margin:0;color:#1d2733;
background:#f4f6f8}header{background:#16324f;color:#fff;padding:20px 28px}
header h1{margin:0 0 4px;font-size:24px}header p{margin:0;opacity:.85}
main{max-width:1180px;margin:0 auto;padding:20px 28px 48px}
section{background:#fff;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.08);padding:18px 22px;margin:18px 0}
h2{font-size:19px;margin:0 0 12px}table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th,td{padding:7px 10px;border-bottom:1px solid #e3e8ee;text-align:right}th:first-child,td:first-child{text-align:left}
th{background:#eef2f6;font-weight:600}.ok{color:#1f7a3f;font-weight:600}.bad{color:#b3261e;font-weight:600}
.better{color:#1f7a3f}.worse{color:#b3261e}.note{color:#5b6773;font-size:13px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(520px,100%),1fr));gap:18px}
.scroll{overflow-x:auto}img{width:100%;height:auto}
.kpis{display:flex;flex-wrap:wrap;gap:14px}.kpi{flex:1 1 170px;background:#eef4fa;border-radius:8px;padding:12px 14px}
.kpi b{display:block;font-size:24px}.kpi span{color:#4a5866;font-size:13px}
@media (max-width:640px){main{padding:8px 10px 32px}section{padding:14px 12px}header{padding:16px 14px}
th,td{padding:6px 6px;font-size:13px}}
"""


def render(
    runs: Sequence[tuple[str, Summary]],
    title: str = "Smart Gate twin: a simulated gate-day",
    fullstack: FullStackRun | None = None,
) -> str:
    """The report for ``runs`` [(label, summary)], the first being the base the others are compared with;
    with ``fullstack``, what the local stack decided for the model's trucks."""
    base_label, base = runs[0]
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width,initial-scale=1'><title>{_e(title)}</title>"
        f"<style>{STYLE}</style></head><body>",
        f"<header><h1>{_e(title)}</h1><p>{_e(base.name)} · {base.trucks:,} trucks over {base.days} day(s) · "
        f"made {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p></header><main>",
        _kpis(base),
        _comparison(runs) if len(runs) > 1 else "",
        _published(base),
        _fullstack(fullstack, base) if fullstack else "",
        "<section><h2>Throughput and queues</h2><div class='grid'>",
        _img(_plot_cleared(runs), "Trucks cleared per hour"),
        _img(_plot_queue(runs), "Trucks waiting for a lane"),
        "</div></section>",
        "<section><h2>Where the time goes</h2><div class='grid'>",
        _img(_plot_stages(runs), "Time per stage"),
        _img(_plot_utilisation(runs), "Lane utilisation"),
        "</div>",
        _stage_table(base),
        "</section>",
        _cost(runs),
        "<p class='note'>Model mode: a discrete-event simulation of the scenario (infra/smartgate_infra/twin). "
        "Figures marked assumed in the scenario file are planning assumptions, not measurements.</p>",
        "</main></body></html>",
    ]
    return "".join(parts)


def _kpis(s: Summary) -> str:
    cells = [
        (f"{s.dwell_min.p50:.0f} min", "dwell p50 (arrival → leaving the gate area)"),
        (f"{s.dwell_min.p95:.0f} min", "dwell p95"),
        (f"{s.dwell_by_channel['GREEN'].p50:.0f} min", "GREEN trucks, dwell p50"),
        (f"{s.perishable_release_min.p95:.0f} min", "perishables, time to release p95"),
        (f"${s.cost.per_crossing_usd:.5f}", "AWS cost per crossing"),
    ]
    body = "".join(f"<div class='kpi'><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in cells)
    return f"<section><h2>In short</h2><div class='kpis'>{body}</div></section>"


def _comparison(runs: Sequence[tuple[str, Summary]]) -> str:
    rows = [
        ("dwell p50 (min)", lambda s: s.dwell_min.p50, True),
        ("dwell p95 (min)", lambda s: s.dwell_min.p95, True),
        ("queue p95 (min)", lambda s: s.stage_min["queue"].p95, True),
        ("inspection p95 (min)", lambda s: s.stage_min["inspection"].p95, True),
        ("partner wait p95 (min)", lambda s: s.stage_min["partner"].p95, True),
        ("perishables to release p95 (min)", lambda s: s.perishable_release_min.p95, True),
        ("busiest lane utilisation (%)", lambda s: 100 * max(s.utilisation.values()), True),
        ("USD per crossing", lambda s: s.cost.per_crossing_usd, True),
    ]
    head = "".join(f"<th>{'base' if i == 0 else f'what-if {i}: {_e(label)}'}</th>" for i, (label, _) in enumerate(runs))
    body = []
    base = runs[0][1]
    for name, get, lower_is_better in rows:
        cells = [f"<td>{_fmt(get(base))}</td>"]
        for _, s in runs[1:]:
            value, ref = get(s), get(base)
            cls = ""
            if not (math.isnan(value) or math.isnan(ref)) and abs(value - ref) > 1e-9:
                cls = "better" if (value < ref) == lower_is_better else "worse"
            cells.append(f"<td class='{cls}'>{_fmt(value)} ({_delta(value, ref)})</td>")
        body.append(f"<tr><td>{_e(name)}</td>{''.join(cells)}</tr>")
    return (
        "<section><h2>What if: side by side</h2><div class='scroll'><table><tr><th>figure</th>"
        + head
        + "</tr>"
        + "".join(body)
        + "</table></div></section>"
    )


def _published(s: Summary) -> str:
    if not s.published:
        return ""
    rows = "".join(
        f"<tr><td>{_e(f)}</td><td>{_e(p)}</td><td>{_e(m)}</td>"
        f"<td class='{'ok' if ok else 'bad'}'>{'reproduced' if ok else 'NOT reproduced'}</td></tr>"
        for f, p, m, ok in s.published
    )
    return (
        "<section><h2>Published figures</h2><div class='scroll'><table><tr><th>figure</th><th>published</th>"
        f"<th>model</th><th></th></tr>{rows}</table></div></section>"
    )


def _fullstack(run: FullStackRun, base: Summary) -> str:
    rows = "".join(
        f"<tr><td>{_e(expected)}</td><td>{n}</td><td class='{'ok' if ok == n else 'bad'}'>{ok}</td></tr>"
        for expected, (n, ok) in run.by_expected().items()
    )
    measured = sum(run.invocations.values()) / max(1, len(run.crossed))
    assumed = base.cost.flow_invocations()
    functions = "".join(
        f"<tr><td>{_e(name)}</td><td>{count:,}</td><td>{count / max(1, len(run.crossed)):.2f}</td></tr>"
        for name, count in sorted(run.invocations.items(), key=lambda kv: -kv[1])
    )
    assumed_steps = usage_profile(measured_path=None)[0]["steps"]
    calibration = "".join(
        f"<tr><td>{_e(step)}</td><td>{assumed_steps[step].get('lambda_request', 0):.2f}</td>"
        f"<td>{units['lambda_request']:.2f}</td><td>{assumed_steps[step].get('logs_bytes', 0):,.0f}</td>"
        f"<td>{units['logs_bytes']:,.0f}</td></tr>"
        for step, units in measured_steps(run).items()
    )
    x = run.exchange
    exchange = (
        f"<p>The partner gate ({_e(PARTNER)}, simulated through the published contract): {x.exports} booked "
        f"exports; {x.released} held ones released from the yard by the customs officer ({x.actions} actions "
        f"through the API); the partner read {x.messages} of our messages and heard {x.told} of them leave; it "
        f"cleared {x.cleared} and refused {x.refused} (the model: {x.model_refused}); "
        f"<span class='{'ok' if x.complete else 'bad'}'>{x.on_timeline} of {x.exports}</span> bookings' timelines "
        "show its answer.</p>"
        if x
        else ""
    )
    mismatches = [c for c in run.crossed if not c.matched][:8]
    listed = "".join(
        f"<li>{_e(c.planned.profile)} {_e(c.planned.plate or '(no plate read)')} on {_e(c.planned.lane_id)}: "
        f"expected {_e(c.planned.expected)}, got {_e(c.reason[:140])}</li>"
        for c in mismatches
    )
    return (
        f"<section><h2>Full stack: {run.matched} of {len(run.crossed)} decided as the model expected</h2>"
        f"<p>The model's trucks driven through the local stack (lane simulators → MQTT → IoT rule → functions → "
        f"DynamoDB → signed barrier commands) at {run.speedup:,.0f}× the model's clock, in {run.wall_s:.0f} s. "
        f"Last detection → barrier command: p50 {run.latency_p50_ms:.0f} ms, p95 {run.latency_p95_ms:.0f} ms.</p>"
        "<div class='grid'><div class='scroll'><table><tr><th>expected channel</th><th>trucks</th>"
        f"<th>as expected</th></tr>{rows}</table></div>"
        "<div class='scroll'><table><tr><th>function</th><th>invocations</th><th>a truck</th></tr>"
        f"{functions}</table><p class='note'>{measured:.1f} invocations a truck counted on the stack (the "
        f"scheduled ones among them); the cost model prices {assumed:.1f} a truck for the model's day "
        "(data/usage.yaml, with data/measured.yaml's counted steps; the scheduled functions apart).</p></div>"
        "<div class='scroll'><table><tr><th>step</th><th>requests assumed</th><th>counted</th>"
        f"<th>log bytes assumed</th><th>counted</th></tr>{calibration}</table><p class='note'>Per time the "
        "model's trucks make the step: the step's functions' totals on the stack over the model's count "
        "(<code>--calibrate</code> keeps them in data/measured.yaml for the cost).</p></div></div>"
        + exchange
        + (f"<ul>{listed}</ul>" if listed else "")
        + "</section>"
    )


def _stage_table(s: Summary) -> str:
    rows = "".join(
        f"<tr><td>{stage}</td><td>{v.n:,}</td><td>{_fmt(v.p50)}</td><td>{_fmt(v.p95)}</td></tr>"
        for stage, v in s.stage_min.items()
    )
    channels = "".join(
        f"<tr><td>{c}</td><td>{v.n:,}</td><td>{_fmt(v.p50)}</td><td>{_fmt(v.p95)}</td></tr>"
        for c, v in s.dwell_by_channel.items()
    )
    cols = "<th>trucks</th><th>p50 min</th><th>p95 min</th>"
    other = (
        f"{s.manual_entries} plates keyed in by hand · {s.offline} trucks decided offline at a lane "
        f"({s.conflicts} the cloud would have inspected) · {s.refused} refused by the partner"
    )
    return (
        f"<div class='scroll'><table><tr><th>stage (trucks through it)</th>{cols}</tr>{rows}"
        f"<tr><th>dwell by channel</th>{cols}</tr>{channels}</table></div>"
        f"<p class='note'>{_e(other)}</p>"
    )


def _cost(runs: Sequence[tuple[str, Summary]]) -> str:
    base = runs[0][1]
    c = base.cost
    services = "".join(
        f"<tr><td>{_e(k)}</td><td>{v * 1e6:,.1f}</td><td>{100 * v / c.per_crossing_usd:.0f} %</td></tr>"
        for k, v in sorted(c.by_service.items(), key=lambda kv: -kv[1])
    )
    steps = "".join(
        f"<tr><td>{_e(k)}</td><td>{v * 1e6:,.1f}</td><td>{100 * v / c.per_crossing_usd:.0f} %</td></tr>"
        for k, v in sorted(c.by_step.items(), key=lambda kv: -kv[1])
    )
    notes = "".join(f"<li>{_e(n)}</li>" for n in c.notes)
    return (
        f"<section><h2>Cost per crossing: ${c.per_crossing_usd:.6f}</h2><div class='grid'>"
        f"{_img(_plot_cost(base), 'Cost by service')}"
        "<div><table><tr><th>by service</th><th>µUSD</th><th>share</th></tr>"
        f"{services}</table><br><table><tr><th>by flow step</th><th>µUSD</th><th>share</th></tr>{steps}</table></div>"
        f"</div><ul class='note'>{notes}</ul></section>"
    )


# ---- plots


def _figure() -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(7.2, 3.8), dpi=110)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", alpha=0.3)
    return fig, ax


def _short(runs: Sequence[tuple[str, Summary]]) -> list[tuple[str, Summary]]:
    """Plot legends name the runs short: the comparison table says what each what-if changed."""
    return [("base" if i == 0 else f"what-if {i}", s) for i, (_, s) in enumerate(runs)]


def _plot_cleared(runs: Sequence[tuple[str, Summary]]) -> plt.Figure:
    fig, ax = _figure()
    for i, (label, s) in enumerate(_short(runs)):
        for j, (d, per_hour) in enumerate(s.cleared_per_hour.items()):
            hours = range(len(per_hour))
            style = "-" if j == 0 else "--"
            ax.plot(hours, per_hour, style, color=COLOURS[i % 4], label=f"{label}: {DIRECTION_NAMES.get(d, d)}")
    ax.set_xlabel("hour since the first day's midnight (local)")
    ax.set_ylabel("trucks released per hour")
    ax.legend(fontsize=8, frameon=False)
    return fig


def _plot_queue(runs: Sequence[tuple[str, Summary]]) -> plt.Figure:
    fig, ax = _figure()
    runs = _short(runs)
    for i, (label, s) in enumerate(runs):
        for j, (d, series) in enumerate(s.queue.items()):
            xs = [t / 3600 for t, _ in series]
            ys = [n for _, n in series]
            ax.plot(
                xs, ys, "-" if j == 0 else "--", color=COLOURS[i % 4], label=f"{label}: {DIRECTION_NAMES.get(d, d)}"
            )
    ax.set_xlabel("hour since the first day's midnight (local)")
    ax.set_ylabel("trucks queueing for a lane")
    ax.legend(fontsize=8, frameon=False)
    return fig


def _plot_stages(runs: Sequence[tuple[str, Summary]]) -> plt.Figure:
    fig, ax = _figure()
    runs = _short(runs)
    width = 0.8 / len(runs)
    for i, (label, s) in enumerate(runs):
        xs = [k + i * width for k in range(len(STAGES))]
        p95 = [_zero(s.stage_min[st].p95) for st in STAGES]
        p50 = [_zero(s.stage_min[st].p50) for st in STAGES]
        ax.bar(xs, p95, width * 0.95, color=COLOURS[i % 4], alpha=0.35, label=f"{label}: p95")
        ax.bar(xs, p50, width * 0.95, color=COLOURS[i % 4], label=f"{label}: p50")
    ax.set_xticks([k + 0.4 - width / 2 for k in range(len(STAGES))], STAGES)
    ax.set_ylabel("minutes (trucks that went through it)")
    ax.set_yscale("symlog", linthresh=10)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _plot_utilisation(runs: Sequence[tuple[str, Summary]]) -> plt.Figure:
    fig, ax = _figure()
    runs = _short(runs)
    width = 0.8 / len(runs)
    lanes = list(runs[0][1].utilisation)
    for i, (label, s) in enumerate(runs):
        names = list(s.utilisation)
        ax.bar(
            [k + i * width for k in range(len(names))],
            [100 * s.utilisation[n] for n in names],
            width * 0.95,
            color=COLOURS[i % 4],
            label=label,
        )
        lanes = names if len(names) > len(lanes) else lanes
    ax.set_xticks(range(len(lanes)), [n.replace("VN_TO_CN", "VN→CN").replace("CN_TO_VN", "CN→VN") for n in lanes])
    ax.tick_params(axis="x", labelsize=8, rotation=20)
    ax.set_ylabel("% of the open hours busy")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, frameon=False)
    return fig


def _plot_cost(s: Summary) -> plt.Figure:
    fig, ax = _figure()
    items = sorted(s.cost.by_service.items(), key=lambda kv: kv[1])
    ax.barh([k for k, _ in items], [v * 1e6 for _, v in items], color=COLOURS[0])
    ax.set_xlabel("µUSD per crossing")
    ax.grid(axis="x", alpha=0.3)
    ax.grid(axis="y", alpha=0)
    return fig


def _img(fig: plt.Figure, alt: str) -> str:
    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f"<figure style='margin:0'><img alt='{_e(alt)}' src='data:image/png;base64,{data}'></figure>"


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _fmt(value: float) -> str:
    if math.isnan(value):
        return "–"
    if abs(value) < 0.01 and value:
        return f"{value:.6f}"
    return f"{value:,.1f}"


def _delta(value: float, ref: float) -> str:
    if math.isnan(value) or math.isnan(ref) or not ref:
        return "–"
    return f"{100 * (value - ref) / ref:+.0f} %"


def _zero(value: float) -> float:
    return 0.0 if math.isnan(value) else value
