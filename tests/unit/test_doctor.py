"""`smartgate doctor`: a healthy machine passes; each blocking finding is found, with its fix."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from smartgate_infra.doctor import (
    DEBIAN_PACKAGES,
    FIRST_INSTALL_BYTES,
    GIB,
    Finding,
    Machine,
    PythonProbe,
    diagnose,
    installed_stamp,
    report,
)

ROOT = Path(__file__).resolve().parents[2]


def project(tmp_path: Path, installed: bool = True) -> Path:
    """A project folder as a fresh clone (installed=False) or after the set-up."""
    (tmp_path / "infra").mkdir()
    (tmp_path / "pyproject.toml").write_bytes((ROOT / "pyproject.toml").read_bytes())
    (tmp_path / "infra" / "model-packages.txt").write_bytes((ROOT / "infra" / "model-packages.txt").read_bytes())
    if installed:
        (tmp_path / ".venv" / "bin").mkdir(parents=True)
        (tmp_path / ".venv" / "bin" / "python").touch()
        (tmp_path / ".venv" / installed_stamp(tmp_path)).touch()
        (tmp_path / ".tools" / "sam" / "bin").mkdir(parents=True)
        (tmp_path / ".tools" / "sam" / "bin" / "sam").touch()
    return tmp_path


def healthy(root: Path) -> Machine:
    fonts = {what for kind, what in DEBIAN_PACKAGES.values() if kind == "file"}
    return Machine(
        root=root,
        env={},
        probe_python=lambda exe: PythonProbe(f"/usr/bin/{exe}", (3, 11, 7), True),
        which=lambda name: f"/usr/bin/{name}",
        file_exists=lambda path: path in fonts,
        free_bytes=lambda _path: 50 * GIB,
        is_root=False,
        port_free=lambda _port: True,
        holders=lambda _port: [],
        sam_version=lambda _sam, _env: (True, "SAM CLI, version 1.170.0"),
        policy_rc_d=root / "no-policy-rc.d",
    )


def blocking(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.blocks]


def test_a_healthy_machine_is_ready(tmp_path: Path) -> None:
    findings = diagnose(healthy(project(tmp_path)))
    assert {f.level for f in findings} == {"ok"}
    assert report(findings).endswith("ready: `make demo` should work.")


def test_a_fresh_clone_is_ready_and_says_what_the_first_run_installs(tmp_path: Path) -> None:
    machine = replace(
        healthy(project(tmp_path, installed=False)),
        file_exists=lambda _p: False,
        which=lambda name: None if name == "mosquitto" else f"/usr/bin/{name}",
    )
    findings = diagnose(machine)
    assert not blocking(findings)
    later = " | ".join(f.title for f in findings if f.level == "later")
    assert ".venv" in later and "SAM CLI" in later and "mosquitto" in later
    sudo = next(f for f in findings if "Debian packages" in f.title)
    assert sudo.fix == "sudo apt-get install -y mosquitto fonts-wqy-microhei fonts-dejavu-extra"
    assert "first run installs" in report(findings)


@pytest.mark.parametrize(
    ("probe", "says", "fix"),
    [
        (PythonProbe("python3", None, False), "not found", "apt-get install -y python3"),
        (PythonProbe("/usr/bin/python3", (3, 9, 2), True), "3.9.2 at /usr/bin/python3 is too old", "PYTHON=python3.11"),
        (
            PythonProbe("/usr/bin/python3", (3, 12, 3), False),
            "cannot make virtual environments",
            "apt-get install -y python3.12-venv",
        ),
    ],
)
def test_a_python_the_set_up_cannot_use_blocks(tmp_path: Path, probe: PythonProbe, says: str, fix: str) -> None:
    [finding] = blocking(diagnose(replace(healthy(project(tmp_path)), probe_python=lambda _exe: probe)))
    assert says in finding.title and fix in finding.fix


def test_the_python_named_by_PYTHON_is_the_one_checked(tmp_path: Path) -> None:
    asked: list[str] = []

    def probe(exe: str) -> PythonProbe:
        asked.append(exe)
        return PythonProbe(exe, (3, 11, 7), True)

    diagnose(replace(healthy(project(tmp_path)), env={"PYTHON": "/opt/py/bin/python3.12"}, probe_python=probe))
    assert asked == ["/opt/py/bin/python3.12"]


def test_missing_packages_without_root_or_sudo_block(tmp_path: Path) -> None:
    machine = replace(healthy(project(tmp_path)), which=lambda name: None if name in ("mosquitto", "sudo") else name)
    [finding] = blocking(diagnose(machine))
    assert "mosquitto" in finding.title and "neither root nor have sudo" in finding.title
    assert finding.fix == "apt-get install -y mosquitto  (as root)"


def test_missing_packages_on_a_machine_without_apt_block(tmp_path: Path) -> None:
    machine = replace(healthy(project(tmp_path)), which=lambda name: None if name in ("mosquitto", "apt-get") else name)
    [finding] = blocking(diagnose(machine))
    assert "no apt-get" in finding.title and "package manager" in finding.detail


def test_missing_packages_as_root_are_installed_later(tmp_path: Path) -> None:
    machine = replace(healthy(project(tmp_path)), is_root=True, file_exists=lambda _p: False)
    findings = diagnose(machine)
    assert not blocking(findings)
    assert any(f.level == "later" and "fonts-wqy-microhei fonts-dejavu-extra" in f.title for f in findings)


def test_a_taken_port_that_was_set_explicitly_blocks_and_names_the_holder(tmp_path: Path) -> None:
    machine = replace(
        healthy(project(tmp_path)),
        env={"SMARTGATE_MQTT_PORT": "1883"},
        port_free=lambda port: port != 1883,
        holders=lambda port: [(812, "mosquitto")],
    )
    [finding] = blocking(diagnose(machine))
    assert finding.title == "port 1883 for the MQTT broker is taken by mosquitto (pid 812)"
    assert "SMARTGATE_MQTT_PORT=1883" in finding.detail and "unset SMARTGATE_MQTT_PORT" in finding.fix


def test_a_malformed_port_blocks(tmp_path: Path) -> None:
    [finding] = blocking(diagnose(replace(healthy(project(tmp_path)), env={"SMARTGATE_API_PORT": "http"})))
    assert "SMARTGATE_API_PORT='http' is not a TCP port" in finding.title


def test_a_taken_default_is_only_a_note_and_a_system_broker_is_named(tmp_path: Path) -> None:
    machine = replace(
        healthy(project(tmp_path)),
        port_free=lambda port: port not in (1883, 3000),
        holders=lambda port: [(812, "mosquitto")] if port == 1883 else [(99, "node")],
    )
    findings = diagnose(machine)
    assert not blocking(findings)
    notes = {f.title: f for f in findings if f.level == "note"}
    broker = notes["port 1883 for the MQTT broker is taken by mosquitto (pid 812)"]
    assert "systemctl disable --now mosquitto" in broker.fix
    assert "picks another free port" in notes["port 3000 for the REST API is taken by node (pid 99)"].detail


@pytest.mark.parametrize(("installed", "free"), [(False, FIRST_INSTALL_BYTES - 1), (True, GIB // 4)])
def test_too_little_disk_blocks(tmp_path: Path, installed: bool, free: int) -> None:
    root = project(tmp_path, installed=installed)
    [finding] = blocking(diagnose(replace(healthy(root), free_bytes=lambda _p: free, is_root=True)))
    assert finding.title.startswith("disk: only") and "GB are needed" in finding.detail


def test_a_broken_sam_cli_is_a_note_with_the_fix(tmp_path: Path) -> None:
    findings = diagnose(replace(healthy(project(tmp_path)), sam_version=lambda _s, _e: (False, "ImportError: click")))
    [sam] = [f for f in findings if "SAM CLI" in f.title]
    assert sam.level == "note" and "rm -rf .tools/sam" in sam.fix


def test_chromium_is_checked_once_there_are_browser_tests(tmp_path: Path) -> None:
    root = project(tmp_path)
    assert not [f for f in diagnose(healthy(root)) if "Chromium" in f.title]
    (root / "tests" / "browser").mkdir(parents=True)
    missing = replace(healthy(root), which=lambda name: None if name == "chromium" else name)
    [chromium] = [f for f in diagnose(missing) if "Chromium" in f.title]
    assert chromium.level == "later" and "apt-get install -y chromium" in chromium.fix


def test_a_policy_left_by_an_interrupted_set_up_is_reported(tmp_path: Path) -> None:
    policy = tmp_path / "policy-rc.d"
    policy.write_text("#!/bin/sh\n# smartgate bootstrap: do not start services while installing\nexit 101\n")
    machine = replace(healthy(project(tmp_path)), policy_rc_d=policy)
    assert any(f.fix == f"sudo rm {policy}" for f in diagnose(machine))
    policy.write_text("#!/bin/sh\n# a container's own: not ours to remove\nexit 101\n")
    assert not [f for f in diagnose(machine) if str(policy) in f.fix]


def test_the_report_counts_what_blocks(tmp_path: Path) -> None:
    machine = replace(healthy(project(tmp_path)), env={"SMARTGATE_AWS_PORT": "x", "SMARTGATE_API_PORT": "y"})
    text = report(diagnose(machine))
    assert "  BLOCK  SMARTGATE_AWS_PORT='x'" in text
    assert text.endswith("2 finding(s) block `make demo`; fix them and run `make doctor` again.")


def test_the_stamp_is_the_one_the_set_up_writes() -> None:
    import subprocess

    out = subprocess.run(
        "cat pyproject.toml infra/model-packages.txt | sha256sum | cut -c1-16",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert installed_stamp(ROOT) == f".installed-{out}"
