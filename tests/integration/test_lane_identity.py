"""Per-lane identity on the running local stack: `smartgate lane-identity` against the AWS emulator,
and the broker's mutual-TLS listener, whose ACL is the lane policy of template.yaml.

Fault test: lane A's certificate cannot publish on lane B's topics, nor on the same lane id at another
gate, nor receive their commands; a client without a certificate of the stack's CA cannot connect.
The plain listener (IoT Core's service side: the runtime's rules, these tests' observer) is unchanged.
"""

from __future__ import annotations

import contextlib
import io
import json
import socket
import ssl
import stat
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from mqtt_helpers import WAIT, Inbox
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport, TransportError

from smartgate import topics
from smartgate.domain.commands import CommandKeys
from smartgate.schemas import BarrierAction
from smartgate_infra.cli import main as smartgate
from smartgate_infra.demo import COMMAND_KEYS_PARAMETER
from smartgate_infra.local_ca import LocalCa, write_private
from smartgate_infra.stack import StackState, load_template

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]

PROBE = json.dumps({"probe": "lane-identity"}).encode()  # not a detection: the cloud rejects it, nothing else


def provision(state_dir: Path, gate: str, lane: str, out: Path, *extra: str) -> tuple[int, str, str]:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = smartgate(["--state-dir", str(state_dir), "lane-identity", gate, lane, "--out", str(out), *extra])
    return code, stdout.getvalue(), stderr.getvalue()


@pytest.fixture(scope="module")
def lane_files(stack: StackState, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str, str], Path]:
    """The folder of a lane's files, provisioned once per lane for this module."""
    made: dict[tuple[str, str], Path] = {}

    def files(gate: str, lane: str) -> Path:
        if (gate, lane) not in made:
            out = tmp_path_factory.mktemp(f"lane-{gate}-{lane}")
            code, said, err = provision(Path(stack.state_dir), gate, lane, out)
            assert code == 0, said + err
            made[gate, lane] = out
        return made[gate, lane]

    return files


@pytest.fixture
def clients(stack: StackState) -> Iterator[dict[str, Callable[..., Mqtt5Transport]]]:
    """Connected transports to the stack's broker (``plain`` listener, ``lane`` over mutual TLS), closed after."""
    opened: list[Mqtt5Transport] = []

    def plain(client_id: str) -> Mqtt5Transport:
        transport = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, client_id, ack_timeout=WAIT).connect(WAIT)
        opened.append(transport)
        return transport

    def lane(files: Path, client_id: str, ca: Path | None = None) -> Mqtt5Transport:
        transport = Mqtt5Transport.mtls(
            stack.ports.host,
            stack.ports.mqtt_tls,
            str(files / "cert.pem"),
            str(files / "key.pem"),
            str(ca or files / "ca.pem"),
            client_id,
            ack_timeout=WAIT,
        )
        opened.append(transport)
        return transport.connect(WAIT)

    yield {"plain": plain, "lane": lane}
    for transport in opened:
        transport.close()


# ------------------------------------------------------------------ provisioning (the AWS emulator)


