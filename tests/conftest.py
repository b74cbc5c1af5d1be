"""Shared fixtures: the real local stack (moto server, Mosquitto, the local runtime) on free ports."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartgate_infra.services import stack_ports
from smartgate_infra.stack import StackState, down, up

os.environ.setdefault("SAM_CLI_TELEMETRY", "0")


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackState]:
    """The whole local stack, started once for the test session and stopped at the end."""
    state_dir = tmp_path_factory.mktemp("stack")
    ports = stack_ports()
    state = up(state_dir, ports, say=lambda *_: None)
    yield state
    down(state_dir, quiet=True)


@pytest.fixture(scope="session")
def stack_client(stack: StackState):  # type: ignore[no-untyped-def]
    from smartgate_infra.client import StackClient

    return StackClient(stack)


@pytest.fixture(scope="session")
def state_dir(stack: StackState) -> Path:
    return Path(stack.state_dir)
