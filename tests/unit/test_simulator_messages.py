"""The lane simulator's pure parts: the messages it builds, the topics it uses, the signature check.

An in-memory transport stands in for MQTT (no sockets); the real broker is in
tests/integration/test_edge_transport.py.
"""

from __future__ import annotations

import importlib.util
import json
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import BaseModel
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import encode, topic_matches

from smartgate import topics
from smartgate.domain.commands import CommandSigner
from smartgate.domain.containers import container_check_digit_ok
from smartgate.domain.crossing import signature_valid as signature_ok
from smartgate.domain.plates import plate_format_valid
from smartgate.schemas import (
    DETECTION_ADAPTER,
    BarrierAction,
    BarrierCommand,
    ContainerRead,
    LaneHealth,
    PlateRead,
)

ROOT = Path(__file__).resolve().parents[2]
COMPONENT = ROOT / "edge_greengrass" / "LaneSimulator"
GATE, LANE = "kimthanh2", "in-1"
SIGNER = CommandSigner.from_seed("unit-1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
KEY = SIGNER.keys()  # what the lane holds: public keys only
OTHER = CommandSigner("unit-1", Ed25519PrivateKey.generate())  # a forger who knows the key id
NOW = datetime(2026, 11, 3, 8, 30, tzinfo=UTC)


class FakeTransport:
    """In-memory Transport: records publishes; ``respond`` may answer a publish like the cloud would."""

    def __init__(self) -> None:
        self.published: list[tuple[str, bytes]] = []
        self.subscriptions: list[tuple[str, Callable[[str, bytes], None]]] = []
        self.respond: Callable[[str, bytes], None] | None = None

    def publish(self, topic: str, message: BaseModel | bytes, qos: int = 1) -> None:
        payload = encode(message)
        self.published.append((topic, payload))
        if self.respond is not None:
            self.respond(topic, payload)

    def subscribe(self, topic: str, callback: Callable[[str, bytes], None]) -> None:
        self.subscriptions.append((topic, callback))

    def deliver(self, topic: str, payload: bytes) -> None:
        for topic_filter, callback in self.subscriptions:
            if topic_matches(topic_filter, topic):
                callback(topic, payload)

    def close(self) -> None:
        pass

    def __enter__(self) -> FakeTransport:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def make_command(
    lane: str = LANE,
    *,
    key: CommandSigner = SIGNER,
    command_id: str = "cmd-1",
    action: BarrierAction = BarrierAction.OPEN,
) -> BarrierCommand:
    command = BarrierCommand(
        command_id=command_id,
        gate_id=GATE,
        lane_id=lane,
        action=action,
        passage_id="psg-1",
        reason="GREEN: booked slot",
        issued_at=NOW,
        expires_at=NOW + timedelta(minutes=1),
    )
    return key.sign(command)


@pytest.fixture
def transport() -> FakeTransport:
    return FakeTransport()


@pytest.fixture
def sim(transport: FakeTransport) -> LaneSimulator:
    return LaneSimulator(transport, GATE, LANE, KEY, rng=random.Random(7), clock=lambda: NOW)


# --------------------------------------------------------------------------- detections


def test_truck_detections_validate_against_the_schemas(sim: LaneSimulator) -> None:
    # Given a VN truck with a container
    detections = sim.truck("29C-123.45", "VN", "CSQU3054383")

    # Then a PlateRead and a ContainerRead that survive the wire as the cloud parses them
    assert [type(d) for d in detections] == [PlateRead, ContainerRead]
    for detection in detections:
        assert DETECTION_ADAPTER.validate_json(detection.model_dump_json()) == detection
        assert (detection.gate_id, detection.lane_id) == (GATE, LANE)
        assert detection.event_id.startswith(f"{LANE}-")
    plate, container = detections
    assert isinstance(plate, PlateRead) and isinstance(container, ContainerRead)
    assert plate.format_valid and plate.country == "VN" and plate.captured_at == NOW
    assert 0.0 <= plate.confidence <= 1.0
    assert len(plate.char_confidences) == len("29C12345")
    assert container.check_digit_ok and container.container_no == "CSQU3054383"
    assert plate.event_id != container.event_id


def test_truck_uses_a_given_event_id_and_otherwise_unique_ones(sim: LaneSimulator) -> None:
    given = sim.truck("29C-123.45", "VN", "CSQU3054383", event_id="in-1-fixed")
    assert [d.event_id for d in given] == ["in-1-fixed", "in-1-fixed.container"]
    ids = {sim.truck("29C-123.45", "VN")[0].event_id for _ in range(50)}
    assert len(ids) == 50


@pytest.mark.parametrize(
    ("plate", "country", "valid"),
    [
        ("29C-123.45", "VN", True),
        ("29LD-123.45", "VN", True),
        ("云A·12345", "CN", True),
        ("桂A12345D", "CN", True),
        ("ABC", "VN", False),
        ("29C-123.45", "CN", False),
        ("---", "VN", False),
    ],
)
def test_plate_format(plate: str, country: str, valid: bool) -> None:
    assert plate_format_valid(plate, country) is valid


@pytest.mark.parametrize(
    ("container_no", "ok"),
    [
        ("CSQU3054383", True),
        ("CSQU3054384", False),
        ("CSQU305438", False),
        ("1234567890X", False),
    ],
)
def test_container_check_digit(container_no: str, ok: bool) -> None:
    assert container_check_digit_ok(container_no) is ok


# --------------------------------------------------------------------------- topics


def test_cross_uses_the_topic_helpers(transport: FakeTransport, sim: LaneSimulator) -> None:
    transport.respond = lambda topic, payload: transport.deliver(
        topics.commands_topic(GATE, LANE), make_command().model_dump_json().encode()
    )

    result = sim.cross("29C-123.45", "VN", "CSQU3054383", timeout=1)

    assert [topic for topic, _ in transport.subscriptions] == [topics.commands_topic(GATE, LANE)]
    assert {topic for topic, _ in transport.published} == {topics.detections_topic(GATE, LANE)}
    assert result.ok and result.command == make_command() and result.signature_ok is True
    assert result.event_id == PlateRead.model_validate_json(transport.published[0][1]).event_id


def test_heartbeat_is_lane_health_on_the_health_topic(transport: FakeTransport, sim: LaneSimulator) -> None:
    sent = sim.heartbeat(camera_ok=False, fps=0, detail="camera 2 offline")
    topic, payload = transport.published[-1]
    assert topic == topics.health_topic(GATE, LANE)
    assert LaneHealth.model_validate_json(payload) == sent


def test_publish_raw_sends_bytes_unchanged(transport: FakeTransport, sim: LaneSimulator) -> None:
    sim.publish_raw(b"\xff not json")
    assert transport.published == [(topics.detections_topic(GATE, LANE), b"\xff not json")]


@pytest.mark.parametrize(
    ("topic_filter", "topic", "matches"),
    [
        ("smartgate/+/lanes/+/detections", "smartgate/kimthanh2/lanes/in-1/detections", True),
        ("smartgate/+/lanes/+/detections", "smartgate/kimthanh2/lanes/in-1/commands", False),
        ("smartgate/kimthanh2/#", "smartgate/kimthanh2/lanes/in-1/health", True),
        ("smartgate/kimthanh2/#", "smartgate/kimthanh2", True),
        ("smartgate/+", "smartgate/kimthanh2/lanes", False),
        ("#", "$aws/things/x/shadow", False),
        ("a/b", "a/b", True),
    ],
)
def test_topic_filter_matching(topic_filter: str, topic: str, matches: bool) -> None:
    assert topic_matches(topic_filter, topic) is matches


# --------------------------------------------------------------------------- commands and signatures


def test_signature_check() -> None:
    good = make_command()
    assert signature_ok(good, KEY)
    assert not signature_ok(good, OTHER.keys())
    assert not signature_ok(make_command(key=OTHER), KEY)
    tampered = good.model_copy(update={"action": BarrierAction.HOLD})  # same signature, other payload
    assert not signature_ok(tampered, KEY)
    assert not signature_ok(good.model_copy(update={"signature": ""}), KEY)


def test_wrongly_signed_command_is_reported_not_trusted(transport: FakeTransport, sim: LaneSimulator) -> None:
    transport.respond = lambda topic, payload: transport.deliver(
        topics.commands_topic(GATE, LANE), make_command(key=OTHER).model_dump_json().encode()
    )
    result = sim.cross("29C-123.45", "VN", timeout=1)
    assert result.command is not None and result.signature_ok is False
    assert result.error and "invalid signature" in result.error and not result.ok


def test_without_a_key_the_signature_is_not_checked(transport: FakeTransport) -> None:
    sim = LaneSimulator(transport, GATE, LANE, None)
    transport.respond = lambda topic, payload: transport.deliver(
        topics.commands_topic(GATE, LANE), make_command(key=OTHER).model_dump_json().encode()
    )
    result = sim.cross("29C-123.45", "VN", timeout=1)
    assert result.ok and result.signature_ok is None


def test_invalid_commands_are_counted_not_raised(transport: FakeTransport, sim: LaneSimulator) -> None:
    sim.start()
    commands = topics.commands_topic(GATE, LANE)
    for payload in (b"{not json", b"\xff\xfe", b'{"schema": "BarrierCommand.v1"}', b"[]"):
        transport.deliver(commands, payload)
    transport.deliver(commands, make_command(lane="in-2").model_dump_json().encode())
    assert sim.invalid_commands == 4
    assert sim.ignored_commands == 1


def test_no_command_gives_a_timeout_result(sim: LaneSimulator) -> None:
    result = sim.cross("29C-123.45", "VN", timeout=0.05)
    assert result.command is None and result.signature_ok is None
    assert result.error == "no barrier command within 0.05s"
    assert result.latency_ms >= 50


def test_stale_and_duplicate_commands_are_not_taken_for_the_next_truck(
    transport: FakeTransport,
    sim: LaneSimulator,
) -> None:
    commands = topics.commands_topic(GATE, LANE)
    # Given a command that arrives for a truck that already timed out (before the next truck's reads)
    sim.start()
    transport.deliver(commands, make_command(command_id="cmd-late").model_dump_json().encode())
    # When the next truck crosses and nobody answers, it times out instead of taking the late command
    assert sim.cross("29C-123.45", "VN", timeout=0.05).command is None
    assert sim.stale_commands == 1

    # Given a command delivered twice (QoS 1 redelivery)
    answer = make_command(command_id="cmd-2").model_dump_json().encode()

    def answer_twice(topic: str, payload: bytes) -> None:
        transport.deliver(commands, answer)
        transport.deliver(commands, answer)

    transport.respond = answer_twice
    first = sim.cross("29C-123.45", "VN", timeout=1)
    transport.respond = None
    second = sim.cross("29C-678.90", "VN", timeout=0.05)
    # Then the repeat is dropped, not handed to the next truck
    assert first.ok and first.command is not None and first.command.command_id == "cmd-2"
    assert second.command is None and sim.duplicate_commands == 1


# --------------------------------------------------------------------------- the Greengrass component


def test_recipe_allows_exactly_the_default_lanes_topics() -> None:
    recipe = yaml.safe_load((COMPONENT / "recipe.yaml").read_text())
    config = recipe["ComponentConfiguration"]["DefaultConfiguration"]
    gate, lane = config["GateId"], config["LaneId"]
    policies = config["accessControl"]["aws.greengrass.ipc.mqttproxy"].values()
    allowed = {op: sorted(p["resources"]) for p in policies for op in p["operations"]}
    assert allowed == {
        "aws.greengrass#PublishToIoTCore": sorted(
            [topics.detections_topic(gate, lane), topics.health_topic(gate, lane)]
        ),
        "aws.greengrass#SubscribeToIoTCore": [topics.commands_topic(gate, lane)],
    }
    assert recipe["ComponentName"] == "com.smartgate.LaneSimulator"
    (manifest,) = recipe["Manifests"]
    assert manifest["Lifecycle"]["Run"] == "python3 -u {artifacts:decompressedPath}/LaneSimulator/main.py"


def _load_main():
    spec = importlib.util.spec_from_file_location("lane_simulator_main", COMPONENT / "main.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_component_reads_trucks_from_argv_and_recipe_config() -> None:
    main = _load_main()
    recipe = yaml.safe_load((COMPONENT / "recipe.yaml").read_text())
    trucks = recipe["ComponentConfiguration"]["DefaultConfiguration"]["Trucks"]
    # Greengrass interpolates a list in Setenv as its JSON text
    env = {
        "SMARTGATE_GATE_ID": "kimthanh2",
        "SMARTGATE_LANE_ID": "in-1",
        "SMARTGATE_TRUCKS": json.dumps(trucks, ensure_ascii=False),
    }
    args = main.parse_args([], env)
    assert args.trucks == [main.Truck("29C-123.45", "VN", "CSQU3054383"), main.Truck("云A·12345", "CN", None)]
    args = main.parse_args(["--gate", "g1", "--lane", "l1", "--plate", "29A-123.45:vn"], env)
    assert (args.gate, args.lane, args.trucks) == ("g1", "l1", [main.Truck("29A-123.45", "VN", None)])
    with pytest.raises(SystemExit):
        main.parse_args(["--plate", "29A-123.45:XX"], env)
