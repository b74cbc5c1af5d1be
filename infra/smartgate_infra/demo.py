"""`smartgate demo`: real trucks through the local stack, with readable progress and a summary."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smartgate_edge.simulator import CrossingResult, LaneSimulator
from smartgate_edge.transport import Mqtt5Transport

from smartgate.domain.audit import replay, verify
from smartgate.domain.commands import CommandKeys
from smartgate.domain.gates import default_gates
from smartgate.domain.plates import plate_key
from smartgate.domain.rules import load_rule_set
from smartgate.schemas import PlateRead, utc_now
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import Declared
from smartgate_infra.lane_camera import CameraTruck, run_lane_vision, stage_frames, watch
from smartgate_infra.scenarios import Outcome, run_all
from smartgate_infra.stack import ROOT, StackState

COMMAND_KEYS_PARAMETER = "CommandPublicKeys"


@dataclass(frozen=True)
class Truck:
    gate_id: str
    lane_id: str
    plate: str
    booking_id: str | None
    story: str
    expect: str


TRUCKS = (
    Truck("kimthanh2", "out-1", "24C-123.45", "BK-KT2-0001", "rubber to Hekou, container declared", "GREEN"),
    Truck("kimthanh2", "in-1", "云A·88K21", "BK-KT2-0002", "electronics from Hekou", "GREEN"),
    Truck("kimthanh2", "out-1", "24H-555.01", "BK-KT2-0003", "cassava starch, five hours early", "YELLOW"),
    Truck("kimthanh2", "out-2", "29C-999.99", None, "no booking at all", "RED"),
    Truck("mongcai", "out-1", "14C-246.80", "BK-MC-0001", "frozen shrimp to Dongxing, reefer", "GREEN"),
    Truck("mongcai", "in-1", "桂P·3C915", "BK-MC-0002", "steel wire rod from Dongxing", "GREEN"),
    Truck("mongcai", "out-2", "14C-135.79", "BK-MC-0003", "fresh dragon fruit: needs a lab test", "RED"),
)


def command_keys(client: StackClient) -> CommandKeys:
    """The public keys a lane verifies the stack's barrier commands with (as its configuration holds them)."""
    return CommandKeys.from_text(str(client.template.parameters[COMMAND_KEYS_PARAMETER]))


class Lanes:
    """One simulator per lane, sharing one MQTT5 connection to the broker."""

    def __init__(self, state: StackState, key: CommandKeys) -> None:
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


def cross(
    client: StackClient, sim: LaneSimulator, truck: Truck, entries: dict[str, Declared], timeout: float = 20
) -> CrossingResult:
    """What the lane reads of a demo truck: its plate, declared containers, its weight where it is weighed
    (the declared goods and tare, 0.4 % over), its pass if booked."""
    entry = entries.get(truck.booking_id or "")
    lane = default_gates("local").lane(truck.gate_id, truck.lane_id)
    country = entry.consignment.country if entry else "VN"
    containers = tuple(entry.consignment.container_nos) if entry else ()
    weight = None
    if lane.scale:
        c = entry.consignment if entry else None
        weight = round((c.gross_kg + (c.vehicle_tare_kg or 0)) * 1.004) if c else 31_200
    token = client.pass_token(entry) if entry else None
    return sim.cross(truck.plate, country, containers=containers, weight_kg=weight, pass_token=token, timeout=timeout)


