"""Store-and-forward on the lane (smartgate_edge.outbox) with real SQLite files, a real broker and real
processes: a link that is cut twice and a lane process killed with SIGKILL lose nothing and keep each
lane's order; queued detections survive a restart; near the disk cap the oldest evidence goes, never a
detection."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

import pytest
from mqtt_helpers import Inbox
from smartgate_edge.outbox import LaneOutbox, Pressure
from smartgate_edge.transport import Mqtt5Transport

from smartgate.schemas import Country, PlateRead, utc_now
from smartgate.topics import detections_topic
from smartgate_infra.fault_test import run_fault_test

pytestmark = pytest.mark.integration


def _read(lane: str, n: int) -> PlateRead:
    return PlateRead(
        event_id=f"obx-{lane}-{n:04d}",
        gate_id="sandbox",
        lane_id=lane,
        plate_text=f"29C-{n:03d}.00",
        country=Country.VN,
        format_valid=True,
        confidence=0.9,
        captured_at=utc_now(),
    )


def test_a_cut_link_and_a_killed_lane_lose_no_detection_and_keep_the_order() -> None:
    said: list[str] = []
    line = run_fault_test(detections=400, lanes=4, seconds=8, say=said.append)
    counts = dict(item.split("=") for item in line.split())
    assert counts["sent"] == counts["stored"] == "400", (line, said)
    assert counts["lost"] == "0" and counts["order_violations"] == "0", (line, said)
    assert "2 link cuts, 1 kill(s)" in said[-1]


def test_queued_detections_survive_a_restart_and_go_out_in_order(stack, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    lane = f"in-{uuid.uuid4().int % 10 + 11:02d}"
    path = tmp_path / "outbox.sqlite3"
    with LaneOutbox(path) as offline:  # the uplink is down: nothing to send with
        for n in range(5):
            assert offline.put(detections_topic("sandbox", lane), _read(lane, n))
        assert not offline.put(detections_topic("sandbox", lane), _read(lane, 3))  # the same event id again
        assert offline.pending() == 5
    inbox = Inbox()
    listener = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"obx-l-{os.getpid()}").connect()
    sender = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"obx-s-{os.getpid()}").connect()
    try:
        listener.subscribe(detections_topic("sandbox", lane), inbox)
        with LaneOutbox(path, sender) as back:  # the process started again, the link is back
            assert back.pending() == 5
            back.start()
            assert back.drain(10)
        received = [PlateRead.model_validate_json(inbox.get()[1]).event_id for _ in range(5)]
        assert received == [f"obx-{lane}-{n:04d}" for n in range(5)]
    finally:
        listener.close()
        sender.close()


def test_near_the_disk_cap_the_oldest_evidence_is_evicted_never_a_detection(tmp_path: Path) -> None:
    evidence = tmp_path / "evidence"
    evidence.mkdir()
    for n in range(10):
        image = evidence / f"crop-{n}.jpg"
        image.write_bytes(os.urandom(20_000))
        os.utime(image, (time.time() - 100 + n, time.time() - 100 + n))  # crop-0 is the oldest
    seen: list[Pressure] = []
    with LaneOutbox(tmp_path / "outbox.sqlite3", evidence_dir=evidence, on_pressure=seen.append) as outbox:
        cap = outbox.used_bytes()  # the disk is full of evidence already
        outbox.cap_bytes = cap
        for n in range(3):  # the link is down: detections pile up
            outbox.put(detections_topic("sandbox", "in-19"), _read("in-19", n))
        assert outbox.pending() == 3  # every detection kept
        assert outbox.used_bytes() <= 0.9 * cap
    left = sorted(p.name for p in evidence.iterdir())
    assert seen and seen[0].evicted > 0 and "evicted" in seen[0].describe()
    evicted = {f"crop-{n}.jpg" for n in range(10)} - set(left)
    assert evicted == {f"crop-{n}.jpg" for n in range(len(evicted))}  # oldest first
