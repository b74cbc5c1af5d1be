"""com.smartgate.BarrierController: one lane's barrier, acting only on authentic, fresh commands for this
lane, deciding on its own (conservatively) when the cloud is silent, and reporting everything it does.

Wiring only (smartgate_edge.barrier_component). Locally, against the broker of the local stack:

    eval "$(.venv/bin/smartgate env)"
    SMARTGATE_GATE_ID=kimthanh2 SMARTGATE_LANE_ID=in-1 SMARTGATE_STAGE=local \\
        COMMAND_PUBLIC_KEYS=local-1=... PASS_PUBLIC_KEYS=local-1=... SMARTGATE_LOCAL_MQTT_PORT=$SMARTGATE_MQTT_PORT \\
        python edge_greengrass/BarrierController/main.py

The uplink (commands in, reports out) is Greengrass IPC to IoT Core under a nucleus, else MQTT5 (see
smartgate_edge.transport.transport_from_env); it is connected in the background, so the barrier works,
fails closed and decides offline while the link is down. The local bus (the lane's own detections) is
the nucleus's local publish/subscribe, else SMARTGATE_LOCAL_MQTT_PORT.

Exit codes: 0 stopped (SIGTERM/SIGINT); 2 bad settings or no local bus.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence

from smartgate_edge.barrier_component import BarrierComponent, BarrierConfig
from smartgate_edge.lifecycle import stop_on_signals
from smartgate_edge.local_bus import local_bus_from_env
from smartgate_edge.transport import (
    IPC_ENV_VARS,
    Mqtt5Transport,
    Transport,
    TransportError,
    connect_in_background,
    transport_from_env,
)

from smartgate.config import ConfigError

EXIT_CONFIG = 2


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    parser = argparse.ArgumentParser(description="Run one lane's barrier controller.")
    parser.add_argument("--client-id", default=None, help="MQTT client id (local MQTT only)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    try:
        config = BarrierConfig.from_env(env)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    client_id = args.client_id or f"barrier-{config.gate_id}-{config.lane_id}-{os.getpid()}"
    try:
        local: Transport | None = local_bus_from_env(env, client_id)
    except TransportError as exc:
        print(f"error: local bus: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    stop = stop_on_signals("smartgate_edge.barrier")
    uplinks: list[Transport] = []
    with BarrierComponent(config, local) as component:
        if any(env.get(name) for name in IPC_ENV_VARS):  # the nucleus keeps the IoT Core link itself
            uplink = transport_from_env(env, client_id)
            uplinks.append(uplink)
            component.attach_uplink(uplink)
        else:

            def make() -> Mqtt5Transport:
                return transport_from_env(env, client_id, connect=False)  # type: ignore[return-value]

            def connected(uplink: Mqtt5Transport) -> None:
                uplinks.append(uplink)
                component.attach_uplink(uplink, stop)

            connect_in_background(make, connected, stop)
        component.run(stop)
    for uplink in uplinks:
        uplink.close()
    if local is not None:
        local.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
