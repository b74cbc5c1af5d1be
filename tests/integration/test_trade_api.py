"""Traders through the REST API on the local stack: declare, book, the pass, reschedule, cancel; bad input
refused naming the field with nothing stored; one company never sees or changes another's records."""

from __future__ import annotations

import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import cv2
import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from smartgate_edge.vision.qr import decode_qr
from trade_helpers import GOODS, future_window, new_trader, operator

from smartgate.domain.gates import default_gates
from smartgate.domain.passes import Ed25519PassVerifier
from smartgate_infra.api_client import ApiClient

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trader(stack, stack_client):  # type: ignore[no-untyped-def]
    return new_trader(stack, stack_client)


@pytest.fixture(scope="module")
def rival(stack, stack_client):  # type: ignore[no-untyped-def]
    return new_trader(stack, stack_client, prefix="RV")


def test_signing_in_through_the_api_gives_a_token_the_api_accepts(stack, stack_client, trader) -> None:  # type: ignore[no-untyped-def]
    api = ApiClient(stack.api_url)
    username = f"user-{trader.company_id.lower()}"
    token = api.sign_in(username, stack_client.LOCAL_PASSWORD)
    me = api.as_(token).get("/me")
    assert me.status == 200 and me.body["company_id"] == trader.company_id and me.body["roles"] == ["traders"]
    wrong = api.post("/sessions", {"username": username, "password": "not-the-password"})
    assert wrong.status == 401 and wrong.fields() == ["body.password"]


def test_a_company_user_with_a_temporary_password_sets_a_new_one(stack, stack_client, trader) -> None:  # type: ignore[no-untyped-def]
    username = f"new-{trader.company_id.lower()}"
    created = trader.api.post(f"/companies/{trader.company_id}/users", {"username": username, "locale": "zh"})
    assert created.status == 201 and created.body["company_id"] == trader.company_id
    api = ApiClient(stack.api_url)
    first = api.post("/sessions", {"username": username, "password": created.body["temporary_password"]})
    assert first.status == 409 and first.fields() == ["body.new_password"]
    second = api.post(
        "/sessions",
        {"username": username, "password": created.body["temporary_password"], "new_password": "Dongxing-border-2026"},
    )
    assert second.status == 201
    assert api.as_(second.body["id_token"]).get("/me").body["company_id"] == trader.company_id
    again = trader.api.post(f"/companies/{trader.company_id}/users", {"username": username})
    assert again.status == 409 and again.fields() == ["body.username"]


