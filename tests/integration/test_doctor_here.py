"""`make doctor` on this machine as a new user runs it: system Python, standard library only."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SMARTGATE_", "VIRTUAL_ENV"))}
    return subprocess.run(
        ["make", "--no-print-directory", "doctor"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**clean, **env},
    )


def test_this_machine_after_the_set_up_is_ready() -> None:
    result = doctor({})
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("smartgate doctor")
    assert lines[-1].startswith("ready: `make demo` should work")
    assert not [line for line in lines if line.startswith("  BLOCK")]
    for what in (
        "Python 3.",
        ".venv: the project and its dependencies are installed",
        "Debian packages: mosquitto",
        "disk:",
        "AWS SAM CLI",
    ):
        assert any(what in line for line in lines), what


def test_a_taken_explicit_port_makes_it_fail_with_the_fix() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = doctor({"SMARTGATE_API_PORT": str(port)})
    assert result.returncode != 0 and "Error 1" in result.stderr  # make passes on the doctor's exit 1
    assert f"  BLOCK  port {port} for the REST API is taken by python" in result.stdout
    assert "fix: unset SMARTGATE_API_PORT" in result.stdout
