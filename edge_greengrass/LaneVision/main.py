"""com.smartgate.LaneVision: read plates and QR passes on one lane camera; publish detections and health.

Wiring only (the loop lives in smartgate_edge.vision.component). Locally, against the broker of the
local stack, replaying a folder of frames:

    eval "$(.venv/bin/smartgate env)"   # the stack's broker and emulator ports
    SMARTGATE_GATE_ID=kimthanh2 SMARTGATE_LANE_ID=in-1 SMARTGATE_SOURCE=folder:/data/frames \\
        python edge_greengrass/LaneVision/main.py

Under Greengrass the recipe sets the SMARTGATE_* variables from its configuration and the transport
is Greengrass IPC (smartgate_edge.transport.transport_from_env). Evidence goes to
SMARTGATE_EVIDENCE_BUCKET (boto3; AWS_ENDPOINT_URL for the local emulator), else to SMARTGATE_EVIDENCE_DIR.

Uplink: under Greengrass the nucleus owns the IoT Core connection (IPC, connected at start). Over MQTT
with a durable outbox (SMARTGATE_OUTBOX_PATH) the broker is connected in the background: the lane reads
and queues at once, with its link down, and sends the queue once the broker answers. Over MQTT without
an outbox the broker must answer at start. Local bus (a copy of every detection for the barrier
controller; its degraded mode in the health messages): the nucleus's local publish/subscribe, else MQTT
on SMARTGATE_LOCAL_MQTT_PORT, else none (smartgate_edge.local_bus.local_bus_from_env).

Exit codes: 0 the source ended or the component was stopped (SIGTERM); 1 the camera died or the source
failed while running; 2 bad settings, no nucleus, a configured local bus that does not answer, no broker
at start (MQTT without an outbox), or no evidence store; 3 the plate reader cannot start (missing or
corrupt model file); 4 the source cannot be opened. Every non-zero exit once the uplink is set up (no
evidence store, 3, 4, 1) is announced by a LaneHealth event first (an uplink still connecting in the
background gets it when it connects, during the wait), and waits SMARTGATE_FAULT_EXIT_DELAY_S
(interrupted by SIGTERM) so that the nucleus's restarts do not spin.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

from smartgate_edge.lifecycle import stop_on_signals
from smartgate_edge.local_bus import ModeWatcher, local_bus_from_env
from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import (
    IPC_ENV_VARS,
    Mqtt5Transport,
    Transport,
    TransportError,
    connect_in_background,
    subscribe_until_held,
    transport_from_env,
)
from smartgate_edge.vision.cab import CabFaces
from smartgate_edge.vision.component import (
    LaneVision,
    LaneVisionConfig,
    Uplink,
    evidence_from_config,
    report_fault,
    source_from_config,
)
from smartgate_edge.vision.evidence import EvidenceError
from smartgate_edge.vision.sources import SourceError

from smartgate.config import ConfigError

EXIT_CONFIG, EXIT_MODEL, EXIT_SOURCE = 2, 3, 4


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Read plates, container codes and QR passes on one lane.")
    parser.add_argument(
        "--source", help="frame source, overrides SMARTGATE_SOURCE (folder:/x, video:/x.mp4, rtsp://..., camera:0)"
    )
    parser.add_argument("--client-id", default=None, help="MQTT client id (local MQTT only)")
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser.parse_args(argv)


def cab_faces(config: LaneVisionConfig) -> CabFaces:
    """The cab camera's face checks: YuNet + dlib (their files hash-checked), KMS to open references."""
    import boto3
    from smartgate_edge.vision.faces import FaceVerifier

    from smartgate.facekey import KmsFaceCipher

    assert config.face_key_id is not None
    kms = boto3.client("kms", region_name=config.aws_region)
    return CabFaces(
        FaceVerifier(threshold=config.face_threshold),
        KmsFaceCipher(kms, config.face_key_id),  # the lane only decrypts
        config.gate_id,
        config.lane_id,
        gap_frames=config.gap_frames,
        keep_evidence=config.face_evidence,
    )


def _hear_references(transport: Transport, config: LaneVisionConfig, vision: LaneVision, stop: threading.Event) -> None:
    """Subscribe to the lane's face references; a refused subscribe is tried again (the cloud's checks wait)."""
    if subscribe_until_held(transport, config.faces_topic, vision.refer, stop, retry_s=1.0, retry_max_s=30.0):
        logging.getLogger("smartgate_edge.vision").info("face references: subscribed to %s", config.faces_topic)


