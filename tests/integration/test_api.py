"""The REST API through the local runtime's API Gateway proxy (real HTTP, real Chalice app, DynamoDB)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from typing import Any

import pytest

from smartgate.schemas import utc_now

pytestmark = pytest.mark.integration


TOKEN: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def signed_in(stack_client) -> None:  # type: ignore[no-untyped-def]
    TOKEN["value"] = stack_client.token_for("api-test-operator", ["operators"])


def call(stack, method: str, path: str, body: Any = None, token: str | None = "") -> tuple[int, Any]:  # type: ignore[no-untyped-def]
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    token = TOKEN.get("value", "") if token == "" else token
    if token:
        headers["Authorization"] = token
    request = urllib.request.Request(f"{stack.api_url}{path}", data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


def new_booking(**changes: Any) -> dict[str, Any]:
    now = utc_now()
    return {"booking_id": f"BK-{uuid.uuid4().hex[:8]}", "trader_id": "TR-API", "gate_id": "kimthanh2",
            "direction": "VN_TO_CN", "plate_text": "24C-777.77", "country": "VN",
            "slot_start": now.isoformat(), "slot_end": (now + timedelta(hours=2)).isoformat(), **changes}


def test_health_is_public_and_everything_else_needs_a_token(stack) -> None:  # type: ignore[no-untyped-def]
    status, body = call(stack, "GET", "/health", token=None)
    assert status == 200 and body["status"] == "ok"
    assert call(stack, "GET", "/bookings/BK-none", token=None) == (401, {"message": "Unauthorized"})
    assert call(stack, "GET", "/bookings/BK-none", token="not.a.token")[0] == 401
    forged = TOKEN["value"].rsplit(".", 1)[0] + ".AAAA"
    assert call(stack, "GET", "/bookings/BK-none", token=forged)[0] == 401
    assert call(stack, "GET", "/bookings/BK-none", token="Bearer " + TOKEN["value"])[0] == 404


def test_create_then_read_a_booking(stack) -> None:  # type: ignore[no-untyped-def]
    booking = new_booking()
    status, created = call(stack, "POST", "/bookings", booking)
    assert status == 201 and created["schema"] == "Booking.v1" and created["status"] == "BOOKED"
    status, read = call(stack, "GET", f"/bookings/{booking['booking_id']}")
    assert status == 200 and read == created


def test_creating_the_same_booking_twice_is_idempotent(stack) -> None:  # type: ignore[no-untyped-def]
    booking = new_booking()
    assert call(stack, "POST", "/bookings", booking)[0] == 201
    status, again = call(stack, "POST", "/bookings", booking)
    assert status == 200 and again["booking_id"] == booking["booking_id"]
    status, conflict = call(stack, "POST", "/bookings", {**booking, "plate_text": "24C-000.00"})
    assert status == 409 and "booking_id" in conflict["error"]
    assert call(stack, "GET", f"/bookings/{booking['booking_id']}")[1]["plate_text"] == booking["plate_text"]


@pytest.mark.parametrize(("changes", "field"), [
    ({"plate_text": None}, "plate_text"),
    ({"country": "XX"}, "country"),
    ({"slot_start": "tomorrow"}, "slot_start"),
    ({"gate_id": "kim/thanh"}, "gate_id"),
])
def test_bad_booking_is_refused_naming_the_field_and_not_stored(stack, changes, field) -> None:  # type: ignore[no-untyped-def]
    booking = new_booking(**changes)
    if changes.get("plate_text", "") is None:
        del booking["plate_text"]
    status, body = call(stack, "POST", "/bookings", booking)
    assert status == 400 and field in body["Message"]
    assert call(stack, "GET", f"/bookings/{booking['booking_id']}")[0] in (404, 400)


def test_slot_must_end_after_it_starts(stack) -> None:  # type: ignore[no-untyped-def]
    now = utc_now()
    status, body = call(stack, "POST", "/bookings", new_booking(slot_end=(now - timedelta(hours=1)).isoformat()))
    assert status == 400 and "slot_end" in body["Message"]


def test_unknown_things_are_404(stack) -> None:  # type: ignore[no-untyped-def]
    assert call(stack, "GET", "/passages/psg-does-not-exist")[0] == 404
    assert call(stack, "GET", "/bookings/BK-none")[0] == 404
    status, body = call(stack, "GET", "/nowhere")
    assert status == 404 and "no API route" in body["message"]


def test_a_booking_names_a_declared_consignment(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    from domain_fixtures import consignment

    c = consignment(f"C-{uuid.uuid4().hex[:8]}", plate="24C-777.78")
    stack_client.consignments.put(c)
    status, read = call(stack, "GET", f"/consignments/{c.consignment_id}")
    assert status == 200 and read["schema"] == "Consignment.v1" and read["goods"][0]["hs_code"] == "400122"
    status, created = call(stack, "POST", "/bookings", new_booking(plate_text="24C-777.78",
                                                                   consignment_id=c.consignment_id))
    assert status == 201 and created["consignment_id"] == c.consignment_id
    booked = stack_client.bookings.booked(created["booking_id"])
    assert booked is not None and booked.consignment == c  # the declaration travels with the booking
    status, body = call(stack, "POST", "/bookings", new_booking(consignment_id="C-nowhere"))
    assert status == 400 and body["Message"].startswith("consignment_id: no consignment C-nowhere")
    assert call(stack, "GET", "/consignments/C-nowhere")[0] == 404


def test_lab_requests_are_checked_before_anything_is_stored(stack) -> None:  # type: ignore[no-untyped-def]
    status, body = call(stack, "POST", "/passages/psg-nope/lab-samples",
                        {"sample_id": "S-1", "tests": ["phytosanitary"], "taken_by": "lab-1"})
    assert status == 404 and "psg-nope" in body["Message"]
    status, body = call(stack, "POST", "/passages/psg-nope/lab-samples", {"sample_id": "S-1", "tests": [],
                                                                          "taken_by": "lab-1"})
    assert status == 400 and body["Message"].startswith("tests:")
    status, body = call(stack, "POST", "/passages/psg-nope/lab-samples/S-1/result",
                        {"outcome": "maybe", "tested_by": "lab-2"})
    assert status == 400 and body["Message"].startswith("outcome:")


def test_gate_queues(stack) -> None:  # type: ignore[no-untyped-def]
    status, body = call(stack, "GET", "/gates/sandbox/queues")
    assert status == 200 and set(body) == {"inspection", "lab"}
    status, body = call(stack, "GET", "/gates/atlantis/queues")
    assert status == 404 and "kimthanh2" in body["Message"]
