"""Start and stop the local servers (Mosquitto, the moto AWS emulator) as real processes on loopback."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

HOST = "127.0.0.1"


class ServiceError(RuntimeError):
    """A local server could not be started; the message says why and what to do."""


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


def free_port(host: str = HOST) -> int:
    """A port the OS says is free right now (for tests that start their own servers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


if TYPE_CHECKING:
    from smartgate_infra.ports import Ports


def free_ports(count: int, host: str = HOST) -> list[int]:
    """``count`` distinct free ports: held open together while chosen (one by one, a port freed by the
    first choice can be the second's, and two servers then race for it)."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in socks:
            sock.bind((host, 0))
        return [int(sock.getsockname()[1]) for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def stack_ports() -> Ports:
    """Free ports for a whole local stack (tests start their own)."""
    from smartgate_infra.ports import Ports  # ports builds on this module

    aws, mqtt, api, iot_data, mqtt_tls = free_ports(5)
    return Ports(aws=aws, mqtt=mqtt, api=api, iot_data=iot_data, mqtt_tls=mqtt_tls)


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, host: str = HOST) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServiceError(f"process {proc.args!r} exited with code {proc.returncode} before listening")
        if port_in_use(port, host):
            return
        time.sleep(0.05)
    raise ServiceError(f"nothing listened on {host}:{port} within {timeout:.0f} s")


def port_free(port: int, host: str = HOST) -> bool:
    """Nothing listens on host:port and a server could bind it now.

    Both checks: a connect finds a listener on 127.0.0.1, and a bind also finds one on 0.0.0.0 or a
    socket that holds the port without listening. SO_REUSEADDR, as servers set it, so that
    connections of an earlier stack still in TIME_WAIT do not count as taken.
    """
    if port_in_use(port, host):
        return False
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as err:
            if err.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def taken_port_message(port: int, what: str, env_var: str, host: str = HOST) -> str:
    return (
        f"port {host}:{port} for {what} is already taken; stop what uses it (`smartgate down` if it "
        f"is an earlier stack), or choose another port with {env_var}=<port>, or leave {env_var} "
        f"unset and the stack picks a free port itself"
    )


def require_free(port: int, what: str, env_var: str) -> None:
    if not port_free(port):
        raise ServiceError(taken_port_message(port, what, env_var))


@dataclass
class Service:
    """A server process we started: its name, port, and how to find it again by pid."""

    name: str
    port: int
    proc: subprocess.Popen

    def stop(self, timeout: float = 5.0) -> None:
        stop_pid(self.proc.pid, timeout)
        with contextlib.suppress(subprocess.TimeoutExpired):  # stop_pid already killed it
            self.proc.wait(timeout=timeout)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover
        return True
    try:  # a zombie child counts as gone
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM the process group led by pid (or the pid alone), then SIGKILL after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            try:
                os.killpg(pid, sig)
            except (ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.05)


def _spawn(args: list[str], log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "ab")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            env=env,
        )
    finally:
        log.close()


def mosquitto_binary() -> str:
    found = shutil.which("mosquitto") or next(
        (p for p in ("/usr/sbin/mosquitto", "/usr/bin/mosquitto") if Path(p).exists()), None
    )
    if not found:
        raise ServiceError(
            "the MQTT broker Mosquitto is not installed; `make demo` / `make test` install it "
            "(or run: apt-get install -y mosquitto)"
        )
    return found


@dataclass(frozen=True)
class BrokerTls:
    """A second Mosquitto listener for lanes: mutual TLS (a client certificate from ``ca_file`` is
    required; its common name becomes the username and the client id) and ``acl_file`` for what each
    username may publish and receive. Made by smartgate_infra.lane_identity.broker_tls."""

    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    acl_file: Path


def start_mosquitto(port: int, workdir: Path, tls: BrokerTls | None = None) -> Service:
    """Mosquitto with MQTT 3.1.1 and 5 on plain TCP, loopback only, anonymous (local development).

    The plain listener stands for IoT Core's service side (the runtime's topic rules and function
    publishes, tests, tools): anyone may do anything there. With ``tls`` the same broker also listens on
    ``tls.port`` for lanes, each with its own certificate and only its own topics
    (``per_listener_settings``: the plain listener is unchanged).
    """
    require_free(port, "the MQTT broker", "SMARTGATE_MQTT_PORT")
    if tls is not None:
        require_free(tls.port, "the MQTT broker's TLS listener", "SMARTGATE_MQTT_TLS_PORT")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    general = [
        "persistence false",
        "log_dest stdout",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "max_queued_messages 10000",
        "set_tcp_nodelay true",
    ]
    if tls is None:
        lines = [f"listener {port} {HOST}", "allow_anonymous true", *general]
    else:
        # Started as root, Mosquitto would switch to the `mosquitto` user, which cannot read the state
        # folder's private key (0600): it runs as the folder's owner instead.
        run_as = [f"user {_owner(workdir)}"] if os.geteuid() == 0 else []
        lines = [
            "per_listener_settings true",
            *general,
            *run_as,
            f"listener {port} {HOST}",
            "allow_anonymous true",
            f"listener {tls.port} {HOST}",
            "allow_anonymous false",
            f"cafile {tls.ca_file}",
            f"certfile {tls.cert_file}",
            f"keyfile {tls.key_file}",
            "require_certificate true",
            "use_identity_as_username true",  # the certificate's common name (the thing name)
            "use_username_as_clientid true",  # ... is the client id, whatever the client sent (iot:Connect)
            f"acl_file {tls.acl_file}",
        ]
    conf.write_text("\n".join(lines) + "\n")
    proc = _spawn([mosquitto_binary(), "-c", str(conf)], workdir / "mosquitto.log")
    wait_for_port(port, 10, proc)
    if tls is not None:
        wait_for_port(tls.port, 10, proc)
    return Service("mqtt", port, proc)


def _owner(path: Path) -> str:
    import pwd

    uid = path.stat().st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # pragma: no cover - a uid without a name
        return str(uid)


def start_moto(port: int, workdir: Path) -> Service:
    """The moto AWS API emulator in server mode (with atomic DynamoDB transactions, see
    smartgate_infra.emulator); boto3 reaches it through AWS_ENDPOINT_URL."""
    require_free(port, "the AWS emulator", "SMARTGATE_AWS_PORT")
    proc = _spawn([sys.executable, "-m", "smartgate_infra.emulator", "-H", HOST, "-p", str(port)], workdir / "moto.log")
    wait_for_port(port, 30, proc)
    return Service("aws", port, proc)
