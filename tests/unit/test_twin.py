"""The gate-day twin in model mode: scenarios validated and sourced, the Kim Thanh II scenario reproducing
its published figures, what-ifs moving the numbers the way a planner expects, the cost per crossing."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
import yaml

from smartgate_infra.twin.cost import PriceTable, crossing_cost, write_measured
from smartgate_infra.twin.metrics import percentile, summarise
from smartgate_infra.twin.model import run_model
from smartgate_infra.twin.run import run_twin
from smartgate_infra.twin.scenario import DATA, ScenarioError, figures, load

SCENARIOS = ("kimthanh2", "mongcai")


@pytest.fixture(scope="module")
def kimthanh2():  # type: ignore[no-untyped-def]
    result = run_model(load("kimthanh2"))
    return result, summarise(result)


@pytest.mark.parametrize("name", SCENARIOS)
def test_each_sample_scenario_loads_and_every_figure_in_it_is_sourced_or_marked_assumed(name: str) -> None:
    scenario = load(name)
    assert figures(scenario)  # the validator refused it otherwise; every figure has a provenance entry
    kinds = {why.split(":", 1)[0] for why in scenario.provenance.values()}
    assert kinds <= {"published", "measured", "assumed"}


def test_an_unsourced_or_wrong_figure_is_refused_naming_its_field(tmp_path: Path) -> None:
    raw = yaml.safe_load((DATA / "kimthanh2.yaml").read_text(encoding="utf-8"))
    del raw["provenance"]["lane.barrier_cycle_s"]
    (tmp_path / "unsourced.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ScenarioError, match="lane.barrier_cycle_s"):
        load(tmp_path / "unsourced.yaml")
    with pytest.raises(ScenarioError, match=r"channels.booked.*must be 1"):
        load("kimthanh2", ["channels.booked.GREEN=0.5"])
    with pytest.raises(ScenarioError, match=r"directions.VN_TO_CN.lanes"):
        load("kimthanh2", ["directions.VN_TO_CN.lanes=0"])
    with pytest.raises(ScenarioError, match="no field 'lane.speed'"):
        load("kimthanh2", ["lane.speed=3"])
    with pytest.raises(ScenarioError, match="known: kimthanh2, mongcai"):
        load("hanoi")


def test_kim_thanh_ii_reproduces_its_published_figures(kimthanh2) -> None:  # type: ignore[no-untyped-def]
    result, summary = kimthanh2
    scenario = result.scenario
    assert (scenario.directions["VN_TO_CN"].lanes, scenario.directions["CN_TO_VN"].lanes) == (2, 3)
    assert summary.published and all(ok for *_, ok in summary.published), summary.published
    for d in ("VN_TO_CN", "CN_TO_VN"):  # about 500 a day each way, cleared on their day, < 2 min at barrier 1
        assert abs(summary.per_day[d] - 500) <= 50
        assert summary.barrier_s[d].p95 < 120
    assert len(result.done()) == len(result.trucks) == 1000


def test_every_truck_goes_through_its_stages_in_order(kimthanh2) -> None:  # type: ignore[no-untyped-def]
    result, summary = kimthanh2
    for t in result.trucks:
        assert t.arrived <= t.at_lane <= t.left_lane <= t.released <= t.departed
        assert t.dwell_s >= t.queue_s + t.lane_s + t.lab_s - 1e-6
        assert (t.inspection_s > 0) == (t.channel != "GREEN")
        assert (t.partner_s > 0) == (t.direction == "VN_TO_CN")
    greens = summary.dwell_by_channel["GREEN"]
    assert greens.p50 < summary.dwell_by_channel["YELLOW"].p50 < summary.dwell_by_channel["RED"].p50
    # the outage in the scenario: trucks on that lane in those 20 minutes were decided at the lane
    assert summary.offline > 0
    assert all(t.lane == 1 and t.direction == "VN_TO_CN" for t in result.trucks if t.offline)


def test_the_same_seed_gives_the_same_day_and_another_seed_another() -> None:
    a, b = summarise(run_model(load("mongcai"))), summarise(run_model(load("mongcai")))
    assert a.dwell_min == b.dwell_min and a.cost.per_crossing_usd == b.cost.per_crossing_usd
    c = summarise(run_model(load("mongcai", ["seed=99"])))
    assert c.dwell_min != a.dwell_min


def test_what_ifs_move_the_numbers_the_way_a_planner_expects() -> None:
    busy = ["directions.VN_TO_CN.vehicles_per_day=900"]
    base = summarise(run_model(load("kimthanh2", busy)))
    more_lanes = summarise(run_model(load("kimthanh2", [*busy, "directions.VN_TO_CN.lanes=4"])))
    assert more_lanes.stage_min["queue"].p95 < base.stage_min["queue"].p95
    slow_partner = summarise(run_model(load("kimthanh2", [*busy, "partner.capacity_per_hour=40"])))
    assert slow_partner.stage_min["partner"].p95 > 2 * base.stage_min["partner"].p95
    fewer_officers = summarise(run_model(load("kimthanh2", [*busy, "inspection.officers=3"])))
    assert fewer_officers.stage_min["inspection"].p95 > base.stage_min["inspection"].p95
    all_booked = summarise(run_model(load("kimthanh2", [*busy, "arrivals.booked_share=1.0"])))
    assert all_booked.dwell_min.p50 <= base.dwell_min.p50


def test_the_cost_per_crossing_adds_up_and_fixed_costs_shrink_with_traffic(kimthanh2) -> None:  # type: ignore[no-untyped-def]
    result, summary = kimthanh2
    cost = summary.cost
    assert math.isclose(sum(cost.by_service.values()), cost.per_crossing_usd, rel_tol=1e-9)
    assert math.isclose(sum(cost.by_step.values()), cost.per_crossing_usd, rel_tol=1e-9)
    assert 0 < cost.per_crossing_usd < 0.001  # the goal, on these (dated, unchecked) list prices
    usages = [t.usage for t in result.trucks]
    quiet, busy = crossing_cost(usages, 5, 100), crossing_cost(usages, 5, 5000)
    assert quiet.by_step["lanes (fixed)"] > 40 * busy.by_step["lanes (fixed)"]
    assert math.isclose(quiet.by_step["detection"], busy.by_step["detection"])
    prices = PriceTable.load()
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", prices.as_of) and prices.region
    assert all(p.page.startswith("https://aws.amazon.com/") and p.usd > 0 for p in prices.prices.values())


def test_measured_units_replace_the_assumed_ones_of_their_step_only(kimthanh2, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result, _ = kimthanh2
    usages = [t.usage for t in result.trucks]
    assumed = crossing_cost(usages, 5, 1000, measured_path=None)
    kept = write_measured({"detection": {"lambda_request": 3.0}}, "a test", tmp_path / "measured.yaml")
    measured = crossing_cost(usages, 5, 1000, measured_path=kept)

    detections = sum(u.detections for u in usages) / len(usages)
    extra = measured.step_units["detection"]["lambda_request"] - assumed.step_units["detection"]["lambda_request"]
    assert math.isclose(extra, 2.0 * detections)  # usage.yaml has 1 request a detection, measured 3
    assert measured.step_units["decision"] == assumed.step_units["decision"]
    assert measured.by_service["Lambda"] > assumed.by_service["Lambda"]
    assert any("measured on the local stack (a test" in n for n in measured.notes)
    assert not any("measured" in n for n in assumed.notes)
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"measured_on": "x", "source": "y", "steps": {"lab": {}}}))
    with pytest.raises(ValueError, match="steps.lab: not a step"):
        crossing_cost(usages, 5, 1000, measured_path=tmp_path / "bad.yaml")


def test_percentiles_interpolate_between_ranks() -> None:
    assert percentile([1, 2, 3, 4], 50) == 2.5
    assert percentile([5], 95) == 5
    assert math.isnan(percentile([], 50))


def test_make_twin_prints_its_last_line_and_a_report_with_the_what_if(tmp_path: Path) -> None:
    said: list[str] = []
    run = run_twin("kimthanh2", 2000, ["directions.VN_TO_CN.lanes=3"], tmp_path / "r.html", said.append, bar=False)
    assert re.fullmatch(
        r"trucks=2000 wall_s=\d+\.\d\d dwell_p50_min=\d+\.\d dwell_p95_min=\d+\.\d usd_per_crossing=0\.\d{6}", run.line
    )
    assert run.summaries[0][1].trucks == 2000 and run.summaries[0][1].days == 2
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "What if: side by side" in page and "directions.VN_TO_CN.lanes=3" in page
    assert page.count("data:image/png;base64,") == 5  # self-contained: the plots inline, nothing fetched
    assert "src='http" not in page and "href='http" not in page and "<script" not in page