def test_declare_book_and_get_a_pass_the_lane_verifies_offline(stack, stack_client, trader) -> None:  # type: ignore[no-untyped-def]
    driver = trader.api.post(
        "/drivers",
        {"full_name": "Nguyễn Văn An", "document_number": "B12345678", "country": "VN", "phone": "+84 912 345 678"},
    )
    assert driver.status == 201
    consignment = trader.declare("24C-123.45", driver_id=driver.body["driver_id"])
    assert consignment["trader_id"] == trader.company_id and consignment["consignment_id"].startswith("C-")
    start = future_window(30)
    day = start.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()
    before = {w["start"]: w for w in trader.api.get("/slots", gate_id="sandbox", direction="VN_TO_CN", date=day).body}
    booked = trader.book(consignment["consignment_id"], start)
    assert booked.status == 201, booked.raw
    booking = booked.body
    assert (booking["plate_text"], booking["driver_id"], booking["status"]) == (
        "24C-123.45",
        driver.body["driver_id"],
        "BOOKED",
    )
    after = {w["start"]: w for w in trader.api.get("/slots", gate_id="sandbox", direction="VN_TO_CN", date=day).body}
    key = start.isoformat().replace("+00:00", "Z")
    assert after[key]["booked"] == before[key]["booked"] + 1 and after[key]["free"] == before[key]["free"] - 1

    issued = trader.api.get(f"/bookings/{booking['booking_id']}/pass")
    assert issued.status == 200
    token = issued.body["token"]
    lane = Ed25519PassVerifier(stack_client.signer.public_keys())
    check = lane.check(token, "sandbox", "VN_TO_CN", start + timedelta(minutes=5))
    assert check.valid and check.in_window and check.booking_id == booking["booking_id"]
    assert not lane.check(token, "kimthanh2", "VN_TO_CN", start).valid
    assert (
        not Ed25519PassVerifier({issued.body["key_id"]: Ed25519PrivateKey.generate().public_key()})
        .check(token, "sandbox", "VN_TO_CN", start)
        .valid
    )

    png = trader.api.call("GET", issued.body["png"], headers={"Accept": "image/png"})
    assert png.status == 200 and png.headers["content-type"] == "image/png"
    image = cv2.imdecode(np.frombuffer(png.raw, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert [code.payload for code in decode_qr(image)] == [token]  # as the lane's camera decodes it
    svg = trader.api.get(issued.body["svg"])
    assert svg.status == 200 and svg.raw.startswith(b"<svg") and svg.headers["content-type"] == "image/svg+xml"

    view = trader.api.get(f"/bookings/{booking['booking_id']}")
    assert view.body["booking"]["booking_id"] == booking["booking_id"]
    assert [e["status"] for e in view.body["timeline"]] == ["booked"]
    listed = trader.api.get("/bookings", limit=50).body["items"]
    assert booking["booking_id"] in [b["booking_id"] for b in listed]
    told = trader.api.get("/notifications").body["items"]
    assert any(n["booking_id"] == booking["booking_id"] and n["kind"] == "booked" for n in told)
    accesses = stack_client.trade_store().accesses_of(f"booking#{booking['booking_id']}")
    assert accesses and all(who == f"user-{trader.company_id.lower()}" for _, who, _ in accesses)


def test_reschedule_then_cancel_frees_each_window(trader) -> None:  # type: ignore[no-untyped-def]
    consignment = trader.declare("24C-234.56")
    first, second = future_window(31), future_window(31, 30)
    booking = trader.book(consignment["consignment_id"], first).body
    moved = trader.api.post(f"/bookings/{booking['booking_id']}/reschedule", {"window_start": second.isoformat()})
    assert moved.status == 200 and moved.body["slot_start"] == second.isoformat().replace("+00:00", "Z")
    again = trader.book(consignment["consignment_id"], first)
    assert again.status == 409 and again.fields() == ["body.consignment_id"]
    cancelled = trader.api.post(f"/bookings/{booking['booking_id']}/cancel")
    assert cancelled.status == 200 and cancelled.body["status"] == "CANCELLED"
    assert trader.api.post(f"/bookings/{booking['booking_id']}/cancel").status == 200  # again: no change
    assert trader.api.get(f"/bookings/{booking['booking_id']}/pass").status == 409
    timeline = [e["status"] for e in trader.api.get(f"/bookings/{booking['booking_id']}/timeline").body]
    assert timeline == ["booked", "rescheduled", "cancelled"]
    rebooked = trader.book(consignment["consignment_id"], first)  # the declaration is free again
    assert rebooked.status == 201


def test_one_vehicle_cannot_hold_a_run_of_windows(trader) -> None:  # type: ignore[no-untyped-def]
    plate = "24C-246.13"
    first = future_window(44)
    held = trader.book(trader.declare(plate)["consignment_id"], first)
    assert held.status == 201
    hoard = trader.declare(plate)  # another declaration for the same truck, an hour later
    refused = trader.book(hoard["consignment_id"], first + timedelta(hours=1))
    assert refused.status == 409 and refused.fields() == ["body.window_start"], refused.raw
    assert held.body["booking_id"] in refused.problem["detail"]
    back = trader.declare(plate, direction="CN_TO_VN", goods=[{**GOODS[0], "origin": "CN"}])
    assert trader.book(back["consignment_id"], first + timedelta(hours=1)).status == 201  # the way back is a trip
    assert trader.book(hoard["consignment_id"], first + timedelta(hours=5)).status == 201  # the next trip
    later = trader.api.post(
        f"/bookings/{held.body['booking_id']}/reschedule", {"window_start": (first + timedelta(hours=4)).isoformat()}
    )
    assert later.status == 409 and later.fields() == ["body.window_start"]  # next to that next trip


def test_the_same_idempotency_key_gives_the_first_answer_and_another_body_is_refused(trader) -> None:  # type: ignore[no-untyped-def]
    consignment = trader.declare("24C-345.67")
    body = {"consignment_id": consignment["consignment_id"], "window_start": future_window(32).isoformat()}
    first = trader.api.call("POST", "/bookings", body, headers={"Idempotency-Key": "retry-test-0001"})
    second = trader.api.call("POST", "/bookings", body, headers={"Idempotency-Key": "retry-test-0001"})
    assert first.status == second.status == 201 and first.body == second.body
    other = trader.api.call(
        "POST",
        "/bookings",
        {**body, "window_start": future_window(33).isoformat()},
        headers={"Idempotency-Key": "retry-test-0001"},
    )
    assert other.status == 422 and other.fields() == ["Idempotency-Key"]
    bookings = [
        b
        for b in trader.api.get("/bookings", limit=100).body["items"]
        if b["consignment_id"] == consignment["consignment_id"]
    ]
    assert len(bookings) == 1


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"plate_text": "24C-12A.45"}, "body.plate_text"),
        ({"country": "CN", "plate_text": "24C-123.45"}, "body.plate_text"),
        ({"container_nos": ["MSCU1234560"]}, "body.container_nos.0"),
        ({"goods": [{**GOODS[0], "hs_code": "08A0"}]}, "body.goods.0.hs_code"),
        ({"goods": [{**GOODS[0], "gross_kg": 10}]}, "body.goods.0"),
        ({"gate_id": "nowhere"}, "body.gate_id"),
        ({"driver_id": "DR-nobody"}, "body.driver_id"),
    ],
)
def test_a_bad_declaration_names_its_field_and_stores_nothing(trader, change, field) -> None:  # type: ignore[no-untyped-def]
    before = trader.api.get("/consignments", limit=100).body["items"]
    body = {
        "gate_id": "sandbox",
        "direction": "VN_TO_CN",
        "country": "VN",
        "plate_text": "24C-123.45",
        "goods": GOODS,
        **change,
    }
    reply = trader.api.post("/consignments", body)
    assert reply.status == 422, reply.raw
    assert reply.headers["content-type"] == "application/problem+json" and field in reply.fields()
    assert trader.api.get("/consignments", limit=100).body["items"] == before


