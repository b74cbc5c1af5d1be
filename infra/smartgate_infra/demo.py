"""`smartgate demo`: real trucks through the local stack, with readable progress and a summary."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartgate.domain.crossing import passage_id_for
from smartgate.domain.plates import plate_key
from smartgate.edge.simulator import CrossingResult, LaneSimulator
from smartgate.edge.transport import Mqtt5Transport
from smartgate.schemas import PlateRead, utc_now
from smartgate_infra.client import StackClient
from smartgate_infra.lane_camera import CameraTruck, run_lane_vision, stage_frames, watch
from smartgate_infra.stack import ROOT, StackState

SIGNING_PARAMETER = "BarrierSigningKey"


@dataclass(frozen=True)
class Truck:
    gate_id: str
    lane_id: str
    plate: str
    country: str
    container_no: str | None
    story: str
    expect: str


TRUCKS = (
    Truck("kimthanh2", "out-1", "24C-123.45", "VN", "MSKU6011672", "booked VN truck with a container", "GREEN"),
    Truck("kimthanh2", "in-1", "云A·88K21", "CN", None, "booked CN truck from Hekou", "GREEN"),
    Truck("kimthanh2", "out-1", "24H-555.01", "VN", None, "booked, but five hours early", "YELLOW"),
    Truck("kimthanh2", "out-2", "29C-999.99", "VN", None, "no booking at all", "RED"),
    Truck("mongcai", "out-1", "14C-246.80", "VN", None, "booked at Mong Cai", "GREEN"),
)


def signing_key(client: StackClient) -> bytes:
    return str(client.template.parameters[SIGNING_PARAMETER]).encode()


class Lanes:
    """One simulator per lane, sharing one MQTT5 connection to the broker."""

    def __init__(self, state: StackState, key: bytes) -> None:
        self.transport = Mqtt5Transport(state.ports.host, state.ports.mqtt, f"demo-lanes-{uuid.uuid4().hex[:6]}")
        self.transport.connect(timeout=10)
        self.key = key
        self.lanes: dict[tuple[str, str], LaneSimulator] = {}

    def lane(self, gate_id: str, lane_id: str) -> LaneSimulator:
        if (gate_id, lane_id) not in self.lanes:
            sim = LaneSimulator(self.transport, gate_id, lane_id, self.key)
            sim.start()
            self.lanes[(gate_id, lane_id)] = sim
        return self.lanes[(gate_id, lane_id)]

    def close(self) -> None:
        self.transport.close()


def _channel(result: CrossingResult) -> str:
    if result.command is None:
        return "-"
    return result.command.reason.split(":", 1)[0]


def wait_for(predicate: Any, timeout: float, interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def run_demo(state: StackState, say: Any = print) -> bool:
    client = StackClient(state)
    say("\n== 1. Traders' bookings (seed data, slots relative to now)")
    for b in client.seed_bookings():
        say(f"   {b.booking_id:12} {b.gate_id:10} {b.direction.value:9} {b.plate_text:12} "
            f"slot {b.slot_start:%H:%M}-{b.slot_end:%H:%M}Z")
    client.tapped()  # start the event view from here

    lanes = Lanes(state, signing_key(client))
    results: list[tuple[Truck, CrossingResult]] = []
    try:
        say("\n== 2. Trucks arrive; the lane publishes its detections and waits for the barrier")
        for truck in TRUCKS:
            sim = lanes.lane(truck.gate_id, truck.lane_id)
            say(f"   -> {truck.gate_id}/{truck.lane_id}: {truck.plate} ({truck.story})")
            result = sim.cross(truck.plate, truck.country, truck.container_no, timeout=15)
            results.append((truck, result))
            if result.command:
                say(f"      barrier {result.command.action.value.upper():4} in {result.latency_ms:6.0f} ms, "
                    f"signature {'ok' if result.signature_ok else 'BAD'} - {result.command.reason}")
            else:
                say(f"      !! {result.error}")

        say("\n== 3. Bad input and redelivery")
        sim = lanes.lane("kimthanh2", "in-1")
        sim.publish_raw(b"\x00\xff not json")
        sim.publish_raw(json.dumps({"schema": "PlateRead.v1", "event_id": "bad-1", "gate_id": "kimthanh2",
                                    "lane_id": "in-1", "plate_text": "29A-123.45", "country": "VN",
                                    "format_valid": True, "confidence": 7, "captured_at": utc_now().isoformat()}
                                   ).encode())
        rejected = wait_for(lambda: len(client.rejected()) >= 2 and client.rejected(), 10) or []
        for r in rejected[-2:]:
            say(f"   rejected: {_reject_reason(r)}")
        first = results[0][1]
        stored = client.detections.get(first.event_id or "")
        if isinstance(stored, PlateRead):
            before = client.passages.get(first.command.passage_id) if first.command else None
            sim.transport.publish(sim.detections_topic, stored)  # the same detection, delivered again
            time.sleep(1.5)
            after = client.passages.get(first.command.passage_id) if first.command else None
            say(f"   redelivered {stored.event_id}: passage unchanged={before == after}, "
                f"no second barrier command={sim.duplicate_commands == 0 and sim.unclaimed_commands == 0}")

        say("\n== 4. What the bus and the officers saw")
        events = wait_for(lambda: [e for e in client.tapped()], 5)
        time.sleep(1.0)
        events += client.tapped()
        for event in events:
            if "detail-type" in event:
                d = event["detail"]
                say(f"   bus  {event['detail-type']:20} {d['plate_text']:12} {d['channel']:6} "
                    f"{d['gate_id']}/{d['lane_id']}")
            elif event.get("Type") == "Notification":
                say(f"   SNS  officer alert: {event.get('Subject')}")
    finally:
        lanes.close()

    camera_ok = run_camera(state, client, say)

    say("\n== Summary")
    say(f"   {'plate':12} {'gate/lane':18} {'expected':8} {'got':8} {'barrier':7} {'ms':>6}")
    ok = True
    for truck, result in results:
        got = _channel(result)
        good = got == truck.expect and bool(result.signature_ok)
        ok &= good
        action = result.command.action.value if result.command else "-"
        say(f"   {truck.plate:12} {truck.gate_id + '/' + truck.lane_id:18} {truck.expect:8} {got:8} "
            f"{action:7} {result.latency_ms:6.0f} {'ok' if good else 'MISMATCH'}")
    say(f"\n   {sum(1 for _, r in results if r.ok)}/{len(results)} trucks answered; "
        f"{'all as expected' if ok else 'SOME NOT AS EXPECTED'}; lane camera {'ok' if camera_ok else 'NOT OK'}")
    return ok and camera_ok


DEV_PHOTOS = ROOT.parent / "shared" / "data" / "plates" / "dev"
CAMERA_TRUCKS = (
    (CameraTruck("24C-123.45", "vn_white_1row", container_no="MSKU6011672"), "GREEN"),
    (CameraTruck("云A·88K21", "cn_yellow_1row"), "GREEN"),
    (CameraTruck("29C-999.99", "vn_yellow_1row"), "RED"),
)


def camera_trucks() -> list[tuple[CameraTruck, str]]:
    trucks = list(CAMERA_TRUCKS)
    photo = DEV_PHOTOS / "vn_carlongplate_00.jpg"
    if photo.is_file():  # a real photo when the development photos are at hand (not shipped with the project)
        trucks.insert(1, (CameraTruck("51F-882.70", "vn_white_1row", photo=photo), "GREEN"))
    return trucks


def run_camera(state: StackState, client: StackClient, say: Any = print) -> bool:
    """The LaneVision component reads a lane camera's frames; the cloud decides on what it read."""
    gate, lane = "kimthanh2", "cam-1"
    trucks = camera_trucks()
    say(f"\n== 5. A lane camera: LaneVision reads {len(trucks)} trucks from camera frames (real ONNX models)")
    frames = Path(state.state_dir) / "camera-frames"
    shutil.rmtree(frames, ignore_errors=True)
    count = stage_frames(frames, [t for t, _ in trucks])
    transport, seen = watch(state, gate, lane)
    try:
        started = time.monotonic()
        result = run_lane_vision(state, frames, gate, lane, client.name("EvidenceBucket"))
        say(f"   {count} frames read in {time.monotonic() - started:.1f} s (exit code {result.returncode})")
        wait_for(lambda: len(seen.commands) >= len(seen.plates) > 0, 15)
    finally:
        transport.close()
    if result.returncode != 0:
        say("   !! LaneVision failed:\n" + result.stderr[-2000:])
    by_passage = {c.passage_id: c for c in seen.commands}
    ok = result.returncode == 0
    for truck, expected in trucks:
        read = next((p for p in seen.plates if plate_key(p.plate_text) == plate_key(truck.plate)), None)
        if read is None:
            say(f"   {truck.plate:12} NOT READ (camera saw: {[p.plate_text for p in seen.plates]})")
            ok = False
            continue
        passage = client.passages.get(passage_id_for(read))
        command = by_passage.get(passage.passage_id) if passage else None
        channel = passage.channel.value if passage and passage.channel else "-"
        good = channel == expected and command is not None and read.crop_key is not None
        ok &= good
        say(f"   {truck.plate:12} read {read.plate_text:12} valid={read.format_valid} conf={read.confidence:.2f} "
            f"-> {channel:6} barrier {command.action.value if command else '-':4} "
            f"{'(real photo)' if truck.photo else ''}{'' if good else ' MISMATCH'}")
    for container in seen.containers:
        expected_codes = {t.container_no for t, _ in trucks if t.container_no}
        good = container.container_no in expected_codes and container.check_digit_ok
        ok &= good
        say(f"   container {container.container_no} check digit {'ok' if container.check_digit_ok else 'WRONG'}"
            f"{'' if good else ' MISMATCH'}")
    if not seen.containers:
        say("   !! no container code was read")
        ok = False
    return ok



def _reject_reason(message: dict[str, Any]) -> str:
    if "failures" in message:  # the IoT rule's error action
        return "; ".join(f["errorMessage"] for f in message["failures"])[:160]
    return str(message.get("reason", message))[:160]
