"""The edge transport and the lane simulator against a real Mosquitto (MQTT5, awscrt client).

A module fixture starts Mosquitto on a free loopback port and stops it at the end. A test "cloud"
(another Mqtt5Transport) answers the simulator's PlateRead with a BarrierCommand on the commands
topic, signed with the right key, a wrong key, or not at all. Each test uses its own lane so that
messages of one test cannot reach another.
"""

from __future__ import annotations

import getpass
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mqtt_helpers import WAIT, Inbox
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport, TransportError, transport_from_env

from smartgate import topics
from smartgate.domain.commands import CommandSigner
from smartgate.schemas import DETECTION_ADAPTER, BarrierAction, BarrierCommand, Country, PlateRead
from smartgate_infra.services import (
    HOST,
    Service,
    free_port,
    mosquitto_binary,
    start_mosquitto,
    wait_for_port,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]

GATE = "kimthanh2"
SIGNER = CommandSigner.from_seed("it-1", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
KEY = SIGNER.keys()  # the lane's: public keys only


class FakeCloud:
    """Answers every PlateRead with an OPEN command for its lane, signed with ``key`` (None: silent)."""

    def __init__(self, transport: Mqtt5Transport, key: CommandSigner | None) -> None:
        self.transport = transport
        self.key = key
        self.received: list[object] = []
        transport.subscribe(topics.all_lanes_filter("detections"), self._on_detection)

    def _on_detection(self, topic: str, payload: bytes) -> None:
        detection = DETECTION_ADAPTER.validate_json(payload)
        self.received.append(detection)
        if self.key is None or not isinstance(detection, PlateRead):
            return
        now = datetime.now(UTC)
        command = BarrierCommand(
            command_id=f"cmd-{detection.event_id}",
            gate_id=detection.gate_id,
            lane_id=detection.lane_id,
            action=BarrierAction.OPEN,
            passage_id=f"psg-{detection.event_id}",
            reason="GREEN: booked slot, documents complete",
            issued_at=now,
            expires_at=now + timedelta(minutes=1),
        )
        # publishing from inside a callback: the transport's dispatcher thread makes this safe
        self.transport.publish(topics.commands_topic(detection.gate_id, detection.lane_id), self.key.sign(command))


# --------------------------------------------------------------------------- transport


def test_schema_model_round_trip(connect: Callable[[str], Mqtt5Transport]) -> None:
    subscriber, publisher = connect("rt-sub"), connect("rt-pub")
    topic = topics.detections_topic(GATE, "rt-1")
    inbox = Inbox()
    subscriber.subscribe(topic, inbox)
    sent = PlateRead(
        event_id="rt-1-e1",
        gate_id=GATE,
        lane_id="rt-1",
        plate_text="29C-123.45",
        country=Country.VN,
        format_valid=True,
        confidence=0.97,
        char_confidences=[0.97] * 8,
        captured_at=datetime.now(UTC),
    )

    publisher.publish(topic, sent)

    got_topic, payload = inbox.get()
    assert got_topic == topic
    assert PlateRead.model_validate_json(payload) == sent


def test_wildcard_subscriptions_dispatch_by_filter(connect: Callable[[str], Mqtt5Transport]) -> None:
    subscriber, publisher = connect("wc-sub"), connect("wc-pub")
    all_detections, whole_gate, one_health = Inbox(), Inbox(), Inbox()
    subscriber.subscribe(topics.all_lanes_filter("detections"), all_detections)
    subscriber.subscribe("smartgate/wcgate/#", whole_gate)  # overlaps the first on wcgate detections
    subscriber.subscribe(topics.health_topic("wcgate", "in-2"), one_health)

    publisher.publish(topics.detections_topic("wcgate", "in-1"), b"d1")
    publisher.publish(topics.health_topic("wcgate", "in-2"), b"h2")
    publisher.publish(topics.health_topic("wcgate", "in-3"), b"h3")
    publisher.publish(topics.detections_topic("othergate", "in-1"), b"d-other")

    assert sorted(p for _, p in all_detections.drain()) == [b"d-other", b"d1"]
    # each callback once per message, although the broker sends one copy per matching subscription
    assert sorted(p for _, p in whole_gate.drain(0)) == [b"d1", b"h2", b"h3"]
    assert one_health.drain(0) == [(topics.health_topic("wcgate", "in-2"), b"h2")]


def test_callback_error_does_not_stop_dispatch(connect: Callable[[str], Mqtt5Transport]) -> None:
    subscriber, publisher = connect("err-sub"), connect("err-pub")
    topic = topics.health_topic(GATE, "err-1")
    inbox = Inbox()

    def broken(topic: str, payload: bytes) -> None:
        raise RuntimeError("boom")

    subscriber.subscribe(topic, broken)
    subscriber.subscribe(topic, inbox)
    publisher.publish(topic, b"one")
    publisher.publish(topic, b"two")
    assert [inbox.get()[1], inbox.get()[1]] == [b"one", b"two"]


def test_connect_to_nothing_fails_fast_and_clearly() -> None:
    port = free_port()
    started = time.monotonic()
    expected = rf"cannot connect to MQTT broker 127\.0\.0\.1:{port}: .*refused"
    with pytest.raises(TransportError, match=expected):
        Mqtt5Transport(HOST, port, "nobody").connect(WAIT)
    assert time.monotonic() - started < 2


def test_bad_topics_and_unconnected_use_raise_transport_error(
    connect: Callable[[str], Mqtt5Transport], broker: Service
) -> None:
    with pytest.raises(TransportError, match="not connected"):
        Mqtt5Transport(HOST, broker.port, "never-connected").publish("a/b", b"x")
    transport = connect("bad-topics")
    with pytest.raises(TransportError, match="publish to a/\\+/b"):
        transport.publish("a/+/b", b"x")
    with pytest.raises(TransportError, match="subscribe to a/#/b"):
        transport.subscribe("a/#/b", lambda topic, payload: None)
    transport.publish("a/b", b"still usable")


def test_transport_from_env_builds_mqtt5(broker: Service) -> None:
    env = {"SMARTGATE_MQTT_HOST": HOST, "SMARTGATE_MQTT_PORT": str(broker.port)}
    with transport_from_env(env, "from-env") as transport:
        assert isinstance(transport, Mqtt5Transport) and transport.connected
        inbox = Inbox()
        transport.subscribe("env/echo", inbox)
        transport.publish("env/echo", b"hello")
        assert inbox.get() == ("env/echo", b"hello")
    with pytest.raises(TransportError, match="SMARTGATE_MQTT_KEY"):
        transport_from_env({**env, "SMARTGATE_MQTT_CERT": "/nowhere/cert.pem"}, "half-tls")


def test_subscriptions_come_back_after_the_broker_restarts(tmp_path: Path) -> None:
    # Given a lane subscribed through a broker that then goes away and comes back on the same port
    service = start_mosquitto(free_port(), tmp_path / "first")
    try:
        lane = Mqtt5Transport(HOST, service.port, "lane-restart", ack_timeout=WAIT).connect(WAIT)
        inbox = Inbox()
        lane.subscribe(topics.commands_topic(GATE, "rs-1"), inbox)
        service.stop()
        service = start_mosquitto(service.port, tmp_path / "second")  # a new broker: no session kept

        # When the lane has reconnected by itself and the cloud sends a command
        deadline = time.monotonic() + 10
        while not lane.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lane.connected
        with Mqtt5Transport(HOST, service.port, "cloud-restart").connect(WAIT) as cloud:
            deadline = time.monotonic() + WAIT
            while inbox.items.empty() and time.monotonic() < deadline:  # resubscribe is asynchronous
                cloud.publish(topics.commands_topic(GATE, "rs-1"), b"after restart")
                time.sleep(0.1)

        # Then the lane's subscription was sent again and the command arrives
        assert inbox.get() == (topics.commands_topic(GATE, "rs-1"), b"after restart")
        lane.close()
    finally:
        service.stop()


# --------------------------------------------------------------------------- simulator against a cloud


def test_cross_gets_a_signed_command(connect: Callable[[str], Mqtt5Transport]) -> None:
    cloud = FakeCloud(connect("cloud-signed"), SIGNER)
    sim = LaneSimulator(connect("lane-signed"), GATE, "sig-1", KEY)

    result = sim.cross("29C-123.45", "VN", "CSQU3054383", timeout=WAIT)

    assert result.ok, result.error
    assert result.signature_ok is True
    assert result.command is not None and result.command.action == BarrierAction.OPEN
    assert result.command.passage_id == f"psg-{result.event_id}"
    assert 0 <= result.latency_ms < WAIT * 1000
    # the cloud got both reads, valid against the contracts
    deadline = time.monotonic() + WAIT
    while len(cloud.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(type(d).__name__ for d in cloud.received) == ["ContainerRead", "PlateRead"]

    # a second truck on the same lane gets its own command, not the first one's
    again = sim.cross("29C-678.90", "VN", timeout=WAIT)
    assert again.ok and again.command is not None and again.command.passage_id == f"psg-{again.event_id}"


def test_wrongly_signed_command_is_flagged(connect: Callable[[str], Mqtt5Transport]) -> None:
    FakeCloud(connect("cloud-forged"), CommandSigner("it-1", Ed25519PrivateKey.generate()))
    sim = LaneSimulator(connect("lane-forged"), GATE, "sig-2", KEY)

    result = sim.cross("云A·12345", "CN", timeout=WAIT)

    assert result.command is not None
    assert result.signature_ok is False
    assert not result.ok and "invalid signature" in (result.error or "")


def test_no_command_times_out_with_an_error(connect: Callable[[str], Mqtt5Transport]) -> None:
    FakeCloud(connect("cloud-silent"), None)
    sim = LaneSimulator(connect("lane-silent"), GATE, "sig-3", KEY)

    result = sim.cross("29C-123.45", "VN", timeout=0.5)

    assert result.command is None and result.signature_ok is None
    assert result.error == "no barrier command within 0.5s"


def test_garbage_on_the_commands_topic_is_counted_and_survived(
    connect: Callable[[str], Mqtt5Transport],
) -> None:
    FakeCloud(connect("cloud-garbage"), SIGNER)
    sim = LaneSimulator(connect("lane-garbage"), GATE, "sig-4", KEY)
    sim.start()

    sim.publish_raw(b"{this is not json", topic=sim.commands_topic)
    sim.publish_raw(b'{"schema": "BarrierCommand.v1", "action": "open"}', topic=sim.commands_topic)
    deadline = time.monotonic() + WAIT
    while sim.invalid_commands < 2 and time.monotonic() < deadline:
        time.sleep(0.02)

    assert sim.invalid_commands == 2
    assert sim.cross("29C-123.45", "VN", timeout=WAIT).ok


# --------------------------------------------------------------------------- mutual TLS


def _write_pki(directory: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1/localhost and a client certificate (EC P-256)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(UTC)

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    Issuer = tuple[x509.Name, ec.EllipticCurvePrivateKey]

    def issue(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: Issuer, extensions: list[tuple[x509.ExtensionType, bool]]
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(name(subject))
            .issuer_name(issuer[0])
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=1))
        )
        for extension, critical in extensions:
            builder = builder.add_extension(extension, critical)
        return builder.sign(issuer[1], hashes.SHA256())

    ca_key, server_key, client_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = issue(
        "smartgate-test-ca",
        ca_key,
        (name("smartgate-test-ca"), ca_key),
        [(x509.BasicConstraints(ca=True, path_length=None), True)],
    )
    server = issue(
        "localhost",
        server_key,
        (ca.subject, ca_key),
        [
            (
                x509.SubjectAlternativeName(
                    [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                False,
            ),
            (x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False),
        ],
    )
    client = issue(
        "lane-kimthanh2-in-1",
        client_key,
        (ca.subject, ca_key),
        [(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)],
    )
    paths = {}
    triples = (("ca", ca, ca_key), ("server", server, server_key), ("client", client, client_key))
    for label, cert, key in triples:
        paths[f"{label}_cert"] = directory / f"{label}.crt"
        paths[f"{label}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        paths[f"{label}_key"] = directory / f"{label}.key"
        paths[f"{label}_key"].write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return paths


@pytest.fixture(scope="module")
def tls_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Service, dict[str, Path]]]:
    workdir = tmp_path_factory.mktemp("mosquitto-tls")
    pki = _write_pki(workdir)
    port = free_port()
    conf = workdir / "mosquitto.conf"
    # Started as root, Mosquitto would switch to the user "mosquitto", who cannot read pytest's private
    # temp dirs; "user <whoever runs the tests>" keeps it as the invoking user (no effect when not root).
    conf.write_text(
        f"user {getpass.getuser()}\n"
        f"listener {port} {HOST}\n"
        f"cafile {pki['ca_cert']}\ncertfile {pki['server_cert']}\nkeyfile {pki['server_key']}\n"
        "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
        "persistence false\nlog_dest stdout\n"
    )
    with open(workdir / "mosquitto.log", "ab") as log:
        proc = subprocess.Popen(
            [mosquitto_binary(), "-c", str(conf)],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    service = Service("mqtt-tls", port, proc)
    try:
        wait_for_port(port, 10, proc)
        yield service, pki
    finally:
        service.stop()


def test_mutual_tls_round_trip(tls_broker: tuple[Service, dict[str, Path]]) -> None:
    service, pki = tls_broker
    transport = Mqtt5Transport.mtls(
        HOST, service.port, str(pki["client_cert"]), str(pki["client_key"]), str(pki["ca_cert"]), "lane-mtls"
    )
    with transport:
        inbox = Inbox()
        topic = topics.commands_topic(GATE, "tls-1")
        transport.subscribe(topic, inbox)
        transport.publish(topic, b"over mTLS")
        assert inbox.get() == (topic, b"over mTLS")


def test_mutual_tls_with_an_untrusted_client_is_refused(
    tls_broker: tuple[Service, dict[str, Path]], tmp_path: Path
) -> None:
    service, pki = tls_broker
    stranger = _write_pki(tmp_path)  # a client certificate from another CA
    transport = Mqtt5Transport.mtls(
        HOST,
        service.port,
        str(stranger["client_cert"]),
        str(stranger["client_key"]),
        str(pki["ca_cert"]),
        "lane-stranger",
    )
    with pytest.raises(TransportError, match=f"cannot connect to MQTT broker 127.0.0.1:{service.port}"):
        transport.connect(WAIT)


def test_mutual_tls_with_an_untrusted_server_times_out_with_a_hint(
    tls_broker: tuple[Service, dict[str, Path]],
    tmp_path: Path,
) -> None:
    # s2n (awscrt's TLS) delays reporting a rejected server certificate by 10-30 s ("blinding"),
    # so the lane sees no CONNACK within its timeout rather than a quick error
    service, pki = tls_broker
    other_ca = _write_pki(tmp_path)["ca_cert"]
    transport = Mqtt5Transport.mtls(
        HOST, service.port, str(pki["client_cert"]), str(pki["client_key"]), str(other_ca), "lane-wrong-ca"
    )
    started = time.monotonic()
    with pytest.raises(TransportError, match=r"no CONNACK within 1s; with TLS .*untrusted server cert"):
        transport.connect(1.0)
    assert time.monotonic() - started < 8


def test_no_thread_left_behind(connect: Callable[[str], Mqtt5Transport]) -> None:
    before = {t.name for t in threading.enumerate()}
    with Mqtt5Transport(HOST, connect("probe").port, "short-lived") as transport:
        transport.publish("probe/topic", b"x")
    leftover = {t.name for t in threading.enumerate()} - before
    assert not any(name.startswith("mqtt-dispatch-short-lived") for name in leftover)