def test_provisioning_makes_one_thing_with_its_certificate_and_the_lane_policy(
    stack_client, state_dir: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    iot = stack_client.client("iot")
    policy = stack_client.name("LanePolicy")
    # When a lane of the sandbox gate is provisioned
    code, said, err = provision(state_dir, "sandbox", "in-25", tmp_path)
    assert code == 0, said + err
    # Then its thing is gate-qualified and carries its gate and lane
    thing = iot.describe_thing(thingName="sandbox-in-25")
    assert thing["attributes"] == {"gate": "sandbox", "lane": "in-25"}
    [first] = iot.list_thing_principals(thingName="sandbox-in-25")["principals"]
    assert (
        iot.describe_certificate(certificateId=first.rsplit("/", 1)[1])["certificateDescription"]["status"] == "ACTIVE"
    )
    assert [p["policyName"] for p in iot.list_attached_policies(target=first)["policies"]] == [policy]
    # and the files are written, the key for its owner only
    for name in ("cert.pem", "key.pem", "ca.pem"):
        assert (tmp_path / name).read_bytes().startswith(b"-----BEGIN ")
    assert stat.S_IMODE((tmp_path / "key.pem").stat().st_mode) == 0o600
    assert f"SMARTGATE_MQTT_PORT={stack_client.state.ports.mqtt_tls}" in said and "--client-id sandbox-in-25" in said

    # When it is run again for the same lane
    code, said, err = provision(state_dir, "sandbox", "in-25", tmp_path)
    assert code == 0, said + err
    # Then there is still one thing, with one (new) certificate; the earlier one is detached and inactive
    assert [t["thingName"] for t in iot.list_things()["things"]].count("sandbox-in-25") == 1
    [second] = iot.list_thing_principals(thingName="sandbox-in-25")["principals"]
    assert second != first
    assert [p["policyName"] for p in iot.list_attached_policies(target=second)["policies"]] == [policy]
    old = iot.describe_certificate(certificateId=first.rsplit("/", 1)[1])["certificateDescription"]
    assert old["status"] == "INACTIVE"
    assert f"rotated: certificate {old['certificateId']}" in said


@pytest.mark.parametrize(
    ("gate", "lane", "field"),
    [("nowhere", "in-1", "gate_id: unknown gate 'nowhere'"), ("sandbox", "in-99", "lane_id: unknown lane 'in-99'")],
)
def test_a_lane_not_in_the_registry_is_refused_naming_the_field(
    stack_client, state_dir: Path, tmp_path: Path, gate: str, lane: str, field: str
) -> None:  # type: ignore[no-untyped-def]
    code, said, err = provision(state_dir, gate, lane, tmp_path / "out")
    assert code == 2 and field in err, said + err
    assert not (tmp_path / "out").exists()
    things = [t["thingName"] for t in stack_client.client("iot").list_things()["things"]]
    assert topics.lane_thing_name(gate, lane) not in things


# ------------------------------------------------------------------ the broker's TLS listener


def test_a_lane_publishes_on_its_own_topics_and_the_cloud_side_receives(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]]
) -> None:
    inbox = Inbox()
    observer = clients["plain"]("lane-identity-observer")
    for topic in (topics.detections_topic("kimthanh2", "in-1"), topics.health_topic("kimthanh2", "in-1")):
        observer.subscribe(topic, inbox)
    lane = clients["lane"](lane_files("kimthanh2", "in-1"), "kimthanh2-in-1")
    lane.publish(topics.detections_topic("kimthanh2", "in-1"), PROBE)
    assert inbox.get() == (topics.detections_topic("kimthanh2", "in-1"), PROBE)


def test_a_truck_crosses_a_lane_that_speaks_mutual_tls_only(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]]
) -> None:
    # Given a lane connected with its own certificate, client id = its thing name
    lane = clients["lane"](lane_files("sandbox", "in-27"), topics.lane_thing_name("sandbox", "in-27"))
    keys = CommandKeys.from_text(str(load_template().parameters[COMMAND_KEYS_PARAMETER]))
    # When an unbooked truck arrives
    result = LaneSimulator(lane, "sandbox", "in-27", keys).cross("29C-727.27", "VN", timeout=30)
    # Then the cloud (the runtime, on the plain listener) decided it and its signed command reached the lane
    assert result.ok, result.error
    assert result.signature_ok and result.command is not None
    assert result.command.action == BarrierAction.HOLD


def test_lane_a_cannot_publish_for_another_lane_nor_for_the_same_lane_id_at_another_gate(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]]
) -> None:
    # Given an observer on the plain listener, on lane A's, lane B's and mongcai in-1's topics
    own = topics.detections_topic("kimthanh2", "in-1")
    forbidden = [
        topics.detections_topic("kimthanh2", "in-2"),  # lane B, same gate
        topics.detections_topic("mongcai", "in-1"),  # same lane id, another gate
        topics.health_topic("mongcai", "in-1"),
        topics.barrier_topic("kimthanh2", "in-2"),
        topics.commands_topic("kimthanh2", "in-1"),  # a lane never sends commands, not even its own
        topics.commands_topic("kimthanh2", "in-2"),
    ]
    inbox = Inbox()
    observer = clients["plain"]("lane-identity-observer-2")
    for topic in (own, *forbidden):
        observer.subscribe(topic, inbox)
    # When lane A's certificate publishes on them, even with lane B's client id
    for client_id in ("kimthanh2-in-1", "kimthanh2-in-2"):
        lane = clients["lane"](lane_files("kimthanh2", "in-1"), client_id)
        for topic in forbidden:
            # Then the broker refuses each (MQTT5 PUBACK reason code NOT_AUTHORIZED)
            with pytest.raises(TransportError, match="NOT_AUTHORIZED"):
                lane.publish(topic, PROBE)
        lane.publish(own, PROBE)  # sent after the refused ones, on the same connection
        # and nothing but the lane's own message reached the observer
        assert inbox.get() == (own, PROBE)
        assert inbox.drain() == []
        lane.close()


