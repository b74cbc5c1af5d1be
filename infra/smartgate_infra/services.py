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


def start_mosquitto(port: int, workdir: Path) -> Service:
    """Mosquitto with MQTT 3.1.1 and 5 on plain TCP, loopback only, anonymous (local development)."""
    require_free(port, "the MQTT broker", "SMARTGATE_MQTT_PORT")
    workdir.mkdir(parents=True, exist_ok=True)
    conf = workdir / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {HOST}\n"
        "allow_anonymous true\n"
        "persistence false\n"
        "log_dest stdout\n"
        "log_type error\nlog_type warning\nlog_type notice\n"
        "max_queued_messages 10000\n"
        "set_tcp_nodelay true\n"
    )
    proc = _spawn([mosquitto_binary(), "-c", str(conf)], workdir / "mosquitto.log")
    wait_for_port(port, 10, proc)
    return Service("mqtt", port, proc)


def start_moto(port: int, workdir: Path) -> Service:
    """The moto AWS API emulator in server mode (with atomic DynamoDB transactions, see
    smartgate_infra.emulator); boto3 reaches it through AWS_ENDPOINT_URL."""
    require_free(port, "the AWS emulator", "SMARTGATE_AWS_PORT")
    proc = _spawn([sys.executable, "-m", "smartgate_infra.emulator", "-H", HOST, "-p", str(port)], workdir / "moto.log")
    wait_for_port(port, 30, proc)
    return Service("aws", port, proc)
