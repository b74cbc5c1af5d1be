"""Fixtures for tests that need their own MQTT broker (not the whole local stack)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from mqtt_helpers import WAIT
from smartgate_edge.transport import Mqtt5Transport

from smartgate_infra.services import HOST, Service, free_port, start_mosquitto


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A Mosquitto of this test module's own, on a free port."""
    service = start_mosquitto(free_port(), tmp_path_factory.mktemp("mosquitto"))
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture
def connect(broker: Service) -> Iterator[Callable[[str], Mqtt5Transport]]:
    """Connected transports to the broker, all closed after the test."""
    opened: list[Mqtt5Transport] = []

    def _connect(client_id: str) -> Mqtt5Transport:
        transport = Mqtt5Transport(HOST, broker.port, client_id, ack_timeout=WAIT).connect(WAIT)
        opened.append(transport)
        return transport

    yield _connect
    for transport in opened:
        transport.close()
