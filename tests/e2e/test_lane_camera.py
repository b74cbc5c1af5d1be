"""A lane camera end to end: frames -> LaneVision component (real ONNX models) -> MQTT -> cloud -> barrier.

The frames are a rendered truck front with its container doors, and a real photo from the dev set
when it is at hand; the component runs as its own process (edge_greengrass/LaneVision/main.py).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smartgate.domain.crossing import passage_id_for
from smartgate.domain.plates import plate_key
from smartgate_infra.lane_camera import CameraTruck, run_lane_vision, stage_frames, watch

pytestmark = pytest.mark.e2e
DEV = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "plates" / "dev"


def test_camera_frames_become_detections_decisions_and_evidence(stack, stack_client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Given booked trucks (seed data) and the frames a lane camera takes of them
    stack_client.seed()
    trucks = [CameraTruck("24C-123.45", "vn_white_1row", container_no="MSKU6011672")]
    if (DEV / "vn_carlongplate_00.jpg").is_file():
        trucks.append(CameraTruck("51F-882.70", "vn_white_1row", photo=DEV / "vn_carlongplate_00.jpg"))
    stage_frames(tmp_path / "frames", trucks)
    transport, seen = watch(stack, "kimthanh2", "out-2")
    try:
        # When the LaneVision component reads them
        bucket = stack_client.name("EvidenceBucket")
        result = run_lane_vision(stack, tmp_path / "frames", "kimthanh2", "out-2", bucket)
        deadline = time.monotonic() + 20
        while len(seen.commands) < len(trucks) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        transport.close()
    assert result.returncode == 0, result.stderr[-3000:]
    # Then one PlateRead per truck, with the right plate and its crop in the evidence bucket
    assert sorted(plate_key(p.plate_text) for p in seen.plates) == sorted(plate_key(t.plate) for t in trucks)
    s3 = stack_client.client("s3")
    for read in seen.plates:
        assert read.format_valid and read.country == "VN"
        head = s3.head_object(Bucket=stack_client.name("EvidenceBucket"), Key=read.crop_key)
        assert head["ContentType"] == "image/jpeg"
        # and the cloud decided on it: GREEN (booked), barrier open
        passage = stack_client.passages.get(passage_id_for(read))
        assert passage is not None and passage.channel == "GREEN"
    assert {c.action.value for c in seen.commands} == {"open"}
    # And the container code, checked, reached the cloud and was recorded
    [container] = seen.containers
    assert container.container_no == "MSKU6011672" and container.check_digit_ok
    assert stack_client.passages.detection(container.event_id) is not None