def test_bad_slots_are_refused_naming_the_window(trader) -> None:  # type: ignore[no-untyped-def]
    consignment = trader.declare("24C-456.78")
    for start, words in [
        (future_window(1) - timedelta(hours=3), "in the past"),
        (future_window(34) + timedelta(minutes=5), "not the start"),
        (future_window(24 * 15), "days ahead"),
    ]:
        reply = trader.book(consignment["consignment_id"], start)
        assert reply.status == 422 and reply.fields() == ["body.window_start"], reply.raw
        assert words in reply.problem["detail"]
    held = [
        b
        for b in trader.api.get("/bookings", limit=100).body["items"]
        if b["consignment_id"] == consignment["consignment_id"]
    ]
    assert held == [] and trader.api.get(f"/consignments/{consignment['consignment_id']}").status == 200


def test_another_companys_records_are_invisible_and_unchangeable(trader, rival) -> None:  # type: ignore[no-untyped-def]
    consignment = trader.declare("24C-567.89")
    booking = trader.book(consignment["consignment_id"], future_window(35)).body
    cid, bid = consignment["consignment_id"], booking["booking_id"]
    for path in (
        f"/consignments/{cid}",
        f"/bookings/{bid}",
        f"/bookings/{bid}/pass",
        f"/bookings/{bid}/pass.png",
        f"/bookings/{bid}/timeline",
        f"/companies/{trader.company_id}",
    ):
        reply = rival.api.call("GET", path, headers={"Accept": "*/*"})
        assert reply.status == 404, (path, reply.status)
        assert cid not in reply.raw.decode() or path.startswith("/consignments")
    assert rival.api.post(f"/bookings/{bid}/cancel").status == 404
    assert rival.api.post(f"/bookings/{bid}/reschedule", {"window_start": future_window(36).isoformat()}).status == 404
    stolen = rival.book(cid, future_window(36))
    assert stolen.status == 404 and stolen.fields() == ["body.consignment_id"]
    assert (
        rival.api.post(
            "/companies", {"company_id": "RV-EVIL", "name": "x", "country": "VN", "tax_id": "0101234567"}
        ).status
        == 403
    )
    assert (
        rival.api.put(
            "/gates/sandbox/capacity",
            {"direction": "VN_TO_CN", "windows": [{"start": future_window(35).isoformat(), "capacity": 0}]},
        ).status
        == 403
    )
    assert cid not in [c["consignment_id"] for c in rival.api.get("/consignments", limit=100).body["items"]]
    assert trader.api.get(f"/bookings/{bid}").body["booking"]["status"] == "BOOKED"


