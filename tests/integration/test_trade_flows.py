"""The trade flows on the real tables without waiting for the clock: no-shows, redelivered bus events."""

from __future__ import annotations

import threading
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest
from trade_helpers import future_window, new_trader

from smartgate.adapters.trade import OutboxNotifier
from smartgate.domain.gates import default_gates
from smartgate.domain.slots import window_start
from smartgate.domain.trading import TradeDeps, passage_changed, sweep_no_shows
from smartgate.schemas import PassageStateChanged, PassageStatus, utc_now

pytestmark = pytest.mark.integration


@dataclass
class Clock:
    at: datetime

    def now(self) -> datetime:
        return self.at


@pytest.fixture
def deps(stack_client) -> TradeDeps:  # type: ignore[no-untyped-def]
    store = stack_client.trade
    return TradeDeps(
        store=store,
        gates=default_gates("local"),
        passes=None,
        notifier=OutboxNotifier(store),
        clock=Clock(utc_now()),
    )


def test_a_booking_nobody_used_becomes_a_no_show_and_costs_its_company(stack, stack_client, deps) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, limit=5, prefix="NS")
    start = window_start(utc_now())
    booking = trader.book(trader.declare("24C-913.57", direction="CN_TO_VN")["consignment_id"], start).body
    assert sweep_no_shows(deps) == [] or booking["booking_id"] not in sweep_no_shows(deps)  # not yet: grace

    later = replace(deps, clock=Clock(start + timedelta(minutes=15) + deps.no_show_grace + timedelta(minutes=1)))
    assert booking["booking_id"] in sweep_no_shows(later)
    assert booking["booking_id"] not in sweep_no_shows(later)  # once
    view = trader.api.get(f"/bookings/{booking['booking_id']}").body
    assert view["booking"]["status"] == "NO_SHOW" and view["timeline"][-1]["status"] == "no_show"
    company = trader.api.get(f"/companies/{trader.company_id}").body
    assert (company["open_bookings"], company["recent_no_shows"]) == (0, 1)
    assert stack_client.trade.window("sandbox", "CN_TO_VN", start).booked >= 0
    told = [n["kind"] for n in trader.api.get("/notifications").body["items"]]
    assert "no_show" in told


def test_a_redelivered_passage_event_changes_nothing_more(stack, stack_client, deps) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="RD")
    booking = trader.book(trader.declare("24C-924.68")["consignment_id"], window_start(utc_now())).body
    event = PassageStateChanged(
        event_id="evt-rd-held",
        passage_id="psg-rd-1",
        gate_id="sandbox",
        lane_id="out-40",
        booking_id=booking["booking_id"],
        from_status=PassageStatus.OPEN,
        to_status=PassageStatus.HELD,
        reason="document check",
        actor="rules",
        at=utc_now(),
    )
    assert passage_changed(deps, event) == "held"
    assert passage_changed(deps, event) == "held"
    timeline = [e["status"] for e in trader.api.get(f"/bookings/{booking['booking_id']}/timeline").body]
    assert timeline == ["booked", "arrived", "held"]
    kinds = [
        n["kind"] for n in trader.api.get("/notifications").body["items"] if n["booking_id"] == booking["booking_id"]
    ]
    assert sorted(kinds) == ["arrived", "booked", "held"]
    assert stack_client.trade.company(trader.company_id).open_bookings == 0
    released = event.model_copy(
        update={
            "event_id": "evt-rd-rel",
            "from_status": PassageStatus.HELD,
            "to_status": PassageStatus.RELEASED,
            "at": utc_now(),
        }
    )
    departed = event.model_copy(
        update={
            "event_id": "evt-rd-dep",
            "from_status": PassageStatus.RELEASED,
            "to_status": PassageStatus.DEPARTED,
            "at": utc_now() + timedelta(seconds=1),
        }
    )
    assert passage_changed(deps, departed) == "crossed"  # out of order: the later event first
    assert passage_changed(deps, released) == "cleared"
    assert trader.api.get(f"/bookings/{booking['booking_id']}").body["booking"]["status"] == "CROSSED"


def test_two_first_events_racing_record_one_arrival(stack, stack_client, deps) -> None:  # type: ignore[no-untyped-def]
    # Given a booked truck whose passage's first two changes reach the tracker at the same moment
    trader = new_trader(stack, stack_client, prefix="RC")
    booking = trader.book(trader.declare("24C-935.79")["consignment_id"], future_window(46)).body
    now = utc_now()
    decided = PassageStateChanged(
        event_id="evt-rc-held",
        passage_id="psg-rc-1",
        gate_id="sandbox",
        lane_id="out-41",
        booking_id=booking["booking_id"],
        from_status=PassageStatus.OPEN,
        to_status=PassageStatus.HELD,
        reason="document check",
        actor="rules",
        at=now,
    )
    released = decided.model_copy(
        update={
            "event_id": "evt-rc-rel",
            "from_status": PassageStatus.HELD,
            "to_status": PassageStatus.RELEASED,
            "at": now + timedelta(seconds=2),
        }
    )
    start = threading.Barrier(2)

    def deliver(event: PassageStateChanged) -> None:
        start.wait()
        passage_changed(deps, event)

    threads = [threading.Thread(target=deliver, args=(e,)) for e in (decided, released)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    # Then the truck arrived once: one timeline entry, one notification, the open booking counted down once
    timeline = [e["status"] for e in trader.api.get(f"/bookings/{booking['booking_id']}/timeline").body]
    assert timeline.count("arrived") == 1 and timeline[0] == "booked", timeline
    assert {"held", "cleared"} <= set(timeline)
    kinds = [
        n["kind"] for n in trader.api.get("/notifications").body["items"] if n["booking_id"] == booking["booking_id"]
    ]
    assert kinds.count("arrived") == 1, kinds
    assert stack_client.trade.company(trader.company_id).open_bookings == 0