def run_demo(state: StackState, say: Any = print) -> bool:
    client = StackClient(state)
    say("\n== 1. Traders' declarations and bookings (seed data, slots relative to now)")
    entries = {}
    for entry in client.seed():
        c, b = entry.consignment, entry.booking
        if b is None:
            continue
        entries[b.booking_id] = entry
        goods = "; ".join(line.description for line in c.goods)
        say(
            f"   {b.booking_id:11} {b.gate_id:9} {b.direction.value:8} {b.plate_text:11} "
            f"slot {b.slot_start:%H:%M}-{b.slot_end:%H:%M}Z  {goods[:58]}"
        )
    client.tapped()  # start the event view from here

    lanes = Lanes(state, command_keys(client))
    results: list[tuple[Truck, CrossingResult]] = []
    scenario_outcomes: list[Outcome] = []
    try:
        say("\n== 2. Trucks arrive: plate, containers, scale, QR pass; the cloud decides on all of it")
        for truck in TRUCKS:
            sim = lanes.lane(truck.gate_id, truck.lane_id)
            say(f"   -> {truck.gate_id}/{truck.lane_id}: {truck.plate} ({truck.story})")
            result = cross(client, sim, truck, entries)
            results.append((truck, result))
            if result.command:
                say(
                    f"      barrier {result.command.action.value.upper():4} {result.latency_ms:6.0f} ms after its last "
                    f"detection, signature {'ok' if result.signature_ok else 'BAD'} - {result.command.reason}"
                )
            else:
                say(f"      !! {result.error}")

        say("\n== 3. Clearance scenarios (events/scenarios/), each a truck on a sandbox lane")
        say(f"   {'scenario':38} {'expected':28} {'got':28}")

        def show(outcome: Outcome) -> None:
            first = outcome.checks[:3]
            want = " ".join(c.expected.split(" ", 1)[1] for c in first if " " in c.expected)
            got = " ".join(c.got.split(" ", 1)[1] for c in first if " " in c.got)
            say(
                f"   {outcome.scenario.title[:38]:38} {want[:28]:28} {got[:28]:28} {'ok' if outcome.ok else 'MISMATCH'}"
            )
            if not outcome.ok:
                for c in outcome.checks:
                    if not c.ok:
                        say(f"      {c.step}: expected {c.expected}, got {c.got}")
            elif outcome.passage and outcome.passage.decision:
                say(f"      {outcome.passage.decision.reason()[:150]}")
            for c in outcome.checks[3:]:
                if c.step != "arrival" and c.expected.startswith("status"):
                    say(f"      {c.step}: {c.got}")

        scenario_outcomes = run_all(client, lanes, show)

        say("\n== 4. Bad input and redelivery")
        sim = lanes.lane("kimthanh2", "in-2")
        sim.publish_raw(b"\x00\xff not json")
        sim.publish_raw(
            json.dumps(
                {
                    "schema": "PlateRead.v1",
                    "event_id": "bad-1",
                    "gate_id": "kimthanh2",
                    "lane_id": "in-2",
                    "plate_text": "29A-123.45",
                    "country": "VN",
                    "format_valid": True,
                    "confidence": 7,
                    "captured_at": utc_now().isoformat(),
                }
            ).encode()
        )
        unknown = lanes.lane("kimthanh2", "in-9")
        unknown.publish_raw(
            PlateRead(
                event_id="in-9-unknown",
                gate_id="kimthanh2",
                lane_id="in-9",
                plate_text="29A-123.45",
                country="VN",
                format_valid=True,
                confidence=0.9,
                captured_at=utc_now(),
            )
            .model_dump_json()
            .encode()
        )
        rejected = wait_for(lambda: len(client.rejected()) >= 3 and client.rejected(), 10) or []
        for r in rejected[-3:]:
            say(f"   rejected: {_reject_reason(r)}")
        first_truck, first = results[0]
        passage_id = first.command.passage_id if first.command else ""
        before = client.passages.get(passage_id)
        if before is not None and before.detections.plates:
            replayed = before.detections.plates[:1]
            for detection in replayed:
                lanes.lane(first_truck.gate_id, first_truck.lane_id).transport.publish(
                    lanes.lane(first_truck.gate_id, first_truck.lane_id).detections_topic, detection
                )
            time.sleep(1.5)
            after = client.passages.get(passage_id)
            sim1 = lanes.lane(first_truck.gate_id, first_truck.lane_id)
            say(
                f"   redelivered {replayed[0].event_id}: passage unchanged={before == after}, "
                f"no second barrier command={sim1.unclaimed_commands == 0}"
            )

        say("\n== 5. What the bus and the officers saw")
        time.sleep(1.5)
        events = wait_for(lambda: client.tapped(), 5) or []
        time.sleep(1.0)
        events += client.tapped()
        kinds: dict[str, int] = {}
        alerts = []
        for event in events:
            if "detail-type" in event:
                kinds[event["detail-type"]] = kinds.get(event["detail-type"], 0) + 1
            elif event.get("Type") == "Notification":
                locale = event.get("MessageAttributes", {}).get("locale", {}).get("Value")
                if locale == "en":  # each alert goes out in vi, zh and en; the English one stands for all three
                    alerts.append(event.get("Subject", ""))
        say("   bus  " + ", ".join(f"{n} x {k}" for k, n in sorted(kinds.items())))
        for subject in alerts[:8]:
            say(f"   SNS  officer alert (vi/zh/en): {subject}")
        if len(alerts) > 8:
            say(f"   SNS  ... and {len(alerts) - 8} more officer alerts")
    finally:
        lanes.close()

    audit_ok = run_audit(client, say)
    camera_ok = run_camera(state, client, say)
    from smartgate_infra.trader_demo import run_trader  # it uses this module's lanes

    trader_ok = run_trader(state, client, say)
    from smartgate_infra.officer_demo import run_officer

    officer_ok = run_officer(state, client, say)
    from smartgate_infra.offline_demo import run_offline

    offline_ok = run_offline(state, client, say)
    from smartgate_infra.partner_check import run_partner

    partner_ok = run_partner(state, client, say)
    from smartgate_infra.face_demo import run_faces

    faces_ok = run_faces(state, client, say)
    from smartgate_infra.twin.fullstack import run_twin_section

    twin_ok = run_twin_section(state, client, say)

    say("\n== Summary")
    say(f"   {'plate':12} {'gate/lane':18} {'expected':8} {'got':8} {'barrier':7} {'ms':>6}")
    ok = True
    for truck, result in results:
        got = _channel(result)
        good = got == truck.expect and bool(result.signature_ok)
        ok &= good
        action = result.command.action.value if result.command else "-"
        say(
            f"   {truck.plate:12} {truck.gate_id + '/' + truck.lane_id:18} {truck.expect:8} {got:8} "
            f"{action:7} {result.latency_ms:6.0f} {'ok' if good else 'MISMATCH'}"
        )
    scenarios_ok = all(o.ok for o in scenario_outcomes)
    say(
        f"\n   {sum(1 for _, r in results if r.ok)}/{len(results)} trucks answered; "
        f"{'all as expected' if ok else 'SOME NOT AS EXPECTED'}; "
        f"scenarios {sum(o.ok for o in scenario_outcomes)}/{len(scenario_outcomes)} as expected; "
        f"audit {'verified' if audit_ok else 'NOT OK'}; lane camera {'ok' if camera_ok else 'NOT OK'}; "
        f"trader via the API {'ok' if trader_ok else 'NOT OK'}; "
        f"officer alert and release {'ok' if officer_ok else 'NOT OK'}; "
        f"lane offline and catching up {'ok' if offline_ok else 'NOT OK'}; "
        f"partner gate exchange {'ok' if partner_ok else 'NOT OK'}; "
        f"driver's face at the lane {'ok' if faces_ok else 'NOT OK'}; "
        f"twin through the stack {'ok' if twin_ok else 'NOT OK'}"
    )
    sections = (scenarios_ok, audit_ok, camera_ok, trader_ok, officer_ok, offline_ok, partner_ok, faces_ok, twin_ok)
    return ok and all(sections)