def run(
    config: LaneVisionConfig,
    uplink: Uplink,
    stop: threading.Event,
    *,
    local: Transport | None = None,
    mode: ModeWatcher | None = None,
) -> int:
    def announce(detail: str, camera_ok: bool) -> None:
        """The fault's LaneHealth now, or once the uplink connects (during the exit delay)."""

        def send(transport: Transport) -> None:
            report_fault(transport, config, detail, camera_ok=camera_ok)

        if uplink.transport is None:
            report_fault(None, config, detail, camera_ok=camera_ok)  # logged: not sent yet
        uplink.when_connected(send)

    try:
        evidence = evidence_from_config(config)
    except EvidenceError as exc:
        announce(f"evidence store: {exc}", camera_ok=True)
        return EXIT_CONFIG
    try:
        reader = None
        if config.read_plates:
            from smartgate_edge.vision.reader import build_reader  # the models load here, not at import

            reader = build_reader(threads=config.model_threads)
        faces = cab_faces(config) if config.check_faces else None
        container_reader = None
        if config.read_containers:
            from smartgate_edge.vision.container_codes import ContainerReader

            container_reader = ContainerReader(threads=config.model_threads)
    except Exception as exc:  # FileNotFoundError: model file missing; ValueError: checksum; ImportError
        announce(f"plate reader cannot start: {type(exc).__name__}: {exc}", camera_ok=True)
        return EXIT_MODEL
    try:
        source = source_from_config(config, stop)
    except SourceError as exc:
        announce(f"source: {exc}", camera_ok=False)
        return EXIT_SOURCE
    durable = None
    if config.outbox_path:  # store-and-forward: detections survive a lost uplink and a restart
        local_evidence = Path(config.evidence_dir) if not config.evidence_bucket else None
        durable = LaneOutbox(config.outbox_path, cap_bytes=int(config.disk_cap_mb * 2**20), evidence_dir=local_evidence)
    vision = LaneVision(
        config,
        reader,
        uplink.transport,
        evidence,
        container_reader,
        durable=durable,
        local=local,
        mode=mode,
        faces=faces,
    )
    uplink.when_connected(vision.attach_uplink)
    if faces is not None:
        uplink.when_connected(
            lambda transport: threading.Thread(
                target=_hear_references, args=(transport, config, vision, stop), name="face-references", daemon=True
            ).start()
        )
    if durable is not None:
        durable.on_pressure = vision.disk_pressure
        durable.start()
    try:
        return vision.run(source, stop).exit_code
    finally:
        if durable is not None:
            durable.drain(5)  # what is not sent now is sent after the restart
            durable.close()


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        config = LaneVisionConfig.from_env({**env, **({"SMARTGATE_SOURCE": args.source} if args.source else {})})
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stop = stop_on_signals("smartgate_edge.vision")
    client_id = args.client_id or f"lanevision-{config.gate_id}-{config.lane_id}-{os.getpid()}"
    try:
        local = local_bus_from_env(env, client_id)
    except TransportError as exc:
        print(f"error: local bus: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        mode = ModeWatcher(local, config.gate_id, config.lane_id) if local is not None else None
    except TransportError as exc:  # the lane still reads; its health just cannot say degraded
        logging.getLogger("smartgate_edge.vision").error("lane mode not followed: %s", exc)
        mode = None
    uplink = Uplink()
    try:
        if any(env.get(name) for name in IPC_ENV_VARS) or not config.outbox_path:
            # the nucleus owns the IoT Core link; without an outbox there is nowhere durable to queue
            try:
                uplink.attach(transport_from_env(env, client_id))
            except TransportError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_CONFIG
        else:

            def make() -> Mqtt5Transport:
                return transport_from_env(env, client_id, connect=False)  # type: ignore[return-value]

            connect_in_background(make, uplink.attach, stop)
        code = run(config, uplink, stop, local=local, mode=mode)
        if code and not stop.is_set():
            stop.wait(config.fault_exit_delay_s)
    finally:
        uplink.close()
        if local is not None:
            local.close()
    return code


if __name__ == "__main__":
    sys.exit(main())
