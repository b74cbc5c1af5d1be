"""The driver's face at the lane, end to end on the local stack, as `make demo` shows it: a trader enrols the
driver's face with consent; the real LaneVision component runs as two lanes' cab cameras (faces only, real
YuNet + dlib on cab frames of public-domain portraits); when the pass is shown the cloud sends the booked
driver's face, still encrypted, to that lane only; the lane decrypts it with the stack's face key (KMS), compares
1:1 and publishes FaceVerified; the booked driver at the wheel is GREEN, someone else is held for an officer
with the score and quality, the face crop kept as evidence; the driver's record shows each use; withdrawal
deletes the face data and the lanes sent it are told to drop it; no embedding is in any event or log."""

from __future__ import annotations

import json
import re

import pytest

from smartgate.schemas import BarrierAction
from smartgate_infra.face_demo import drive_faces

pytestmark = pytest.mark.e2e


def test_the_booked_driver_passes_and_someone_else_at_the_wheel_is_held_for_an_officer(  # type: ignore[no-untyped-def]
    stack, stack_client
) -> None:
    said: list[str] = []
    demo = drive_faces(stack, stack_client, said.append, lanes_ids=("cab-03", "cab-04"))
    print("\n".join(said))
    matched, other = demo.crossings

    # the booked driver at the wheel: compared 1:1, a match, released
    assert matched.face is not None and matched.face["decision"] == "match", matched.passage
    assert matched.face["score"] >= 1 - matched.face["threshold"]
    assert matched.face["booking_id"] == matched.booking_id and matched.face["evidence_key"] is None
    assert "R-FACE-MISMATCH" not in matched.rules and matched.released, matched.passage["decision"]
    if "R-RANDOM" not in matched.rules:  # else held by the rules' random document check (2 % of trucks)
        assert matched.passage["decision"]["channel"] == "GREEN"
        assert matched.first is not None and matched.first.action == BarrierAction.OPEN

    # someone else: a mismatch, held for an officer (never refused on the face alone), evidence kept
    assert other.face is not None and other.face["decision"] == "mismatch", other.passage
    assert other.face["score"] < 1 - other.face["threshold"] and other.face["quality"]["face_px"] >= 60
    assert other.passage["status"] == "HELD" and other.passage["decision"]["channel"] == "YELLOW"
    assert "never refused on the face alone" in other.passage["status_reason"]
    assert other.last is not None and other.last.action == BarrierAction.HOLD
    key = other.face["evidence_key"]
    assert key and stack_client.client("s3").head_object(Bucket=stack_client.name("EvidenceBucket"), Key=key)

    # the driver's record: enrolment and one sending per lane where her pass was shown; then withdrawal
    whats = [u["what"] for u in demo.uses]
    assert whats[0].startswith("face enrolled")
    for crossing in demo.crossings:
        assert any(f"lane {crossing.lane_id} (booking {crossing.booking_id})" in w for w in whats), whats
    assert demo.withdrawn["deleted"] is True
    assert demo.withdrawn["lanes_told"] == [f"sandbox/{c.lane_id}" for c in demo.crossings]  # they had her face
    assert demo.heard, "a cab camera did not hear the withdrawal"

    # no embedding anywhere: not in the passages, not in the lane logs (no run of 128 numbers)
    for crossing in demo.crossings:
        assert "embedding" not in json.dumps(crossing.passage)
    logs = "".join(p.read_text(errors="replace") for p in demo.cab_logs)
    assert "driver's face checked" in logs
    assert not re.search(r"(-?\d\.\d{3,}[,\s]+){16}", logs)