def test_lane_a_receives_its_own_commands_only(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]]
) -> None:
    cloud = clients["plain"]("lane-identity-cloud")
    lane = clients["lane"](lane_files("kimthanh2", "in-1"), "kimthanh2-in-1")
    inbox = Inbox()
    # Subscribing beyond the policy is let through by Mosquitto, but delivers nothing of other lanes
    for topic_filter in (
        topics.commands_topic("kimthanh2", "in-1"),
        topics.commands_topic("kimthanh2", "in-2"),
        topics.commands_topic("mongcai", "in-1"),
        "smartgate/+/lanes/+/commands",
    ):
        lane.subscribe(topic_filter, inbox)
    cloud.publish(topics.commands_topic("kimthanh2", "in-2"), b"for lane B")
    cloud.publish(topics.commands_topic("mongcai", "in-1"), b"for in-1 at mongcai")
    cloud.publish(topics.commands_topic("kimthanh2", "in-1"), b"for lane A")  # last: once it is in, so are the others
    first = inbox.get()
    received = [first, *inbox.drain()]
    assert set(received) == {(topics.commands_topic("kimthanh2", "in-1"), b"for lane A")}


def test_lane_b_is_its_own_identity(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]]
) -> None:
    lane_b = clients["lane"](lane_files("kimthanh2", "in-2"), "kimthanh2-in-2")
    lane_b.publish(topics.detections_topic("kimthanh2", "in-2"), PROBE)
    with pytest.raises(TransportError, match="NOT_AUTHORIZED"):
        lane_b.publish(topics.detections_topic("kimthanh2", "in-1"), PROBE)


def test_a_certificate_from_another_ca_cannot_connect(
    lane_files: Callable[[str, str], Path], clients: dict[str, Callable[..., Mqtt5Transport]], tmp_path: Path
) -> None:
    # a look-alike: same common name as lane A, signed by a CA the broker does not know
    stranger = LocalCa.ensure(tmp_path / "other-ca").issue("kimthanh2-in-1")
    (tmp_path / "cert.pem").write_bytes(stranger.cert_pem)
    write_private(tmp_path / "key.pem", stranger.key_pem)
    with pytest.raises(TransportError, match="cannot connect"):
        clients["lane"](tmp_path, "kimthanh2-in-1", ca=lane_files("kimthanh2", "in-1") / "ca.pem")


def test_a_client_without_a_certificate_cannot_connect(
    stack: StackState, lane_files: Callable[[str, str], Path]
) -> None:
    # plain MQTT on the TLS port
    with pytest.raises(TransportError, match="cannot connect"):
        Mqtt5Transport(stack.ports.host, stack.ports.mqtt_tls, "no-tls", ack_timeout=WAIT).connect(WAIT)
    # TLS that trusts the broker but shows no client certificate: no CONNACK, the broker hangs up
    context = ssl.create_default_context(cafile=str(lane_files("kimthanh2", "in-1") / "ca.pem"))
    connect = bytes([0x10, 13, 0, 4]) + b"MQTT" + bytes([5, 2, 0, 30, 0, 0, 0])  # MQTT5 CONNECT, empty client id
    with (
        socket.create_connection((stack.ports.host, stack.ports.mqtt_tls), timeout=WAIT) as raw,
        pytest.raises((ssl.SSLError, ConnectionError)),
        context.wrap_socket(raw, server_hostname=stack.ports.host) as tls,
    ):
        tls.sendall(connect)
        if not tls.recv(16):  # closed without a CONNACK
            raise ConnectionError("closed")