def test_a_full_window_is_refused_and_a_lowered_capacity_moves_the_last_booked(stack, stack_client, trader) -> None:  # type: ignore[no-untyped-def]
    gate = operator(stack, stack_client)
    start = future_window(40)
    assert (
        gate.put(
            "/gates/sandbox/capacity",
            {"direction": "CN_TO_VN", "windows": [{"start": start.isoformat(), "capacity": 3}]},
        ).status
        == 200
    )
    bookings = []
    for n in range(3):
        c = trader.declare(f"29C-11{n}.22", direction="CN_TO_VN")
        reply = trader.book(c["consignment_id"], start)
        assert reply.status == 201, reply.raw
        bookings.append(reply.body["booking_id"])
    extra = trader.declare("29C-119.22", direction="CN_TO_VN")
    full = trader.book(extra["consignment_id"], start)
    assert full.status == 409 and full.fields() == ["body.window_start"] and "full" in full.problem["detail"]

    dropped = gate.put(
        "/gates/sandbox/capacity",
        {"direction": "CN_TO_VN", "windows": [{"start": start.isoformat(), "partner_capacity": 1}]},
    )
    assert dropped.status == 200, dropped.raw
    window = dropped.body["windows"][0]
    assert (window["capacity"], window["our_capacity"], window["partner_capacity"], window["booked"]) == (1, 3, 1, 1)
    moved = dropped.body["moved"]
    assert [m["booking_id"] for m in moved] == bookings[1:]  # booking order: the first keeps its place
    nxt = (start + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    assert all(m["to_start"] == nxt for m in moved)
    for bid in bookings[1:]:
        assert trader.api.get(f"/bookings/{bid}").body["booking"]["slot_start"] == nxt
        assert "moved" in [e["status"] for e in trader.api.get(f"/bookings/{bid}/timeline").body]
    kinds = [(n["booking_id"], n["kind"]) for n in trader.api.get("/notifications", limit=100).body["items"]]
    assert all((bid, "moved") in kinds for bid in bookings[1:])


def test_errors_are_problem_json_for_junk_bodies_queries_and_paths(trader) -> None:  # type: ignore[no-untyped-def]
    junk = trader.api.call("POST", "/consignments", raw=b"{not json")
    assert junk.status == 400 and junk.fields() == ["body"]
    array = trader.api.call("POST", "/bookings", raw=b"[1, 2]")
    assert array.status == 422 and array.fields() == ["body"]
    query = trader.api.get("/slots", gate_id="sandbox", direction="SIDEWAYS", date="2026-13-01")
    assert query.status == 422 and query.fields() == ["query.direction"]
    missing = trader.api.get("/slots", gate_id="sandbox")
    assert missing.status == 422 and missing.fields() == ["query.direction"]
    limit = trader.api.get("/bookings", limit=0)
    assert limit.status == 422 and limit.fields() == ["query.limit"]
    cursor = trader.api.get("/bookings", cursor="!!")
    assert cursor.status == 422 and cursor.fields() == ["query.cursor"]


def test_pages_follow_their_cursor(trader) -> None:  # type: ignore[no-untyped-def]
    for n in range(3):
        trader.api.post("/vehicles", {"plate_text": f"24C-60{n}.11", "country": "VN"})
    first = trader.api.get("/vehicles", limit=2).body
    assert len(first["items"]) == 2 and first["next"]
    second = trader.api.get("/vehicles", limit=2, cursor=first["next"]).body
    seen = {v["vehicle_id"] for v in first["items"] + second["items"]}
    assert {"24C60011", "24C60111", "24C60211"} <= seen


def test_the_openapi_document_is_public_and_valid(stack) -> None:  # type: ignore[no-untyped-def]
    from openapi_spec_validator import validate

    reply = ApiClient(stack.api_url).get("/openapi.json")
    assert reply.status == 200
    validate(reply.body)


def test_a_booking_is_stored_and_told_once_through_the_outbox_and_the_trader_topic(stack_client, trader) -> None:  # type: ignore[no-untyped-def]
    booking = trader.book(trader.declare("24C-357.91")["consignment_id"], future_window(45)).body
    outbox = trader.api.get("/notifications", limit=50).body["items"]
    assert [n["kind"] for n in outbox if n["booking_id"] == booking["booking_id"]] == ["booked"]
    sent: list = []
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not sent:
        sent += [
            m
            for m in stack_client.tapped()
            if m.get("Type") == "Notification"
            and m.get("MessageAttributes", {}).get("company_id", {}).get("Value") == trader.company_id
            and booking["booking_id"] in m["Message"]
        ]
        time.sleep(0.2)
    assert len(sent) == 1 and sent[0]["MessageAttributes"]["kind"]["Value"] == "booked", sent
    assert sent[0]["TopicArn"].endswith("-trader-notifications"), sent[0]["TopicArn"]


def test_the_wait_forecast_follows_the_bookings_and_names_bad_queries(trader) -> None:  # type: ignore[no-untyped-def]
    start = future_window(1)  # an hour and a bit ahead: inside a 3-hour forecast
    key = start.isoformat().replace("+00:00", "Z")

    def forecast() -> dict:  # type: ignore[type-arg]
        reply = trader.api.get("/gates/sandbox/waits", direction="VN_TO_CN", hours=3)
        assert reply.status == 200, reply.raw
        return reply.body  # type: ignore[no-any-return]

    before = forecast()
    lanes = default_gates("local").gates["sandbox"].all_lanes().values()
    exports = sum(1 for lane in lanes if lane.direction.value == "VN_TO_CN")  # the registry's, as the API counts
    assert before["lanes"] == exports and 0 < before["lanes_serving"] <= exports and "walk-ins" in before["basis"]
    window = {w["start"]: w for w in before["windows"]}[key]
    consignment = trader.declare("24C-451.72")
    assert trader.book(consignment["consignment_id"], start).status == 201
    after = {w["start"]: w for w in forecast()["windows"]}[key]
    assert after["booked"] == window["booked"] + 1
    assert after["expected_trucks"] == pytest.approx(window["expected_trucks"] + 1 / 0.7, abs=0.11)
    assert all(w["level"] in ("low", "moderate", "high", "closed") for w in forecast()["windows"])
    assert trader.api.get("/gates/sandbox/waits", direction="VN_TO_CN", hours=0).fields() == ["query.hours"]
    assert trader.api.get("/gates/nowhere/waits", direction="VN_TO_CN").status == 404
    assert trader.api.get("/gates/sandbox/waits", direction="SIDEWAYS").status == 422
