"""A lane that loses its uplink keeps clearing booked trucks on their passes, and catches up (`make demo`,
section 10, run as a test: smartgate_infra.offline_demo).

One lane in this process as on the lane computer (cameras through a store-and-forward outbox, the barrier
controller with offline clearance, an in-process local bus), its uplink to the stack's real broker through
a TCP link the test cuts. While the link is down: a booked truck with a valid pass is let through by the
lane itself, a truck without a pass is held, and a booked truck whose declaration the cloud would send to
the lab (RED) is let through too — the lane cannot know. After the link is back the detections and the
lane's decisions reach the real ingest and reconciliation functions: the first agrees, the last is a
conflict that reaches officers as a critical alert, and the cloud's late command for a truck the lane
already let through is refused.
"""

from __future__ import annotations

import pytest

from smartgate.domain.crossing import passage_id_for
from smartgate.schemas import BarrierAction
from smartgate_infra.offline_demo import run_offline_lane

pytestmark = pytest.mark.e2e


def test_offline_the_lane_clears_passes_holds_the_rest_and_the_cloud_reconciles(stack, stack_client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    lines: list[str] = []
    run = run_offline_lane(stack, stack_client, lines.append, tmp_path)
    said = "\n".join(lines)

    assert run.first_command is not None, said
    assert [d.action for d in run.decisions] == [BarrierAction.OPEN, BarrierAction.HOLD, BarrierAction.OPEN], said
    assert "no pass" in run.decisions[1].reason
    assert all(d.passage_id and d.detection_ids for d in run.decisions)
    assert run.decisions[0].passage_id == passage_id_for_first(run.decisions[0].detection_ids[0], stack_client)
    assert run.degraded_health, "the lane's health did not say degraded mode while the cloud was silent"
    assert run.queued_at_restore > 0, "nothing waited on the lane while the link was down"
    assert run.reconciled, f"the cloud did not reconcile the lane's offline decisions\n{said}"
    cleared, held, lab = run.passages
    assert lab is not None and lab.channel == "RED", said
    assert run.conflicts[2] and run.conflicts[2][0].severity == "critical", "officers were not told of the RED truck"
    assert cleared is not None and bool(run.conflicts[0]) == (
        cleared.channel != "GREEN"
    )  # GREEN unless drawn at random
    assert not run.conflicts[1]  # held at the lane: nothing crossed
    assert run.late_refusals and "decided at the lane" in run.late_refusals[0].reason
    assert not run.degraded_after, "the cloud answers again, the lane is still degraded"
    assert {r.event_id for r in run.reports} <= run.logged, "a barrier report did not reach the cloud's log"
    assert run.ok, said


def passage_id_for_first(event_id: str, stack_client) -> str:  # type: ignore[no-untyped-def]
    """The passage the cloud made of the lane's first detection of the truck (the lane named the same)."""
    record = stack_client.passages.detection(event_id)
    assert record is not None, f"the cloud has no detection {event_id}"
    passage = stack_client.passages.get(record.passage_id)
    assert passage is not None
    first = min(passage.detections.plates, key=lambda d: d.captured_at)
    assert passage.passage_id == passage_id_for(first) or passage.passage_id == record.passage_id
    return str(record.passage_id)
