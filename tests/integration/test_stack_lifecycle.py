"""`smartgate up` / `down`: clear errors for taken ports and unservable templates; nothing left running."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from smartgate_infra.provision import Provisioner, ProvisionError
from smartgate_infra.runtime import LocalRuntime, Ports, RuntimeConfigError
from smartgate_infra.services import ServiceError, stack_ports
from smartgate_infra.stack import ROOT, status, up
from smartgate_infra.template import Template

pytestmark = pytest.mark.integration


def ports() -> Ports:
    return stack_ports()


def test_a_taken_port_is_refused_with_the_variable_to_change(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        p = ports()
        p.mqtt = taken
        with pytest.raises(ServiceError, match=rf"127.0.0.1:{taken}.*SMARTGATE_MQTT_PORT"):
            up(tmp_path, p, say=lambda *_: None)
    assert status(tmp_path) == {"running": False}


def test_the_cli_reports_a_stack_that_is_not_running(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(tmp_path), "rejected"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not running" in result.stderr


def unservable(tmp_path: Path, extra: str) -> Template:
    text = (ROOT / "template.yaml").read_text().replace("Resources:\n", "Resources:\n" + extra, 1)
    (tmp_path / "template.yaml").write_text(text)
    shutil.copytree(ROOT / "functions", tmp_path / "functions")
    return Template.load(tmp_path / "template.yaml", parameter_overrides={"Stage": "local"})


def test_a_resource_type_the_stack_cannot_create_is_named(tmp_path: Path) -> None:
    template = unservable(tmp_path, "  Cluster:\n    Type: AWS::ECS::Cluster\n    Properties: {}\n")
    with pytest.raises(ProvisionError, match=r"Cluster \(AWS::ECS::Cluster\)"):
        Provisioner(template, None, "http://127.0.0.1:1").check_supported()  # type: ignore[arg-type]


def test_an_event_source_the_runtime_cannot_serve_is_named(tmp_path: Path) -> None:
    extra = (
        "  Odd:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: functions/api/\n"
        "      Handler: app.app\n      Events:\n        Kin:\n          Type: Kinesis\n"
        "          Properties: {Stream: x, StartingPosition: LATEST}\n"
    )
    template = unservable(tmp_path, extra)
    with pytest.raises(RuntimeConfigError, match=r"Odd.Events.Kin: event type 'Kinesis'"):
        LocalRuntime(template, tmp_path, ports(), tmp_path / "state")
