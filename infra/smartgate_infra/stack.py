"""`smartgate up` / `down` / `status`: the whole local stack as real processes on 127.0.0.1.

up starts the moto AWS emulator, Mosquitto and the local runtime (which creates every resource
of template.yaml in the emulator and serves the functions), records their pids and ports in
``.smartgate/stack.json``, and returns once everything answers. down stops all of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from smartgate_infra.lane_identity import broker_tls
from smartgate_infra.ports import PORT_SETTINGS, Ports, port_free, resolve_ports, taken_message
from smartgate_infra.runtime import LocalRuntime
from smartgate_infra.services import (
    ServiceError,
    pid_alive,
    port_in_use,
    start_mosquitto,
    start_moto,
    stop_pid,
)
from smartgate_infra.template import Template

ROOT = Path(__file__).resolve().parents[2]
STACK_NAME = "smartgate-local"


LOCAL_PARAMETERS = {
    "Stage": "local",
    "RuleSetCacheSeconds": "5",
    "AlertAckSeconds": "20",
    "FcmPlatformApplicationArn": "arn:aws:sns:us-east-1:123456789012:app/GCM/smartgate-local-fcm",
    "ApnsPlatformApplicationArn": "arn:aws:sns:us-east-1:123456789012:app/APNS/smartgate-local-apns",
}
"""The local stage's parameters (as samconfig.toml holds them per deployed stage): rule sets pushed with
`smartgate rules push` are in force within seconds; an unacknowledged alert escalates after 20 s (so the
demo and the tests see it); push devices register with the emulator's stand-in platform applications."""


def load_template(root: Path = ROOT, state_dir: Path | str | None = None) -> Template:
    """The local stack's template; with a running stack's state folder, resolved with the ids its
    services assigned (the user pool's), which the runtime records there."""
    bindings: dict[str, str] = {}
    if state_dir is not None:
        path = Path(state_dir) / "bindings.json"
        if path.exists():
            bindings = json.loads(path.read_text())
    return Template.load(
        root / "template.yaml", stack_name=STACK_NAME, parameter_overrides=LOCAL_PARAMETERS, bindings=bindings
    )


