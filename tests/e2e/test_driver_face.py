"""The driver's face at the lane, through the local stack: the lane's FaceVerified (score, decision, quality;
never an image or an embedding) joins the truck's passage; a mismatch holds the truck for an officer (never a
refusal on the face alone), who reads the score and the quality through the API."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

import pytest

from smartgate.schemas import BarrierAction, FaceDecision, FaceQuality, FaceVerified, utc_now
from smartgate_infra.api_client import ApiClient
from smartgate_infra.declarations import booked_export
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.offline_demo import until

pytestmark = pytest.mark.e2e
GATE = "sandbox"


@pytest.mark.parametrize(("decision", "score", "lane_id"), [("mismatch", 0.31, "out-19"), ("match", 0.64, "out-21")])
def test_the_lanes_face_check_joins_the_truck_and_a_mismatch_goes_to_an_officer(  # type: ignore[no-untyped-def]
    stack, stack_client, decision: str, score: float, lane_id: str
) -> None:
    tag = uuid.uuid4().hex[:6].upper()
    export = booked_export(GATE, f"TR-FACE-{tag}", f"DRV-FACE-{tag}", utc_now())
    stack_client.declare(export.entry)
    entry = export.entry
    assert entry.booking is not None
    lanes = Lanes(stack, command_keys(stack_client))
    try:
        lane = lanes.lane(GATE, lane_id)
        at = utc_now() - timedelta(seconds=1)
        reads = export.reads(lane, stack_client.pass_token(entry), at)
        face = FaceVerified(
            event_id=f"{reads[0].event_id}.face",
            gate_id=GATE,
            lane_id=lane_id,
            booking_id=entry.booking.booking_id,
            driver_ref=entry.consignment.driver_ref,
            decision=FaceDecision(decision),
            score=score,
            threshold=0.55,
            quality=FaceQuality(face_px=138, sharpness=74.5, detector_score=0.92, frames=6, rejected={"blurred": 2}),
            captured_at=at,
        )
        # the face check comes after the pass (it needs the booking's driver), before the truck leaves
        result = lane.send([*reads[:2], face, *reads[2:]], timeout=20, pace_s=0.2)
        assert result.command is not None and result.signature_ok, result.error
        customs = ApiClient(stack.api_url, stack_client.officer_token("e2e-face-customs", "customs", GATE, "en"))

        def decided_with_the_face() -> dict[str, Any] | None:
            got = customs.get(f"/passages/{result.command.passage_id}")  # type: ignore[union-attr]
            assert got.status == 200, got.raw
            faces = got.body["detections"]["faces"]
            return dict(got.body) if faces and got.body["decision"] else None

        body = until(decided_with_the_face, 15)
        assert body, "the face check did not join the passage"
        if decision == "mismatch":  # held, or opened then held while still at the barrier
            first = result.command
            last = first if first.action == BarrierAction.HOLD else lane.next_command(10)
            assert last is not None and last.action == BarrierAction.HOLD, first.reason
    finally:
        lanes.close()

    [seen] = body["detections"]["faces"]
    assert seen["decision"] == decision and seen["score"] == score and seen["threshold"] == 0.55
    assert seen["quality"]["face_px"] == 138 and seen["quality"]["rejected"] == {"blurred": 2}
    fired = {r["rule_id"] for r in body["decision"]["rules_fired"]}
    assert ("R-FACE-MISMATCH" in fired) == (decision == "mismatch")
    if decision == "mismatch":
        assert body["status"] == "HELD" and "never refused on the face alone" in body["status_reason"]
    else:
        assert body["status"] == "RELEASED" and body["decision"]["channel"] == "GREEN"
    assert "embedding" not in json.dumps(body)
