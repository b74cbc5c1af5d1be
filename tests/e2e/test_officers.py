"""Officers on the real local stack: a RED truck pages them in their language, an acknowledged alert stops,
an unacknowledged one escalates to the supervisor; an officer's release opens the lane's barrier and is on
the record; refused attempts (no reason, wrong role, stale view, a closed passage) are refused and on the
record too; two officers racing on one passage: one wins; a corrected plate read becomes a labelled example
that `smartgate corrections export` writes for `make bench-vision`.

Lanes of the sandbox gate used here: out-52, out-53, out-54, out-56, in-28 (nobody else's)."""

from __future__ import annotations

import csv
import hmac
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from smartgate.domain.crossing import signature_valid
from smartgate.schemas import BarrierAction, PlateRead
from smartgate_infra.api_client import ApiClient
from smartgate_infra.demo import Lanes, command_keys, wait_for
from smartgate_infra.stack import ROOT

pytestmark = pytest.mark.e2e
GATE = "sandbox"


@pytest.fixture(scope="module")
def lanes(stack, stack_client) -> Iterator[Lanes]:  # type: ignore[no-untyped-def]
    lanes = Lanes(stack, command_keys(stack_client))
    yield lanes
    lanes.close()


@pytest.fixture(scope="module")
def customs(stack, stack_client) -> ApiClient:  # type: ignore[no-untyped-def]
    return ApiClient(stack.api_url, stack_client.officer_token("e2e-customs", "customs", GATE, "zh"))


def _eventually(probe: Any, timeout: float, what: str) -> Any:
    found = wait_for(probe, timeout, 0.3)
    assert found, f"not within {timeout:.0f} s: {what}"
    return found


def _alert_of(api: ApiClient, passage_id: str) -> dict[str, Any] | None:
    reply = api.get("/alerts", gate_id=GATE, limit=100)
    assert reply.status == 200, reply.raw
    return next((a for a in reply.body["items"] if a["passage_id"] == passage_id), None)


def _held_truck(lanes: Lanes, lane: str, plate: str) -> str:
    result = lanes.lane(GATE, lane).cross(plate, "VN", timeout=20)
    assert result.command is not None and result.command.action == BarrierAction.HOLD, result
    return result.command.passage_id


def _passage(api: ApiClient, passage_id: str) -> dict[str, Any]:
    reply = api.get(f"/passages/{passage_id}")
    assert reply.status == 200, reply.raw
    return dict(reply.body)


def _act(api: ApiClient, passage_id: str, **body: Any) -> Any:
    return api.post(f"/passages/{passage_id}/actions", body, key=f"act-{uuid.uuid4().hex}")


def _audit(api: ApiClient, passage_id: str) -> list[dict[str, Any]]:
    reply = api.get(f"/passages/{passage_id}/audit")
    assert reply.status == 200, reply.raw
    return list(reply.body)


