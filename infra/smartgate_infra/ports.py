"""Which ports the local stack listens on: defaults, what the user set, and what is free right now.

A port the user set (``SMARTGATE_*_PORT``) is used as it is, and a taken one is an error naming the
variable. A default that is taken (a system Mosquitto on 1883, a web dev server on 3000) is replaced
by a free port, and the stack says which; everything that talks to the stack reads the ports it
recorded in ``.smartgate/stack.json``, never these defaults. Standard library only: `smartgate doctor`
runs before anything is installed.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass

from smartgate_infra.services import HOST, ServiceError, port_free, taken_port_message


@dataclass
class Ports:
    aws: int = 5566
    mqtt: int = 1883
    api: int = 3000
    iot_data: int = 3001
    mqtt_tls: int = 8883
    host: str = HOST


@dataclass(frozen=True)
class PortSetting:
    name: str  # the Ports field
    variable: str  # the environment variable that sets it
    what: str  # what listens there, for messages


PORT_SETTINGS = (
    PortSetting("aws", "SMARTGATE_AWS_PORT", "the AWS emulator"),
    PortSetting("mqtt", "SMARTGATE_MQTT_PORT", "the MQTT broker"),
    PortSetting("api", "SMARTGATE_API_PORT", "the REST API"),
    PortSetting("iot_data", "SMARTGATE_IOT_DATA_PORT", "the IoT data endpoint"),
    PortSetting("mqtt_tls", "SMARTGATE_MQTT_TLS_PORT", "the MQTT broker's TLS listener (lanes)"),
)
DEFAULTS = Ports()
NEARBY = 20
"""How many ports above a taken default are tried before asking the OS for any free one."""


def explicit_port(env: Mapping[str, str], setting: PortSetting) -> int | None:
    """The port the user set for this service, or None; a value that is not a port is an error."""
    raw = env.get(setting.variable, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        raise ServiceError(f"{setting.variable}={raw!r} is not a TCP port number (1-65535)")
    return int(raw)


def taken_message(port: int, setting: PortSetting, host: str = HOST) -> str:
    return taken_port_message(port, setting.what, setting.variable, host)


def _os_free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def resolve_ports(env: Mapping[str, str] | None = None, host: str = HOST) -> tuple[Ports, list[str]]:
    """The ports for a stack starting now, and a sentence for each default that had to move.

    Raises ServiceError for a set port that is taken or malformed, naming the variable.
    """
    env = os.environ if env is None else env
    chosen: dict[str, int] = {}
    notes: list[str] = []
    wanted = {s.name: explicit_port(env, s) for s in PORT_SETTINGS}
    for setting in PORT_SETTINGS:
        port = wanted[setting.name]
        if port is not None:
            if port in chosen.values():
                raise ServiceError(f"{setting.variable}={port}: that port is already set for another service")
            if not port_free(port, host):
                raise ServiceError(taken_message(port, setting, host))
            chosen[setting.name] = port
    # Ports that are spoken for: what the user set, and every service's default (so that moving one
    # default never lands on another service's default).
    reserved = set(chosen.values()) | {getattr(DEFAULTS, s.name) for s in PORT_SETTINGS}
    for setting in PORT_SETTINGS:
        if setting.name in chosen:
            continue
        default = getattr(DEFAULTS, setting.name)
        if port_free(default, host) and default not in chosen.values():
            chosen[setting.name] = default
            continue
        candidates = [p for p in range(default + 1, default + 1 + NEARBY) if p < 65536 and p not in reserved]
        port = next((p for p in candidates if port_free(p, host)), None)
        while port is None or port in reserved:
            port = _os_free_port(host)
        chosen[setting.name] = port
        reserved.add(port)
        notes.append(
            f"port {default} ({setting.what}) is taken on this machine; using {port} instead "
            f"(set {setting.variable} to choose one)"
        )
    return Ports(host=host, **chosen), notes


def ports_as_env(ports: Ports) -> dict[str, str]:
    """The variables that point a shell, the edge components and the tools at a running stack."""
    return {
        "SMARTGATE_MQTT_HOST": ports.host,
        "SMARTGATE_MQTT_PORT": str(ports.mqtt),
        "SMARTGATE_MQTT_TLS_PORT": str(ports.mqtt_tls),
        "SMARTGATE_API_URL": f"http://{ports.host}:{ports.api}",
        "AWS_ENDPOINT_URL": f"http://{ports.host}:{ports.aws}",
    }
