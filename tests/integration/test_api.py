"""The REST API through the local runtime's API Gateway proxy (real HTTP, real Chalice app, DynamoDB)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest

pytestmark = pytest.mark.integration


TOKEN: dict[str, str] = {}
LAB: dict[str, str] = {}


@pytest.fixture(scope="module", autouse=True)
def signed_in(stack_client) -> None:  # type: ignore[no-untyped-def]
    TOKEN["value"] = stack_client.officer_token("api-test-officer", "customs", "*")
    LAB["value"] = stack_client.token_for("api-test-lab", ["lab"])


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


def test_health_is_public_and_everything_else_needs_a_token(stack) -> None:  # type: ignore[no-untyped-def]
    status, body = call(stack, "GET", "/health", token=None)
    assert status == 200 and body["status"] == "ok"
    assert call(stack, "GET", "/bookings/BK-none", token=None) == (401, {"message": "Unauthorized"})
    assert call(stack, "GET", "/bookings/BK-none", token="not.a.token")[0] == 401
    forged = TOKEN["value"].rsplit(".", 1)[0] + ".AAAA"
    assert call(stack, "GET", "/bookings/BK-none", token=forged)[0] == 401
    assert call(stack, "GET", "/bookings/BK-none", token="Bearer " + TOKEN["value"])[0] == 404


def test_unknown_things_are_404(stack) -> None:  # type: ignore[no-untyped-def]
    assert call(stack, "GET", "/passages/psg-does-not-exist")[0] == 404
    assert call(stack, "GET", "/bookings/BK-none")[0] == 404
    status, body = call(stack, "GET", "/nowhere")
    assert status == 404 and "no API route" in body["message"]


def test_gate_roles_read_any_declaration_and_the_booking_carries_a_copy(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    from domain_fixtures import booking, consignment

    c = consignment(f"C-{uuid.uuid4().hex[:8]}", plate="24C-777.78")
    b = booking(c, f"BK-{uuid.uuid4().hex[:8]}")
    stack_client.consignments.put(c)
    stack_client.bookings.put(b, c)
    status, read = call(stack, "GET", f"/consignments/{c.consignment_id}")
    assert status == 200 and read["schema"] == "Consignment.v1" and read["goods"][0]["hs_code"] == "400122"
    status, view = call(stack, "GET", f"/bookings/{b.booking_id}")
    assert status == 200 and view["booking"]["consignment_id"] == c.consignment_id
    booked = stack_client.bookings.booked(b.booking_id)
    assert booked is not None and booked.consignment == c  # the declaration travels with the booking
    status, body = call(stack, "GET", "/consignments/C-nowhere")
    assert status == 404 and body["errors"][0]["field"] == "path.consignment_id"


def test_traders_cannot_use_the_gates_routes(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    trader = stack_client.token_for("api-test-trader", ["traders"], "TR-API")
    status, body = call(stack, "GET", "/gates/sandbox/queues", token=trader)
    assert status == 403 and "operators or officers or lab" in body["detail"]
    assert call(stack, "GET", "/passages/psg-any", token=trader)[0] == 403


def test_lab_requests_are_checked_before_anything_is_stored(stack) -> None:  # type: ignore[no-untyped-def]
    status, body = call(
        stack,
        "POST",
        "/passages/psg-nope/lab-samples",
        {"sample_id": "S-1", "tests": ["phytosanitary"], "taken_by": "lab-1"},
    )
    assert status == 404 and "psg-nope" in body["detail"]
    status, body = call(
        stack, "POST", "/passages/psg-nope/lab-samples", {"sample_id": "S-1", "tests": [], "taken_by": "lab-1"}
    )
    assert status == 422 and [e["field"] for e in body["errors"]] == ["body.tests"]
    status, body = call(
        stack,
        "POST",
        "/passages/psg-nope/lab-samples/S-1/result",
        {"outcome": "maybe", "tested_by": "lab-2"},
        token=LAB["value"],
    )
    assert status == 422 and [e["field"] for e in body["errors"]] == ["body.outcome"]


def test_gate_queues(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    status, body = call(stack, "GET", "/gates/sandbox/queues")
    assert status == 200 and set(body) == {"inspection", "lab"}
    nowhere = stack_client.token_for("api-test-officer-no-gates", ["officers", "customs"])
    status, body = call(stack, "GET", "/gates/sandbox/queues", token=nowhere)
    assert status == 403 and body["errors"][0]["field"] == "path.gate_id"  # an officer serving no gate
    status, body = call(stack, "GET", "/gates/atlantis/queues")
    assert status == 404 and "kimthanh2" in body["detail"]
