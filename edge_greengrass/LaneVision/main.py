"""com.smartgate.LaneVision: read plates and QR passes on one lane camera; publish detections and health.

Wiring only (the loop lives in smartgate_edge.vision.component). Locally, against the broker of the
local stack, replaying a folder of frames:

    eval "$(.venv/bin/smartgate env)"   # the stack's broker and emulator ports
    SMARTGATE_GATE_ID=kimthanh2 SMARTGATE_LANE_ID=in-1 SMARTGATE_SOURCE=folder:/data/frames \\
        python edge_greengrass/LaneVision/main.py

Under Greengrass the recipe sets the SMARTGATE_* variables from its configuration and the transport
is Greengrass IPC (smartgate_edge.transport.transport_from_env). Evidence goes to
SMARTGATE_EVIDENCE_BUCKET (boto3; AWS_ENDPOINT_URL for the local emulator), else to SMARTGATE_EVIDENCE_DIR.

Exit codes: 0 the source ended or the component was stopped (SIGTERM); 1 the camera died or the source
failed while running; 2 bad settings, no broker / nucleus, or no evidence store; 3 the plate reader cannot
start (missing or corrupt model file); 4 the source cannot be opened. Every non-zero exit after the
settings were read is announced by a LaneHealth event first, and waits SMARTGATE_FAULT_EXIT_DELAY_S
(interrupted by SIGTERM) so that the nucleus's restarts do not spin.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import Transport, TransportError, transport_from_env
from smartgate_edge.vision.component import (
    LaneVision,
    LaneVisionConfig,
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


def run(config: LaneVisionConfig, transport: Transport, stop: threading.Event) -> int:
    try:
        evidence = evidence_from_config(config)
    except EvidenceError as exc:
        report_fault(transport, config, f"evidence store: {exc}", camera_ok=True)
        return EXIT_CONFIG
    try:
        from smartgate_edge.vision.reader import build_reader  # the models load here, not at import

        reader = build_reader(threads=config.model_threads)
        container_reader = None
        if config.read_containers:
            from smartgate_edge.vision.container_codes import ContainerReader

            container_reader = ContainerReader(threads=config.model_threads)
    except Exception as exc:  # FileNotFoundError: model file missing; ValueError: checksum; ImportError
        report_fault(transport, config, f"plate reader cannot start: {type(exc).__name__}: {exc}", camera_ok=True)
        return EXIT_MODEL
    try:
        source = source_from_config(config, stop)
    except SourceError as exc:
        report_fault(transport, config, f"source: {exc}", camera_ok=False)
        return EXIT_SOURCE
    durable = None
    if config.outbox_path:  # store-and-forward: detections survive a lost uplink and a restart
        local_evidence = Path(config.evidence_dir) if not config.evidence_bucket else None
        durable = LaneOutbox(
            config.outbox_path, transport, cap_bytes=int(config.disk_cap_mb * 2**20), evidence_dir=local_evidence
        )
    vision = LaneVision(config, reader, transport, evidence, container_reader, durable=durable)
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
    stop = threading.Event()

    def on_signal(signum: int, _frame: Any) -> None:
        logging.getLogger("smartgate_edge.vision").info("signal %s: stopping", signal.Signals(signum).name)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
    client_id = args.client_id or f"lanevision-{config.gate_id}-{config.lane_id}-{os.getpid()}"
    try:
        transport = transport_from_env(env, client_id)
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    with transport:
        code = run(config, transport, stop)
    if code and not stop.is_set():
        stop.wait(config.fault_exit_delay_s)
    return code


if __name__ == "__main__":
    sys.exit(main())
