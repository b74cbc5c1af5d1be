"""The clearance scenarios of events/scenarios/, each run end to end through the local stack: declared and
booked, read by a lane simulator over MQTT, decided by the rules, answered at the barrier, then the lab."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.scenarios import Runner, Scenario, load_scenarios

pytestmark = pytest.mark.e2e
SCENARIOS = load_scenarios()


@pytest.fixture(scope="module")
def lanes(stack, stack_client) -> Iterator[Lanes]:  # type: ignore[no-untyped-def]
    lanes = Lanes(stack, command_keys(stack_client))
    yield lanes
    lanes.close()


def test_the_scenario_table_covers_what_a_gate_meets() -> None:
    titles = {s.title for s in SCENARIOS}
    for needed in (
        "Clean green",
        "Weight off",
        "Wrong container",
        "Unknown plate",
        "Restricted HS code",
        "Watchlist hit",
        "Late truck",
        "Duplicate detections",
    ):
        assert needed in titles
    assert len({s.lane for s in SCENARIOS}) == len(SCENARIOS), "each scenario on a lane of its own"


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.name for s in SCENARIOS])
def test_scenario(scenario: Scenario, stack_client, lanes) -> None:  # type: ignore[no-untyped-def]
    outcome = Runner(stack_client, lanes).run(scenario)
    failed = [f"{c.step}: expected {c.expected}, got {c.got}" for c in outcome.checks if not c.ok]
    assert outcome.checks and not failed, "; ".join(failed)