def run_audit(client: StackClient, say: Any = print) -> bool:
    """The audit trail, as an auditor reads it: every gate's chain verified, one decision replayed."""
    say("\n== 6. The audit trail")
    time.sleep(1.0)  # the audit appender follows the passages stream
    ok = True
    replayed = False
    for gate in client.audit.gates():
        entries = client.audit.entries(gate)
        report = verify(gate, entries)
        ok &= report.ok
        chain = "intact" if report.ok else f"BROKEN: {report.problem}"
        say(f"   {gate:10} {report.checked:4} entries, chain {chain}")
        decisions = [e for e in entries if e.kind == "decision"]
        if decisions and not replayed:
            tampered = list(entries)
            victim = tampered.index(decisions[0])
            facts = {**decisions[0].detail["decision"]["facts"], "weight.deviation_pct": 0.0}
            tampered[victim] = decisions[0].model_copy(
                update={
                    "detail": {**decisions[0].detail, "decision": {**decisions[0].detail["decision"], "facts": facts}}
                }
            )
            caught = verify(gate, tampered)
            ok &= caught.broken_at == decisions[0].seq
            say(f"   a copy with one fact changed in entry {decisions[0].seq}: verify says {caught.problem}")
            entry = decisions[-1]
            digest = entry.detail["decision"]["ruleset_digest"]
            text = client.rule_sets.archived(digest)
            again = replay(entry, load_rule_set(text) if text else None)
            replayed = True
            ok &= again.same
            say(
                f"   replayed {entry.passage_id} (entry {entry.seq}): recorded {again.original.channel.value}, "
                f"re-run {again.channel} under {again.original.ruleset_id} {again.original.ruleset_version} "
                f"-> {'same decision' if again.same else 'DIFFERENT: ' + str(again.problem)}"
            )
    return ok and replayed


