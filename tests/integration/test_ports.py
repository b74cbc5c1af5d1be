"""A first run on a machine whose default ports are taken (a system Mosquitto on 1883, a dev server on
3000): the stack moves to free ports, says so, and every consumer finds it through its recorded state."""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartgate.domain.commands import CommandKeys
from smartgate.schemas import BarrierAction
from smartgate_infra.demo import COMMAND_KEYS_PARAMETER, Lanes
from smartgate_infra.ports import DEFAULTS, PORT_SETTINGS, resolve_ports
from smartgate_infra.services import ServiceError, free_port, pid_alive, port_free
from smartgate_infra.stack import StackState, down, load_template, status, up

pytestmark = pytest.mark.integration

DEFAULT_PORTS = [getattr(DEFAULTS, s.name) for s in PORT_SETTINGS]
NO_PORT_VARS = {s.variable: "" for s in PORT_SETTINGS}


@contextlib.contextmanager
def held(*ports: int, host: str = "127.0.0.1") -> Iterator[None]:
    """Listeners on these ports for the duration. A port something else already holds stays taken too."""
    sockets = []
    try:
        for port in ports:
            sock = socket.socket()
            try:
                sock.bind((host, port))
            except OSError as err:
                sock.close()
                if err.errno != errno.EADDRINUSE:
                    raise
                continue
            sock.listen()
            sockets.append(sock)
        yield
    finally:
        for sock in sockets:
            sock.close()


def test_free_defaults_are_used_as_they_are() -> None:
    ports, notes = resolve_ports(NO_PORT_VARS)
    for setting in PORT_SETTINGS:
        default = getattr(DEFAULTS, setting.name)
        if port_free(default):
            assert getattr(ports, setting.name) == default
    assert len(notes) == sum(not port_free(p) for p in DEFAULT_PORTS)


def test_a_taken_default_moves_to_a_free_port_and_says_so() -> None:
    with held(*DEFAULT_PORTS):
        ports, notes = resolve_ports(NO_PORT_VARS)
        chosen = [getattr(ports, s.name) for s in PORT_SETTINGS]
        assert not set(chosen) & set(DEFAULT_PORTS), "never another service's default"
        assert len(set(chosen)) == len(PORT_SETTINGS) and all(port_free(p) for p in chosen)
    assert len(notes) == len(PORT_SETTINGS)
    assert any("1883" in n and f"using {ports.mqtt}" in n and "SMARTGATE_MQTT_PORT" in n for n in notes)


def test_a_listener_on_all_interfaces_counts_as_taken() -> None:
    port = free_port()
    with held(port, host="0.0.0.0"):
        assert not port_free(port)
        with pytest.raises(ServiceError, match=rf"{port}.*SMARTGATE_API_PORT"):
            resolve_ports({**NO_PORT_VARS, "SMARTGATE_API_PORT": str(port)})


def test_an_explicit_port_wins_and_a_taken_one_is_an_error_naming_the_variable() -> None:
    mine = free_port()
    ports, _ = resolve_ports({**NO_PORT_VARS, "SMARTGATE_MQTT_PORT": str(mine)})
    assert ports.mqtt == mine
    with held(mine), pytest.raises(ServiceError) as err:
        resolve_ports({**NO_PORT_VARS, "SMARTGATE_MQTT_PORT": str(mine)})
    assert f"127.0.0.1:{mine}" in str(err.value) and "SMARTGATE_MQTT_PORT" in str(err.value)


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_a_malformed_port_is_an_error_naming_the_variable(value: str) -> None:
    with pytest.raises(ServiceError, match=r"SMARTGATE_AWS_PORT=.*not a TCP port"):
        resolve_ports({**NO_PORT_VARS, "SMARTGATE_AWS_PORT": value})


def test_two_services_cannot_be_set_to_one_port() -> None:
    port = str(free_port())
    with pytest.raises(ServiceError, match="SMARTGATE_API_PORT.*already set"):
        resolve_ports({**NO_PORT_VARS, "SMARTGATE_MQTT_PORT": port, "SMARTGATE_API_PORT": port})


def test_the_cli_refuses_a_taken_explicit_port(tmp_path: Path) -> None:
    port = free_port()
    with held(port):
        result = subprocess.run(
            [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(tmp_path), "up"],
            capture_output=True,
            text=True,
            timeout=120,
            env=_env({"SMARTGATE_MQTT_PORT": str(port)}),
        )
    assert result.returncode == 2
    assert f"127.0.0.1:{port} for the MQTT broker is already taken" in result.stderr
    assert "SMARTGATE_MQTT_PORT" in result.stderr
    assert status(tmp_path) == {"running": False}


def _env(extra: dict[str, str]) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("SMARTGATE_")}, **extra}


def test_with_every_default_taken_a_truck_still_crosses_and_down_leaves_nothing_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for setting in PORT_SETTINGS:
        monkeypatch.delenv(setting.variable, raising=False)
    said: list[str] = []
    with held(*DEFAULT_PORTS):
        state = up(tmp_path, say=said.append)
        try:
            # Given a stack on other ports than the defaults, which it named when it started
            assert {getattr(state.ports, s.name) for s in PORT_SETTINGS}.isdisjoint(DEFAULT_PORTS)
            assert any(f"using {state.ports.mqtt} instead" in line for line in said)
            recorded = StackState.load(tmp_path)
            assert recorded is not None and recorded.ports == state.ports
            # When a lane that found the broker through the recorded state sends an unbooked truck
            key = CommandKeys.from_text(str(load_template().parameters[COMMAND_KEYS_PARAMETER]))
            lanes = Lanes(recorded, key)
            try:
                result = lanes.lane("sandbox", "open-20").cross("29C-424.24", "VN", timeout=30)
            finally:
                lanes.close()
            # Then the cloud decided it and the signed barrier command came back
            assert result.ok, result.error
            assert result.signature_ok and result.command is not None
            assert result.command.action == BarrierAction.HOLD
            # And `smartgate env` / `status` point at the same ports
            cli = [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(tmp_path)]
            exports = subprocess.run([*cli, "env"], capture_output=True, text=True, timeout=60, env=_env({}))
            assert exports.returncode == 0, exports.stderr
            assert f"export SMARTGATE_MQTT_PORT={state.ports.mqtt}" in exports.stdout
            assert f"export SMARTGATE_API_URL=http://127.0.0.1:{state.ports.api}" in exports.stdout
            assert f"export AWS_ENDPOINT_URL=http://127.0.0.1:{state.ports.aws}" in exports.stdout
            assert status(tmp_path)["ports"]["api"] == state.ports.api
            assert status(tmp_path)["running"] is True
            workers = subprocess.run(
                ["pgrep", "-P", str(state.pids["runtime"]), "-f", "smartgate_infra.worker"],
                capture_output=True,
                text=True,
            ).stdout
            assert workers.strip(), "the runtime's function workers should be warm while the stack runs"
        finally:
            down(tmp_path, quiet=True)
    # And `down` leaves nothing of it running
    assert not any(pid_alive(pid) for pid in state.pids.values())
    assert not any(pid_alive(int(pid)) for pid in workers.split())
    assert status(tmp_path) == {"running": False}
