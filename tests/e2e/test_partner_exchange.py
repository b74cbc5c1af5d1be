"""The partner gate exchange end to end on the local stack, as the partner's system would see it.

A trader books a truck at the sandbox gate (partner: the simulated gate "sandboxcn"): our ExpectedArrival
reaches the partner's side (the outbound queue, where no partner bus is configured), signed with our key
and stripped to the agreement's allow-list; the truck crosses our lane: VehicleCleared follows. The
partner's own signed VehicleCleared puts "cleared by the partner gate" on the booking's timeline; its
lower published capacity reduces the bookable places of our window. Malformed, unknown-version and badly
signed messages land in the partner dead-letter queue with their reason and change nothing; a duplicate
changes nothing.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from trade_helpers import new_trader

from smartgate import keys, partner
from smartgate.domain.containers import check_digit
from smartgate.domain.slots import WINDOW, window_start
from smartgate.partner.jws import parse_compact
from smartgate.schemas import Direction, utc_now
from smartgate.schemas.partner import CapacityPublished, Inspection, VehicleCleared
from smartgate_infra.demo import Lanes, command_keys

pytestmark = pytest.mark.e2e

GATE, LANE, PARTNER = "sandbox", "out-20", "sandboxcn"
ROOT = Path(__file__).resolve().parents[2]
PARTNER_SEED = "c21hcnRnYXRlLXBhcnRuZXItZGV2LWtleS1zaW0tMDE="  # the simulator's public dev key (template default)
TARE_KG = 15_000


def eventually(probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.3)
    return probe()


def _box(prefix: str) -> str:
    body = f"{prefix}{uuid.uuid4().int % 1_000_000:06d}"
    return f"{body}{check_digit(body)}"


def _outbound(stack_client: Any, reference: str, kind: str) -> list[dict[str, Any]]:
    """Our messages for the partner about ``reference`` of type ``kind``, as they wait in the outbound
    queue (read, not consumed: they reappear for whoever else reads)."""
    sqs = stack_client.client("sqs")
    url = sqs.get_queue_url(QueueName=stack_client.name("PartnerOutboundQueue"))["QueueUrl"]
    found: dict[str, dict[str, Any]] = {}
    for _ in range(100):  # every waiting message once: each batch hides its own for a few seconds
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, WaitTimeSeconds=0)
        if not reply.get("Messages"):
            break
        for m in reply.get("Messages", []):
            event = json.loads(m["Body"])
            if event.get("detail-type") == kind:
                opened = partner.open_event(event, _our_keys(stack_client), PARTNER, GATE)
                if getattr(opened, "reference", None) == reference:
                    found[opened.event_id] = {"event": event, "opened": opened}
    return list(found.values())


def _our_keys(stack_client: Any) -> dict[str, Any]:
    params = stack_client.template.parameters
    key = keys.private_key(str(params["PartnerSigningKey"]))
    return {str(params["PartnerKeyId"]): key.public_key()}


def _put(stack_client: Any, entry: dict[str, str]) -> None:
    reply = stack_client.client("events").put_events(Entries=[entry])
    assert not reply.get("FailedEntryCount"), reply


def _inbound(
    stack_client: Any, event: Any, key: Ed25519PrivateKey | None = None, kid: str = "partner-dev-1"
) -> dict[str, str]:
    agreement = partner.default_agreements("local").between(PARTNER, GATE)
    message = partner.minimise_and_sign(event, agreement, kid, key or keys.private_key(PARTNER_SEED))
    return partner.put_events_entry(message, stack_client.name("PartnerInboundBus"))


def _dead_letters(stack_client: Any) -> list[dict[str, Any]]:
    sqs = stack_client.client("sqs")
    url = sqs.get_queue_url(QueueName=stack_client.name("PartnerDeadLetterQueue"))["QueueUrl"]
    out = []
    for _ in range(100):
        reply = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=5, MessageAttributeNames=["All"]
        )
        if not reply.get("Messages"):
            break
        out += [
            json.loads(m["Body"]) | {"code": m["MessageAttributes"]["reason_code"]["StringValue"]}
            for m in reply.get("Messages", [])
        ]
    return out


def test_the_partner_hears_of_a_booked_truck_and_its_answers_reach_bookings_and_slots(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    trader = new_trader(stack, stack_client, prefix="XB")
    plate, box = "24C-802.17", _box("TCLU")
    declared = trader.declare(plate, driver_id=trader.driver(), vehicle_tare_kg=TARE_KG, container_nos=[box])
    booking = trader.book(declared["consignment_id"], window_start(utc_now())).body
    reference = booking["booking_id"]

    # our ExpectedArrival reaches the partner's side: signed by us, only the agreed fields
    [arrival] = eventually(lambda: _outbound(stack_client, reference, "ExpectedArrival.v1"), 30) or [None]
    assert arrival is not None, "no ExpectedArrival for the partner"
    sent = arrival["opened"]
    assert sent.plate_text == plate and sent.container_nos == [box] and sent.to_gate == PARTNER
    signed = json.loads(parse_compact(arrival["event"]["detail"]["jws"]).payload)  # what actually left
    assert "driver_name" not in signed and "driver_document_no" not in signed
    frozen = json.loads((ROOT / "docs" / "partner" / "schemas" / "ExpectedArrival.v1.json").read_text(encoding="utf-8"))
    assert list(jsonschema.Draft202012Validator(frozen).iter_errors(signed)) == []  # the published contract
    assert not {"value", "currency", "net_kg", "trader_id", "company_name"} & set(json.dumps(signed).split('"'))

    # the truck crosses our lane: the partner hears it was cleared
    lanes = Lanes(stack, command_keys(stack_client))
    try:
        gross = sum(line["gross_kg"] for line in declared["goods"]) + TARE_KG
        token = trader.api.get(f"/bookings/{reference}/pass").body["token"]
        result = lanes.lane(GATE, LANE).cross(
            plate, "VN", containers=(box,), weight_kg=gross, pass_token=token, timeout=20
        )
        assert result.ok, result.error
    finally:
        lanes.close()
    if result.command.action.value == "open":
        [cleared] = eventually(lambda: _outbound(stack_client, reference, "VehicleCleared.v1"), 30) or [None]
        assert cleared is not None and cleared["opened"].channel.value == "GREEN"
        assert cleared["opened"].inspection == Inspection.NONE

    # the partner's clearance reaches the booking's timeline (the trader follows it)
    theirs = VehicleCleared(
        event_id=f"sandboxcn-vc-{uuid.uuid4().hex[:10]}",
        from_gate=PARTNER,
        to_gate=GATE,
        occurred_at=utc_now(),
        reference=reference,
        plate_text=plate,
        country="VN",
        container_nos=[box],
        direction=Direction.VN_TO_CN,
        channel="GREEN",
        inspection=Inspection.DOCUMENTS,
        cleared_at=utc_now(),
    )
    entry = _inbound(stack_client, theirs)
    _put(stack_client, entry)

    def partner_steps() -> list[str]:
        timeline = trader.api.get(f"/bookings/{reference}/timeline").body
        return [e["status"] for e in timeline if e["status"].startswith("partner_")]

    assert eventually(lambda: partner_steps() == ["partner_cleared"], 30), partner_steps()
    _put(stack_client, entry)  # the same message again: nothing changes
    time.sleep(3)
    assert partner_steps() == ["partner_cleared"]

    # the partner's lower capacity reduces our bookable places in that window
    later = window_start(utc_now() + timedelta(hours=30))
    day = later.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().isoformat()

    def window() -> dict[str, Any]:
        slots = trader.api.get("/slots", gate_id=GATE, direction="VN_TO_CN", date=day).body
        return next(w for w in slots if w["start"].startswith(later.strftime("%Y-%m-%dT%H:%M")))

    before = window()
    capacity = CapacityPublished(
        event_id=f"sandboxcn-cap-{uuid.uuid4().hex[:10]}",
        from_gate=PARTNER,
        to_gate=GATE,
        occurred_at=utc_now(),
        direction=Direction.VN_TO_CN,
        window_start=later,
        window_end=later + WINDOW,
        capacity=1,
    )
    _put(stack_client, _inbound(stack_client, capacity))
    after = eventually(lambda: (w := window())["capacity"] == 1 and w, 30)
    assert after and before["capacity"] > 1 and after["free"] <= 1, (before, after)

    # refused: malformed, an unknown version, a bad signature — into the DLQ with the reason, nothing changes
    bus = stack_client.name("PartnerInboundBus")
    bad_key = _inbound(
        stack_client, theirs.model_copy(update={"event_id": "sandboxcn-vc-forged-1"}), Ed25519PrivateKey.generate()
    )
    unknown = dict(entry) | {"DetailType": "VehicleCleared.v9"}
    unknown_detail = json.loads(unknown["Detail"]) | {"type": "VehicleCleared.v9", "message_id": "sandboxcn-v9-1"}
    unknown["Detail"] = json.dumps(unknown_detail)
    malformed = {
        "Source": f"smartgate.partner.{PARTNER}",
        "DetailType": "VehicleCleared.v1",
        "Detail": json.dumps({"from_gate": PARTNER, "oops": True}),
        "EventBusName": bus,
    }
    for faulty in (bad_key, unknown, malformed):
        _put(stack_client, faulty)
    seen: set[str] = set()  # each read hides what it got for a few seconds: gather across reads

    def refused_codes() -> set[str]:
        seen.update(d["code"] for d in _dead_letters(stack_client))
        return seen if seen >= {"bad_signature", "malformed"} else set()

    codes = eventually(refused_codes, 30)
    assert codes, "refused partner messages did not reach the dead-letter queue"
    assert codes & {"unknown_type_or_version", "type_mismatch", "malformed"}
    assert partner_steps() == ["partner_cleared"]


def test_refusals_at_an_abnormal_rate_alert_the_supervisor(stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    forger = Ed25519PrivateKey.generate()
    for n in range(12):  # well over the 5 a window tolerates, whatever window boundary falls in between
        forged = CapacityPublished(
            event_id=f"sandboxcn-forged-{uuid.uuid4().hex[:8]}-{n}",
            from_gate=PARTNER,
            to_gate=GATE,
            occurred_at=utc_now(),
            direction=Direction.VN_TO_CN,
            window_start=window_start(utc_now() + timedelta(hours=40)),
            window_end=window_start(utc_now() + timedelta(hours=40)) + WINDOW,
            capacity=0,
        )
        _put(stack_client, _inbound(stack_client, forged, forger))

    def alarm() -> list[Any]:
        return [a for a in stack_client.alerts.for_gate(GATE, limit=50)[0] if a.kind == "partner_exchange"]

    found = eventually(alarm, 40)
    assert found and found[0].role == "supervisor" and found[0].facts["partner"] == PARTNER
    assert "bad_signature" in found[0].facts["rules"]
