"""A trader books through the API and the truck crosses with its pass: the booking follows the passage on
the bus (arrived, cleared, crossed), the trader is told each step, and the slot no longer counts as open."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport
from trade_helpers import new_trader

from smartgate.domain.slots import window_start
from smartgate.schemas import BarrierAction, utc_now
from smartgate_infra.demo import command_keys

pytestmark = pytest.mark.e2e


def eventually(probe: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value:
            return value
        time.sleep(0.2)
    return probe()


@pytest.fixture(scope="module")
def lane(stack, stack_client) -> Iterator[LaneSimulator]:  # type: ignore[no-untyped-def]
    transport = Mqtt5Transport(stack.ports.host, stack.ports.mqtt, f"e2e-{uuid.uuid4().hex[:6]}").connect()
    sim = LaneSimulator(transport, "sandbox", "out-57", command_keys(stack_client))
    sim.start()
    yield sim
    transport.close()


def test_a_truck_booked_through_the_api_crosses_with_its_pass_and_the_trader_follows_it(
    stack, stack_client, lane
) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="E2E")
    declared = trader.declare("24C-246.80", vehicle_tare_kg=15000, driver_id=trader.driver())
    booking = trader.book(declared["consignment_id"], window_start(utc_now())).body
    token = trader.api.get(f"/bookings/{booking['booking_id']}/pass").body["token"]

    gross = sum(line["gross_kg"] for line in declared["goods"]) + 15000
    result = lane.cross(
        "24C-246.80", "VN", containers=tuple(declared["container_nos"]), weight_kg=gross, pass_token=token, timeout=20
    )
    assert result.ok and result.command.action == BarrierAction.OPEN, result.command.reason
    passage = stack_client.passages.get(result.command.passage_id)
    assert passage.booking_id == booking["booking_id"] and passage.channel == "GREEN"

    following = lane.cross("29C-135.79", "VN", weight_kg=30_000, timeout=20)  # the next truck: the first left
    assert following.ok

    def timeline() -> list[str]:
        return [e["status"] for e in trader.api.get(f"/bookings/{booking['booking_id']}/timeline").body]

    assert eventually(lambda: timeline()[-1:] == ["crossed"]), timeline()
    assert timeline() == ["booked", "arrived", "cleared", "crossed"]
    view = trader.api.get(f"/bookings/{booking['booking_id']}").body
    assert view["booking"]["status"] == "CROSSED"
    told = [
        n["kind"]
        for n in trader.api.get("/notifications", limit=50).body["items"]
        if n["booking_id"] == booking["booking_id"]
    ]
    assert {"booked", "arrived", "cleared", "crossed"} <= set(told)
    assert stack_client.trade.company(trader.company_id).open_bookings == 0  # the slot was used
    assert stack_client.trade.consignment(declared["consignment_id"])[1] == booking["booking_id"]