def test_red_truck_alerts_officers_in_each_language_ack_stops_it_and_silence_escalates(  # type: ignore[no-untyped-def]
    lanes, customs, stack_client
) -> None:
    sms = customs.post("/officers/me/devices", {"kind": "sms", "address": "+84 912 345 678", "label": "duty phone"})
    assert sms.status in (200, 201), sms.raw
    push = customs.post("/officers/me/devices", {"kind": "fcm", "address": f"fcm-token-{uuid.uuid4().hex}"})
    assert push.status == 201 and push.body["subscriptions"] == 2, push.raw  # one gate x two severities
    again = customs.post("/officers/me/devices", {"kind": "sms", "address": "+84912345678", "label": "duty phone"})
    assert again.status == 200 and again.body["device_id"] == sms.body["device_id"]  # same number: same device
    sns = stack_client.client("sns")
    topic = next(
        t["TopicArn"] for t in sns.list_topics()["Topics"] if t["TopicArn"].endswith("alerts-sandbox-critical")
    )
    subs = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert {"sms", "application"} <= {s["Protocol"] for s in subs}
    mine = next(s for s in subs if s["Protocol"] == "sms" and s["Endpoint"] == "+84912345678")
    policy = sns.get_subscription_attributes(SubscriptionArn=mine["SubscriptionArn"])
    assert (
        '"locale": ["zh"]' in policy["Attributes"]["FilterPolicy"] and "customs" in policy["Attributes"]["FilterPolicy"]
    )

    english = customs.call("PUT", "/officers/me/locale", {"locale": "en"})
    assert english.status == 200 and english.body["locale"] == "en"
    policy = sns.get_subscription_attributes(SubscriptionArn=mine["SubscriptionArn"])["Attributes"]["FilterPolicy"]
    assert '"locale": ["en"]' in policy  # the phone now gets the English text
    assert customs.call("PUT", "/officers/me/locale", {"locale": "fr"}).fields() == ["body.locale"]

    started = time.monotonic()
    acked_id = _held_truck(lanes, "out-52", "29C-521.52")
    silent_id = _held_truck(lanes, "out-53", "29C-531.53")
    alert = _eventually(lambda: _alert_of(customs, acked_id), 10, "an alert for the RED truck")
    took = time.monotonic() - started
    assert alert["severity"] == "critical" and alert["role"] == "customs" and alert["status"] == "open"
    by_locale = {d["locale"]: d for d in alert["deliveries"]}
    assert set(by_locale) == {"vi", "zh", "en"} and all(d["level"] == 0 for d in alert["deliveries"])
    assert "29C-521.52" in by_locale["en"]["text"] and "RED" in by_locale["en"]["subject"]
    assert "ĐỎ" in by_locale["vi"]["subject"] and "红色" in by_locale["zh"]["subject"]
    assert by_locale["en"]["topic"].endswith("alerts-sandbox-critical")
    assert took < 15, f"alert took {took:.1f} s"

    acked = customs.post(f"/alerts/{alert['alert_id']}/ack")
    assert acked.status == 200 and acked.body["status"] == "acknowledged" and acked.body["acked_by"] == "e2e-customs"

    escalated = _eventually(
        lambda: (a := _alert_of(customs, silent_id)) and a["level"] == 1 and a, 60, "the silent alert escalated"
    )
    assert escalated["role"] == "supervisor" and escalated["status"] == "open"
    level1 = [d for d in escalated["deliveries"] if d["level"] == 1]
    assert {d["locale"] for d in level1} == {"vi", "zh", "en"} and all(d["role"] == "supervisor" for d in level1)
    assert next(d for d in level1 if d["locale"] == "en")["subject"].startswith("ESCALATED")
    still = _alert_of(customs, acked_id)
    assert still is not None and still["level"] == 0 and still["status"] == "acknowledged"
    assert {d["level"] for d in still["deliveries"]} == {0}  # nobody else was paged

    out = subprocess.run(
        [sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(stack_client.state.state_dir), "alerts", GATE],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stderr
    assert alert["alert_id"] in out.stdout and "acknowledged" in out.stdout and "supervisor" in out.stdout


def test_officer_release_opens_the_barrier_and_every_attempt_is_on_the_record(  # type: ignore[no-untyped-def]
    lanes, customs, stack, stack_client
) -> None:
    passage_id = _held_truck(lanes, "out-54", "29C-541.54")
    passage = _passage(customs, passage_id)
    version = passage["version"]
    guard = ApiClient(stack.api_url, stack_client.officer_token("e2e-guard", "border_guard", GATE))
    elsewhere = ApiClient(stack.api_url, stack_client.officer_token("e2e-far", "customs", "kimthanh2"))
    trader = ApiClient(stack.api_url, stack_client.token_for("e2e-officers-trader", ["traders"], "CO-E2E-OFF"))

    no_reason = _act(customs, passage_id, action="release", reason=" ", version=version)
    assert no_reason.status == 422 and no_reason.fields() == ["body.reason"]
    wrong_role = _act(guard, passage_id, action="release", reason="looks fine", version=version)
    assert wrong_role.status == 403 and wrong_role.fields() == ["body.action"]
    other_gate = _act(elsewhere, passage_id, action="release", reason="looks fine", version=version)
    assert other_gate.status == 403 and other_gate.fields() == ["gate_id"]
    not_officer = _act(trader, passage_id, action="release", reason="let me through", version=version)
    assert not_officer.status == 403 and not_officer.fields() == ["roles"]
    stale = _act(customs, passage_id, action="release", reason="looks fine", version=version - 1)
    assert stale.status == 409 and stale.fields() == ["body.version"]

    sim = lanes.lane(GATE, "out-54")
    released = _act(customs, passage_id, action="release", reason="documents checked at the booth", version=version)
    assert released.status == 200, released.raw
    assert released.body["status"] == "RELEASED" and released.body["command_id"]
    command = sim.next_command(10)
    assert command is not None and command.action == BarrierAction.OPEN and command.passage_id == passage_id
    assert command.command_id == released.body["command_id"]
    assert signature_valid(command, command_keys(stack_client))
    assert not hmac.compare_digest(command.signature, "")

    closed = _act(customs, passage_id, action="hold", reason="changed my mind", version=released.body["version"])
    assert closed.status == 200  # RELEASED -> HELD is allowed while the truck is still at the lane

    entries = _eventually(
        lambda: (
            (e := _audit(customs, passage_id))
            and any(x["kind"] == "state" and x["actor"] == "officer:e2e-customs" for x in e)
            and e
        ),
        15,
        "the officer's state change in the audit",
    )
    attempts = [e["detail"] for e in entries if e["kind"] == "officer_action"]
    refused = [a for a in attempts if a["outcome"] == "refused"]
    accepted = [a for a in attempts if a["outcome"] == "accepted"]
    assert len(refused) == 5 and {a["officer"] for a in refused} == {
        "e2e-customs",
        "e2e-guard",
        "e2e-far",
        "e2e-officers-trader",
    }
    assert [a["action"] for a in accepted] == ["release", "hold"]
    assert accepted[0]["reason"] == "documents checked at the booth" and accepted[0]["command_id"] == command.command_id
    state = next(e for e in entries if e["kind"] == "state" and e["detail"]["to"] == "RELEASED")
    assert "documents checked at the booth" in state["detail"]["reason"]
    alert = _alert_of(customs, passage_id)
    assert alert is not None and alert["status"] == "resolved"


def test_a_truck_released_from_the_yard_after_the_next_one_came_has_departed(lanes, customs) -> None:  # type: ignore[no-untyped-def]
    """Held, moved aside for the next truck, released there: it drives out (nothing reads the yard's exit),
    so it must not wait RELEASED for ever; no barrier command either, the lane's barrier is the next one's."""
    held = _held_truck(lanes, "out-18", "29C-181.18")
    _held_truck(lanes, "out-18", "29C-182.18")  # the next truck, read 20+ s of capture time later
    version = _passage(customs, held)["version"]

    released = _act(customs, held, action="release", reason="documents checked in the yard", version=version)

    assert released.status == 200, released.raw
    assert released.body["status"] == "DEPARTED" and released.body["command_id"] is None
    passage = _passage(customs, held)
    assert passage["status"] == "DEPARTED" and passage["version"] == released.body["version"]
    entries = _eventually(
        lambda: (e := _audit(customs, held)) and {"RELEASED", "DEPARTED"} <= {x["detail"].get("to") for x in e} and e,
        15,
        "the release and the departure in the audit",
    )
    departed = next(e for e in entries if e["kind"] == "state" and e["detail"]["to"] == "DEPARTED")
    assert departed["actor"] == "lane"


def test_two_officers_racing_on_one_passage_one_wins_both_on_the_record(  # type: ignore[no-untyped-def]
    lanes, customs, stack, stack_client
) -> None:
    passage_id = _held_truck(lanes, "out-56", "29C-561.56")
    version = _passage(customs, passage_id)["version"]
    boss = ApiClient(stack.api_url, stack_client.officer_token("e2e-boss", "supervisor", "*"))
    replies: dict[str, Any] = {}
    barrier = threading.Barrier(2)

    def go(name: str, api: ApiClient, action: str) -> None:
        barrier.wait()
        replies[name] = _act(api, passage_id, action=action, reason=f"{name} decides", version=version)

    threads = [
        threading.Thread(target=go, args=("customs", customs.as_(customs.token), "release")),
        threading.Thread(target=go, args=("boss", boss, "inspect")),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    statuses = sorted(r.status for r in replies.values())
    assert statuses == [200, 409], {k: (r.status, r.raw[:200]) for k, r in replies.items()}
    winner = next(k for k, r in replies.items() if r.status == 200)
    final = _passage(customs, passage_id)
    assert final["status"] == ("RELEASED" if winner == "customs" else "IN_INSPECTION")
    attempts = [e["detail"] for e in _audit(customs, passage_id) if e["kind"] == "officer_action"]
    assert sorted(a["outcome"] for a in attempts) == ["accepted", "refused"]
    assert {a["officer"] for a in attempts} == {"e2e-customs", "e2e-boss"}


def test_a_corrected_plate_read_becomes_a_labelled_example_bench_vision_can_read(  # type: ignore[no-untyped-def]
    lanes, customs, stack_client, tmp_path: Path
) -> None:
    sim = lanes.lane(GATE, "in-28")
    detections = sim.truck("29C-28l.28", "VN")  # the camera misread a 1 as an l
    front = detections[0]
    assert isinstance(front, PlateRead)
    crop_key = f"evidence/{GATE}/in-28/e2e/{front.event_id}-plate.jpg"
    image = np.full((60, 220, 3), 255, np.uint8)
    cv2.putText(image, "29C-281.28", (6, 42), cv2.FONT_HERSHEY_SIMPLEX, 1.1, (0, 0, 0), 2)
    bucket = stack_client.template.resources["EvidenceBucket"].physical_name
    stack_client.client("s3").put_object(Bucket=bucket, Key=crop_key, Body=cv2.imencode(".jpg", image)[1].tobytes())
    result = sim.send([front.model_copy(update={"crop_key": crop_key}), *detections[1:]], timeout=20)
    assert result.command is not None
    passage_id = result.command.passage_id
    evidence = customs.get(f"/passages/{passage_id}/evidence")
    assert evidence.status == 200 and evidence.body[0]["kind"] == "plate" and "Signature" in evidence.body[0]["url"]
    reads = stack_client.trade.accesses_of(f"passage#{passage_id}")
    assert ("e2e-customs", "evidence images") in {(who, what) for _, who, what in reads}  # personal data: recorded

    bad = _act(customs, passage_id, action="correct_plate", reason="read it on the truck", version=1, plate="??")
    assert bad.status in (409, 422)
    version = _passage(customs, passage_id)["version"]
    bad = _act(customs, passage_id, action="correct_plate", reason="read it on the truck", version=version, plate="12")
    assert bad.status == 422 and bad.fields() == ["body.plate"]
    fixed = _act(
        customs, passage_id, action="correct_plate", reason="read it on the truck", version=version, plate="29C-281.28"
    )
    assert fixed.status == 200, fixed.raw
    assert _passage(customs, passage_id)["plate_text"] == "29C-281.28"

    out = tmp_path / "corrections"
    run = subprocess.run(
        [
            sys.executable, "-m", "smartgate_infra.cli", "--state-dir", str(stack_client.state.state_dir),
            "corrections", "export", "--gate", GATE, "--out", str(out),
        ],
        capture_output=True, text=True, timeout=60, cwd=ROOT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    rows = list(csv.DictReader((out / "labels.csv").open(encoding="utf-8")))
    mine = [r for r in rows if r["passage_id"] == passage_id]
    assert mine and mine[0]["plate"] == "29C-281.28" and mine[0]["country"] == "VN" and mine[0]["read"] == "29C-28l.28"
    assert cv2.imread(str(out / mine[0]["file"])) is not None
    from smartgate_edge.vision.bench import load_labels

    assert mine[0]["file"] in load_labels(out)


def test_the_live_lane_view_shows_each_lanes_newest_vehicle_barrier_and_heartbeat(  # type: ignore[no-untyped-def]
    lanes, customs
) -> None:
    passage_id = _held_truck(lanes, "out-54", "29C-542.54")
    lanes.lane(GATE, "out-54").heartbeat(fps=11.5, queue_depth=2)

    def view() -> dict[str, Any] | None:
        reply = customs.get(f"/gates/{GATE}/lanes")
        assert reply.status == 200, reply.raw
        lane = next(v for v in reply.body if v["lane_id"] == "out-54")
        return lane if lane["online"] and lane["passage_id"] == passage_id else None

    lane = _eventually(view, 15, "out-54 online with its newest truck")
    assert lane["barrier"] == "closed" and lane["channel"] == "RED" and lane["plate_text"] == "29C-542.54"
    assert lane["health"]["fps"] == 11.5 and lane["health"]["queue_depth"] == 2
    everything = customs.get(f"/gates/{GATE}/lanes").body
    assert len(everything) == 114 and not next(v for v in everything if v["lane_id"] == "open-19")["online"]
    assert customs.get("/gates/nowhere/lanes").status == 404


def test_an_officer_reads_only_the_gates_they_serve(lanes, customs, stack, stack_client) -> None:  # type: ignore[no-untyped-def]
    passage_id = _held_truck(lanes, "out-53", "29C-532.53")
    far = ApiClient(stack.api_url, stack_client.officer_token("e2e-far", "customs", "kimthanh2"))
    operator = ApiClient(stack.api_url, stack_client.token_for("e2e-officers-operator", ["operators"]))
    for path in (f"/passages/{passage_id}", f"/passages/{passage_id}/evidence", f"/passages/{passage_id}/audit"):
        refused = far.get(path)
        assert refused.status == 403 and refused.fields() == ["path.passage_id"], (path, refused.raw)
        assert customs.get(path).status == 200 and operator.get(path).status == 200
    for path in (f"/gates/{GATE}/lanes", f"/gates/{GATE}/queues"):
        assert far.get(path).status == 403 and customs.get(path).status == 200
    assert far.get("/alerts", gate_id=GATE).fields() == ["query.gate_id"]
    assert far.get("/gates/kimthanh2/queues").status == 200
