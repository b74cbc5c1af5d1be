"""Many traders at once into one almost-full window: the window is never overbooked, and every refusal says
why (the window is full), naming the field."""

from __future__ import annotations

import threading
from collections import Counter

import pytest
from trade_helpers import future_window, new_trader, operator

pytestmark = pytest.mark.integration

CLIENTS = 24
CAPACITY = 5
ALREADY = 3


def test_simultaneous_bookings_never_overbook_and_each_refusal_is_clear(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    start = future_window(60)
    assert (
        operator(stack, stack_client)
        .put(
            "/gates/sandbox/capacity",
            {"direction": "VN_TO_CN", "windows": [{"start": start.isoformat(), "capacity": CAPACITY}]},
        )
        .status
        == 200
    )
    early = new_trader(stack, stack_client, prefix="EA")
    for n in range(ALREADY):
        assert early.book(early.declare(f"24C-71{n}.00")["consignment_id"], start).status == 201

    traders = [new_trader(stack, stack_client, prefix="CC") for _ in range(CLIENTS)]
    declared = [t.declare(f"24C-8{n:02d}.00") for n, t in enumerate(traders)]
    gate = threading.Barrier(CLIENTS)
    replies: list = [None] * CLIENTS

    def one(n: int) -> None:
        gate.wait()
        replies[n] = traders[n].book(declared[n]["consignment_id"], start)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)

    statuses = Counter(r.status for r in replies)
    assert statuses == {201: CAPACITY - ALREADY, 409: CLIENTS - (CAPACITY - ALREADY)}, statuses
    for r in replies:
        if r.status == 409:
            assert r.fields() == ["body.window_start"] and "is full" in r.problem["detail"]
            assert r.headers["content-type"] == "application/problem+json"
    window = stack_client.trade.window("sandbox", "VN_TO_CN", start)
    assert window.booked == CAPACITY
    winners = {r.body["booking_id"] for r in replies if r.status == 201}
    in_window = {b.booking_id for b in stack_client.trade.bookings_in_window("sandbox", "VN_TO_CN", start)}
    assert winners <= in_window and len(in_window) == CAPACITY
    for t, c, r in zip(traders, declared, replies, strict=True):  # losers' declarations are free to book again
        assert (stack_client.trade.consignment(c["consignment_id"])[1] is None) == (r.status == 409)
        assert stack_client.trade.company(t.company_id).open_bookings == (1 if r.status == 201 else 0)
