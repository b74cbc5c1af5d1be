"""The twin's full-stack mode: 200 trucks the model planned for Kim Thanh II cross the local stack (lane
simulators, broker, IoT rule, functions, DynamoDB, signed commands) on an accelerated clock, and every one
is decided as the model expected; a customs officer releases the held ones from the yard, the partner gate
answers every booked export; the report shows it beside the model."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartgate_infra.twin.fullstack import measured_steps, run_fullstack
from smartgate_infra.twin.run import run_twin

pytestmark = pytest.mark.e2e


def test_two_hundred_model_trucks_cross_the_stack_as_the_model_expects(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    said: list[str] = []
    run = run_fullstack(stack, "kimthanh2", 200, wall_s=40, say=lambda line: (said.append(line), print(line)))

    assert len(run.crossed) == 200 and not run.problems, "\n".join(run.problems + said)
    # every profile the model planned is in the day: clean, early, an undeclared container, walk-ins
    assert {c.planned.profile for c in run.crossed} >= {"clean", "early", "undeclared container", "walk-in"}
    mismatched = [f"{c.planned.profile} {c.planned.plate}: {c.reason}" for c in run.crossed if not c.matched]
    assert not mismatched, "\n".join(mismatched + said)
    assert all(c.signed for c in run.crossed)
    # each truck's reads went through the ingest function; its decisions through the stream functions
    assert run.invocations["IngestDetections"] >= sum(2 + len(c.planned.containers) for c in run.crossed) - 10
    assert run.invocations.get("PublishPassageEvents", 0) >= 100
    # around the lanes: the held exports released from the yard, every booked export heard of by the
    # partner gate and answered as its model partner did, the answer on the booking's timeline
    x = run.exchange
    assert x is not None and x.complete, f"{x and x.line()}\n" + "\n".join(said)
    assert x.released >= 1 and x.actions >= x.released and x.exports >= 40
    steps = measured_steps(run)
    assert steps["officer_action"]["lambda_request"] >= 1  # each action reads the passage, then acts
    assert steps["partner_in"]["lambda_request"] > 0 and steps["detection"]["logs_bytes"] > 0

    report = tmp_path / "report.html"
    twin = run_twin("kimthanh2", 200, [], report, say=said.append, bar=False, fullstack=run)
    page = report.read_text(encoding="utf-8")
    assert "Full stack: 200 of 200 decided as the model expected" in page
    assert f"{x.on_timeline} of {x.exports}</span> bookings' timelines show its answer" in page
    assert twin.summaries[0][1].trucks == 200