@dataclass
class StackState:
    ports: Ports
    pids: dict[str, int] = field(default_factory=dict)
    state_dir: str = ""
    started_at: float = 0.0

    @property
    def endpoint_url(self) -> str:
        return f"http://{self.ports.host}:{self.ports.aws}"

    @property
    def api_url(self) -> str:
        return f"http://{self.ports.host}:{self.ports.api}"

    def save(self, state_dir: Path) -> None:
        (state_dir / "stack.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, state_dir: Path) -> StackState | None:
        path = state_dir / "stack.json"
        if not path.exists():
            return None
        data = json.loads(path.read_text())
        return cls(
            ports=Ports(**data["ports"]), pids=data["pids"], state_dir=data["state_dir"], started_at=data["started_at"]
        )

    def running(self) -> dict[str, bool]:
        return {name: pid_alive(pid) for name, pid in self.pids.items()}


def up(state_dir: Path, ports: Ports | None = None, root: Path = ROOT, say: Any = print) -> StackState:
    """Start everything; on any failure stop what was started and raise with the reason.

    ``ports`` None: the defaults, or what ``SMARTGATE_*_PORT`` set, moving a taken default to a free
    port (and saying so). Given ports are used as they are.
    """
    state_dir.mkdir(parents=True, exist_ok=True)
    existing = StackState.load(state_dir)
    if existing and any(existing.running().values()):
        raise ServiceError(f"a local stack is already running (pids {existing.pids}); `smartgate down` first")
    template = load_template(root)  # a template error is reported before any server starts
    if ports is None:
        ports, notes = resolve_ports()
        for note in notes:
            say(note)
    for setting in PORT_SETTINGS:
        port = getattr(ports, setting.name)
        if not port_free(port, ports.host):
            raise ServiceError(taken_message(port, setting, ports.host))
    state = StackState(ports=ports, state_dir=str(state_dir), started_at=time.time())
    try:
        say(f"starting AWS emulator (moto) on 127.0.0.1:{ports.aws}")
        state.pids["aws"] = start_moto(ports.aws, state_dir).proc.pid
        say(f"starting MQTT broker (mosquitto) on 127.0.0.1:{ports.mqtt}, lanes with mutual TLS on {ports.mqtt_tls}")
        tls = broker_tls(state_dir, ports.mqtt_tls, template)
        state.pids["mqtt"] = start_mosquitto(ports.mqtt, state_dir, tls).proc.pid
        state.save(state_dir)
        say("starting local runtime: creating resources from template.yaml, warming functions")
        state.pids["runtime"] = _start_runtime(state_dir, ports, root)
        state.save(state_dir)
    except BaseException:
        down(state_dir, quiet=True)
        raise
    say(
        f"local stack up: AWS {state.endpoint_url}, MQTT 127.0.0.1:{ports.mqtt} (lanes: TLS {ports.mqtt_tls}), "
        f"API {state.api_url}"
    )
    return state


def _start_runtime(state_dir: Path, ports: Ports, root: Path) -> int:
    ready = state_dir / "runtime.ready"
    ready.unlink(missing_ok=True)
    log_path = state_dir / "runtime.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smartgate_infra.stack",
                "--serve",
                str(state_dir),
                str(root),
                json.dumps(asdict(ports)),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if ready.exists():
            return proc.pid
        if proc.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            raise ServiceError(f"the local runtime stopped while starting:\n{tail}")
        time.sleep(0.1)
    stop_pid(proc.pid)
    raise ServiceError(f"the local runtime did not become ready within 120 s; see {log_path}")


def down(state_dir: Path, quiet: bool = False, say: Any = print) -> list[str]:
    state = StackState.load(state_dir)
    if state is None:
        if not quiet:
            say("no local stack recorded in " + str(state_dir))
        return []
    stopped = []
    for name in ("runtime", "mqtt", "aws"):  # dependants first
        pid = state.pids.get(name)
        if pid and pid_alive(pid):
            stop_pid(pid)
            stopped.append(name)
    (state_dir / "stack.json").unlink(missing_ok=True)
    (state_dir / "runtime.ready").unlink(missing_ok=True)
    if not quiet:
        say("stopped: " + (", ".join(stopped) or "nothing was running"))
    return stopped


def status(state_dir: Path) -> dict[str, Any]:
    state = StackState.load(state_dir)
    if state is None:
        return {"running": False}
    alive = state.running()
    return {
        "running": all(alive.values()),
        "processes": alive,
        "ports": {
            "aws": state.ports.aws,
            "mqtt": state.ports.mqtt,
            "api": state.ports.api,
            "iot_data": state.ports.iot_data,
            "mqtt_tls": state.ports.mqtt_tls,
        },
        "listening": {
            name: port_in_use(port)
            for name, port in (
                ("aws", state.ports.aws),
                ("mqtt", state.ports.mqtt),
                ("mqtt_tls", state.ports.mqtt_tls),
                ("api", state.ports.api),
            )
        },
        "uptime_s": round(time.time() - state.started_at, 1),
    }


def serve(state_dir: Path, root: Path, ports: Ports) -> None:
    """The runtime process: build from the template, serve until SIGTERM."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    runtime = LocalRuntime(load_template(root), root, ports, state_dir)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, lambda *_: done.set())
    runtime.start()
    (state_dir / "runtime.ready").write_text(str(os.getpid()))
    logging.getLogger("smartgate.local").info("runtime ready")
    done.wait()
    runtime.stop()


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "--serve":
        serve(Path(sys.argv[2]), Path(sys.argv[3]), Ports(**json.loads(sys.argv[4])))
    else:
        sys.exit("internal entry point of the local runtime; use `smartgate up`")