DEV_PHOTOS = ROOT.parent / "shared" / "data" / "plates" / "dev"
CAMERA_TRUCKS = (
    (CameraTruck("24C-123.45", "vn_white_1row", container_no="MSKU6011672"), "GREEN"),
    (CameraTruck("云A·6H2K8", "cn_yellow_1row"), "GREEN"),
    (CameraTruck("29C-868.68", "vn_yellow_1row"), "RED"),
)
CAMERA_LANE = ("kimthanh2", "out-2")
"""An outbound lane without a scale: what the camera reads is all the cloud waits for."""


def camera_trucks() -> list[tuple[CameraTruck, str]]:
    trucks = list(CAMERA_TRUCKS)
    photo = DEV_PHOTOS / "vn_carlongplate_00.jpg"
    if photo.is_file():  # a real photo when the development photos are at hand (not shipped with the project)
        trucks.insert(1, (CameraTruck("51F-882.70", "vn_white_1row", photo=photo), "GREEN"))
    return trucks


def run_camera(state: StackState, client: StackClient, say: Any = print) -> bool:
    """The LaneVision component reads a lane camera's frames; the cloud decides on what it read."""
    gate, lane = CAMERA_LANE
    trucks = camera_trucks()
    say(f"\n== 7. A lane camera: LaneVision reads {len(trucks)} trucks from camera frames (real ONNX models)")
    frames = Path(state.state_dir) / "camera-frames"
    shutil.rmtree(frames, ignore_errors=True)
    count = stage_frames(frames, [t for t, _ in trucks])
    transport, seen = watch(state, gate, lane)
    try:
        started = time.monotonic()
        result = run_lane_vision(state, frames, gate, lane, client.name("EvidenceBucket"))
        say(f"   {count} frames read in {time.monotonic() - started:.1f} s (exit code {result.returncode})")
        wait_for(lambda: len(seen.commands) >= len(seen.plates) > 0, 20)
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
        command = next(
            (c for c in seen.commands if c.passage_id in by_passage and _names(client, c.passage_id, read.event_id)),
            None,
        )
        passage = client.passages.get(command.passage_id) if command else None
        channel = passage.channel.value if passage and passage.channel else "-"
        good = channel == expected and command is not None and read.crop_key is not None
        ok &= good
        say(
            f"   {truck.plate:12} read {read.plate_text:12} valid={read.format_valid} conf={read.confidence:.2f} "
            f"-> {channel:6} barrier {command.action.value if command else '-':4} "
            f"{'(real photo)' if truck.photo else ''}{'' if good else ' MISMATCH'}"
        )
    for container in seen.containers:
        expected_codes = {t.container_no for t, _ in trucks if t.container_no}
        good = container.container_no in expected_codes and container.check_digit_ok
        ok &= good
        say(
            f"   container {container.container_no} check digit {'ok' if container.check_digit_ok else 'WRONG'}"
            f"{'' if good else ' MISMATCH'}"
        )
    if not seen.containers:
        say("   !! no container code was read")
        ok = False
    return ok


def _names(client: StackClient, passage_id: str, event_id: str) -> bool:
    passage = client.passages.get(passage_id)
    return passage is not None and event_id in passage.detections.event_ids()


def _reject_reason(message: dict[str, Any]) -> str:
    if "failures" in message:  # the IoT rule's error action
        return "; ".join(f["errorMessage"] for f in message["failures"])[:160]
    return str(message.get("reason", message))[:160]
