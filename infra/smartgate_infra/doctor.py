"""`smartgate doctor` / `make doctor`: is this machine ready for `make demo`, and if not, what fixes it.

Standard library only, so that it runs before anything is installed (`make doctor` uses the system
Python when there is no virtual environment yet). Each check returns findings; a finding says what
was seen and, where something is to be done, the command that does it. Exit status 1 when a finding
blocks `make demo`, else 0.

Levels: ``ok``; ``later`` (missing, and `make demo` installs it itself); ``note`` (worth knowing,
nothing stops); ``block`` (`make demo` will fail until it is fixed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smartgate_infra.ports import DEFAULTS, PORT_SETTINGS, explicit_port
from smartgate_infra.services import ServiceError, pid_alive, port_free

ROOT = Path(__file__).resolve().parents[2]
MIN_PYTHON = (3, 11)
GIB = 1024**3
FIRST_INSTALL_BYTES = int(2.5 * GIB)
"""Free disk the first `make demo` needs: the virtual environment (~0.9 GB), the SAM CLI's (~0.35 GB),
pip's download cache and the build, with room to spare."""
RUNNING_BYTES = GIB // 2
"""Free disk the stack needs once installed: logs, the emulator's state, test images."""

DEBIAN_PACKAGES = {
    # package: what shows it is installed
    "mosquitto": ("binary", "mosquitto"),
    "fonts-wqy-microhei": ("file", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    "fonts-dejavu-extra": ("file", "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf"),
}
"""What infra/bootstrap.sh installs from Debian (keep the two lists the same)."""


@dataclass(frozen=True)
class Finding:
    level: str  # ok | later | note | block
    title: str
    detail: str = ""
    fix: str = ""  # a command that fixes it (or does it now)

    @property
    def blocks(self) -> bool:
        return self.level == "block"


@dataclass(frozen=True)
class PythonProbe:
    executable: str
    version: tuple[int, int, int] | None  # None: not found or does not run
    has_venv: bool  # venv and ensurepip import (Debian splits them out)


@dataclass
class Machine:
    """What the checks look at; the defaults look at this machine. Tests give other answers."""

    root: Path = ROOT
    state_dir: Path | None = None
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    probe_python: Callable[[str], PythonProbe] = field(default=lambda exe: probe_python(exe))
    which: Callable[[str], str | None] = field(default=lambda name: _which(name))
    file_exists: Callable[[str], bool] = field(default=lambda path: Path(path).exists())
    free_bytes: Callable[[Path], int] = field(default=lambda path: shutil.disk_usage(path).free)
    is_root: bool = field(default_factory=lambda: os.geteuid() == 0)
    port_free: Callable[[int], bool] = field(default=lambda port: port_free(port))
    holders: Callable[[int], list[tuple[int, str]]] = field(default=lambda port: port_holders(port))
    sam_version: Callable[[Path, Mapping[str, str]], tuple[bool, str]] = field(
        default=lambda sam, env: run_version(sam, env)
    )
    policy_rc_d: Path = Path("/usr/sbin/policy-rc.d")

    @property
    def venv(self) -> Path:
        return self.root / ".venv"

    @property
    def stack_state(self) -> Path:
        return self.state_dir or self.root / ".smartgate"


def _which(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for folder in ("/usr/sbin", "/usr/bin", "/sbin"):
        candidate = Path(folder) / name
        if candidate.exists():
            return str(candidate)
    return None


def probe_python(executable: str) -> PythonProbe:
    code = (
        "import sys; import importlib.util as u; "
        "print(*sys.version_info[:3], int(bool(u.find_spec('venv') and u.find_spec('ensurepip'))))"
    )
    try:
        out = subprocess.run([executable, "-c", code], capture_output=True, text=True, timeout=20).stdout.split()
        major, minor, micro, venv = (int(x) for x in out)
    except (OSError, ValueError, subprocess.SubprocessError):
        return PythonProbe(executable, None, False)
    return PythonProbe(shutil.which(executable) or executable, (major, minor, micro), bool(venv))


def run_version(binary: Path, env: Mapping[str, str]) -> tuple[bool, str]:
    """(runs, what ``binary --version`` printed)."""
    try:
        out = subprocess.run(
            [str(binary), "--version"],
            capture_output=True,
            text=True,
            timeout=60,
            env={**env, "SAM_CLI_TELEMETRY": "0"},
        )
    except (OSError, subprocess.SubprocessError) as err:
        return False, str(err)
    return out.returncode == 0, out.stdout.strip() or out.stderr.strip()


def port_holders(port: int) -> list[tuple[int, str]]:
    """(pid, command name) of the processes listening on this TCP port, as far as /proc lets us see."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if len(cols) > 9 and cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{cols[9]}]")
    holders: list[tuple[int, str]] = []
    if not inodes:
        return holders
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (proc / "fd").iterdir()):
                holders.append((int(proc.name), (proc / "comm").read_text().strip()))
        except OSError:
            continue
    return sorted(holders)


# --------------------------------------------------------------------------- checks


def check_python(m: Machine) -> list[Finding]:
    exe = m.env.get("PYTHON") or "python3"
    probe = m.probe_python(exe)
    want = ".".join(map(str, MIN_PYTHON))
    if probe.version is None:
        return [
            Finding(
                "block",
                f"Python: `{exe}` not found or does not run",
                f"the set-up needs Python {want} or newer as `python3` (or set PYTHON=/path/to/python)",
                "sudo apt-get install -y python3 python3-venv",
            )
        ]
    version = ".".join(map(str, probe.version))
    if probe.version[:2] < MIN_PYTHON:
        return [
            Finding(
                "block",
                f"Python {version} at {probe.executable} is too old",
                f"the project needs Python {want} or newer; point the set-up at one with PYTHON=",
                f"sudo apt-get install -y python{want} python{want}-venv && make demo PYTHON=python{want}",
            )
        ]
    if not probe.has_venv:
        minor = f"{probe.version[0]}.{probe.version[1]}"
        return [
            Finding(
                "block",
                f"Python {version} cannot make virtual environments (no venv/ensurepip)",
                "Debian and Ubuntu ship them in a separate package",
                f"sudo apt-get install -y python{minor}-venv",
            )
        ]
    return [Finding("ok", f"Python {version} ({probe.executable}), with venv")]


def installed_stamp(root: Path) -> str:
    """The stamp infra/bootstrap.sh leaves in .venv when the install matches pyproject.toml."""
    inputs = (root / "pyproject.toml", root / "infra" / "model-packages.txt")  # as `cat a b | sha256sum`
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in inputs))
    return f".installed-{digest.hexdigest()[:16]}"


def _venv_ready(m: Machine) -> bool:
    return (m.venv / installed_stamp(m.root)).exists()


def check_venv(m: Machine) -> list[Finding]:
    if not (m.venv / "bin" / "python").exists():
        return [
            Finding(
                "later",
                ".venv: no virtual environment yet",
                "`make demo` creates it and installs the project (a few minutes, ~0.9 GB)",
            )
        ]
    if not _venv_ready(m):
        return [
            Finding(
                "later",
                ".venv: the installed packages are older than pyproject.toml",
                "`make demo` brings them up to date",
            )
        ]
    return [Finding("ok", ".venv: the project and its dependencies are installed")]


def check_debian_packages(m: Machine) -> list[Finding]:
    missing = []
    for package, (kind, what) in DEBIAN_PACKAGES.items():
        present = m.which(what) is not None if kind == "binary" else m.file_exists(what)
        if not present:
            missing.append(package)
    if not missing:
        return [Finding("ok", f"Debian packages: {', '.join(DEBIAN_PACKAGES)}")]
    names = " ".join(missing)
    if m.which("apt-get") is None:
        return [
            Finding(
                "block",
                f"missing: {names}, and this machine has no apt-get",
                "install the Mosquitto MQTT broker and the fonts with your package manager",
                f"(Debian/Ubuntu) apt-get install -y {names}",
            )
        ]
    if m.is_root:
        return [Finding("later", f"Debian packages not installed yet: {names}", "`make demo` installs them (apt-get)")]
    if m.which("sudo") is not None:
        return [
            Finding(
                "later",
                f"Debian packages not installed yet: {names}",
                "`make demo` installs them with sudo (it may ask for your password)",
                f"sudo apt-get install -y {names}",
            )
        ]
    return [
        Finding(
            "block",
            f"Debian packages missing: {names}, and you are neither root nor have sudo",
            "ask an administrator to install them",
            f"apt-get install -y {names}  (as root)",
        )
    ]


def _our_stack_ports(m: Machine) -> set[int]:
    """Ports held by a local stack that `smartgate up` started and that still runs."""
    try:
        data = json.loads((m.stack_state / "stack.json").read_text())
    except (OSError, ValueError):
        return set()
    if not any(pid_alive(int(pid)) for pid in data.get("pids", {}).values()):
        return set()
    return {int(p) for k, p in data.get("ports", {}).items() if k != "host"}


def _who(m: Machine, port: int) -> str:
    holders = m.holders(port)
    if not holders:
        return "another program"
    return ", ".join(f"{name} (pid {pid})" for pid, name in holders)


def check_ports(m: Machine) -> list[Finding]:
    findings: list[Finding] = []
    ours = _our_stack_ports(m)
    for setting in PORT_SETTINGS:
        try:
            port = explicit_port(m.env, setting)
        except ServiceError as err:
            findings.append(Finding("block", str(err), fix=f"unset {setting.variable}"))
            continue
        if port is not None:
            if port in ours:
                findings.append(Finding("ok", f"port {port} for {setting.what} ({setting.variable}): your local stack"))
            elif not m.port_free(port):
                findings.append(
                    Finding(
                        "block",
                        f"port {port} for {setting.what} is taken by {_who(m, port)}",
                        f"{setting.variable}={port} asks for exactly this port",
                        f"unset {setting.variable}   (the stack then picks a free port), or set another",
                    )
                )
            else:
                findings.append(Finding("ok", f"port {port} for {setting.what} ({setting.variable}) is free"))
            continue
        default = getattr(DEFAULTS, setting.name)
        if default in ours:
            findings.append(Finding("ok", f"port {default} for {setting.what}: your local stack is running there"))
        elif m.port_free(default):
            findings.append(Finding("ok", f"port {default} for {setting.what} is free"))
        else:
            who = _who(m, default)
            fix = ""
            if setting.name == "mqtt" and "mosquitto" in who:
                fix = "optional: sudo systemctl disable --now mosquitto   (a system-wide broker the stack does not use)"
            findings.append(
                Finding(
                    "note",
                    f"port {default} for {setting.what} is taken by {who}",
                    "the local stack picks another free port and says which",
                    fix,
                )
            )
    return findings


def check_disk(m: Machine) -> list[Finding]:
    free = m.free_bytes(m.root)
    installed = _venv_ready(m) and (m.root / ".tools" / "sam" / "bin" / "sam").exists()
    need = RUNNING_BYTES if installed else FIRST_INSTALL_BYTES
    shown = f"{free / GIB:.1f} GB free in {m.root}"
    if free < need:
        why = "to run the stack" if installed else "for the first install"
        return [
            Finding(
                "block",
                f"disk: only {shown}",
                f"{need / GIB:.1f} GB are needed {why}",
                "free some space (`make clean` removes the stack's logs; pip cache: rm -rf ~/.cache/pip)",
            )
        ]
    return [Finding("ok", f"disk: {shown}")]


def check_sam(m: Machine) -> list[Finding]:
    sam = m.root / ".tools" / "sam" / "bin" / "sam"
    if not sam.exists():
        return [
            Finding(
                "later",
                "AWS SAM CLI: not installed yet",
                "`make demo` installs it into .tools/sam (its own environment); `make lint`, "
                "`make build` and `make deploy` use it",
            )
        ]
    ok, version = m.sam_version(sam, m.env)
    if not ok:
        return [
            Finding(
                "note",
                f"AWS SAM CLI in .tools/sam does not run: {version[:200]}",
                "the demo does not need it; lint, build and deploy do",
                "rm -rf .tools/sam && make setup",
            )
        ]
    return [Finding("ok", f"AWS SAM CLI: {version}")]


def check_chromium(m: Machine) -> list[Finding]:
    if not (m.root / "tests" / "browser").is_dir():
        return []
    found = m.which("chromium")
    if found:
        return [Finding("ok", f"Chromium: {found} (browser tests)")]
    return [
        Finding(
            "later",
            "Chromium: not installed yet",
            "`make test` installs it for the browser tests",
            "sudo apt-get install -y chromium",
        )
    ]


POLICY_MARK = "smartgate bootstrap"


def check_leftover_policy(m: Machine) -> list[Finding]:
    """An interrupted set-up may leave the policy-rc.d that keeps services from starting while it installs."""
    try:
        ours = POLICY_MARK in m.policy_rc_d.read_text()
    except OSError:
        return []
    if not ours:
        return []
    return [
        Finding(
            "note",
            f"{m.policy_rc_d} left by an interrupted set-up keeps system services from starting",
            "it was meant to live only while the set-up installs Mosquitto",
            f"sudo rm {m.policy_rc_d}",
        )
    ]


def check_running_stack(m: Machine) -> list[Finding]:
    if not _our_stack_ports(m):
        return []
    return [
        Finding(
            "note",
            "a local stack is running (`smartgate status`)",
            "`make demo` uses it as it is; stop it with `make down` for a clean start",
        )
    ]


CHECKS: tuple[Callable[[Machine], list[Finding]], ...] = (
    check_python,
    check_venv,
    check_debian_packages,
    check_ports,
    check_disk,
    check_sam,
    check_chromium,
    check_leftover_policy,
    check_running_stack,
)


def diagnose(m: Machine, checks: Iterable[Callable[[Machine], list[Finding]]] = CHECKS) -> list[Finding]:
    return [finding for check in checks for finding in check(m)]


LABELS = {"ok": "ok", "later": "later", "note": "note", "block": "BLOCK"}


def report(findings: Sequence[Finding]) -> str:
    lines = ["smartgate doctor: is this machine ready for `make demo`?"]
    for f in findings:
        lines.append(f"  {LABELS[f.level]:<6} {f.title}")
        if f.detail:
            lines.append(f"         {f.detail}")
        if f.fix:
            lines.append(f"         fix: {f.fix}")
    blocking = [f for f in findings if f.blocks]
    if blocking:
        lines.append(f"{len(blocking)} finding(s) block `make demo`; fix them and run `make doctor` again.")
    else:
        later = any(f.level == "later" for f in findings)
        lines.append(
            "ready: `make demo` should work" + ("; its first run installs what is marked 'later'." if later else ".")
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="smartgate doctor", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the project folder")
    parser.add_argument("--state-dir", type=Path, default=None, help="the local stack's state (default .smartgate/)")
    args = parser.parse_args(argv)
    machine = Machine(root=args.root, state_dir=args.state_dir)
    findings = diagnose(machine)
    print(report(findings))
    return 1 if any(f.blocks for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
