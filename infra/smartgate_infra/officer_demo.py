"""`make demo`, section 9: an officer on duty, through the REST API as the console does — the operator
creates a customs officer for the sandbox gate, who signs in (setting a password), registers a phone for
alerts; an unbooked truck is held RED; the alert reaches the outbox in vi / zh / en within seconds; the
officer looks at the passage and releases it with a reason; the lane receives the signed OPEN command; the
audit shows the refused attempt without a reason and the release."""

from __future__ import annotations

import time
import uuid
from typing import Any

from smartgate.domain.crossing import signature_valid
from smartgate.schemas import BarrierAction
from smartgate_infra.api_client import ApiClient
from smartgate_infra.client import StackClient
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import StackState
from smartgate_infra.trader_demo import DemoStepFailed, _ok, _until, section

GATE, LANE = "sandbox", "out-51"


def run_officer(state: StackState, client: StackClient, say: Any = print) -> bool:
    title = "9. An officer on duty (as the console): an alert in their language, a release with a reason"
    return section(title, _run, state, client, say)


def _run(state: StackState, client: StackClient, say: Any) -> bool:
    operator = ApiClient(state.api_url, client.token_for("demo-operator", ["operators"]))
    username = f"customs-{uuid.uuid4().hex[:6]}"
    created = _ok(
        operator.post("/officers", {"username": username, "role": "customs", "gates": [GATE], "locale": "vi"}),
        "create the officer",
    )
    api = ApiClient(state.api_url)
    signed = _ok(
        api.post(
            "/sessions",
            {"username": username, "password": created["temporary_password"], "new_password": client.LOCAL_PASSWORD},
        ),
        "first sign-in",
    )
    officer = api.as_(signed["id_token"])
    phone = _ok(officer.post("/officers/me/devices", {"kind": "sms", "address": "+84 912 000 111"}), "register SMS")
    say(
        f"   {username} (customs, gate {GATE}, Vietnamese) signed in; phone {phone['address']} subscribed to "
        f"{phone['subscriptions']} alert topics (critical and warning of {GATE})"
    )

    lanes = Lanes(state, command_keys(client))
    try:
        sim = lanes.lane(GATE, LANE)
        plate = f"29C-9{uuid.uuid4().int % 100:02d}.{uuid.uuid4().int % 100:02d}"
        sent = time.monotonic()
        held = sim.cross(plate, "VN", timeout=20)
        if held.command is None:
            raise DemoStepFailed(f"no barrier command for {plate}: {held.error}")
        passage_id = held.command.passage_id
        say(
            f"   -> {GATE}/{LANE}: {plate}, no booking: barrier {held.command.action.value} "
            f"({held.command.reason[:70]})"
        )

        def alert() -> dict[str, Any] | None:
            items = officer.get("/alerts", gate_id=GATE, limit=50).body["items"]
            found = next((a for a in items if a["passage_id"] == passage_id), None)
            return found if found and len(found["deliveries"]) >= 3 else None

        paged = _until(alert, 15)
        if paged is None:
            raise DemoStepFailed(f"no officer alert for {passage_id}")
        say(f"   alert {paged['alert_id']} ({paged['severity']}, for {paged['role']}) {time.monotonic() - sent:.1f} s")
        say("   after the truck arrived, delivered to the gate's critical topic in each language:")
        for d in paged["deliveries"]:
            say(f"      [{d['locale']}] {d['subject']}")

        passage = _ok(officer.get(f"/passages/{passage_id}"), "read the passage")
        rules = "; ".join(r["explanation"] for r in passage["decision"]["rules_fired"])
        say(f"   the console shows {passage['status']} because: {rules[:110]}")
        body = {"action": "release", "version": passage["version"]}
        refused = officer.post(f"/passages/{passage_id}/actions", {**body, "reason": ""}, key=f"demo-{uuid.uuid4()}")
        say(f"   release without a reason: {refused.status} {refused.fields()} — {refused.problem.get('detail', '')}")
        reason = "driver showed the booking confirmation on paper; checked by phone with the trader"
        done = _ok(
            officer.post(f"/passages/{passage_id}/actions", {**body, "reason": reason}, key=f"demo-{uuid.uuid4()}"),
            "release",
        )
        command = sim.next_command(10)
    finally:
        lanes.close()
    opened = (
        command is not None
        and command.action == BarrierAction.OPEN
        and command.command_id == done["command_id"]
        and signature_valid(command, command_keys(client))
    )
    say(
        f"   released: {done['status']}; the lane got {command.action.value.upper() if command else 'NO'} "
        f"command {done['command_id']} (signature {'ok' if opened else 'NOT OK'})"
    )

    def audited() -> list[dict[str, Any]] | None:
        entries = officer.get(f"/passages/{passage_id}/audit").body
        return entries if any(e["kind"] == "state" and e["actor"].startswith("officer:") for e in entries) else None

    entries = _until(audited, 15) or []
    for e in entries:
        what = e["detail"].get("outcome") or e["detail"].get("to") or e["detail"].get("decision", {}).get("channel")
        say(f"      audit #{e['seq']:<4} {e['kind']:15} {e['actor']:28} {what}")
    acked = officer.get("/alerts", gate_id=GATE, limit=50).body["items"]
    status = next((a["status"] for a in acked if a["passage_id"] == passage_id), "?")
    say(
        f"   the alert is now {status} (no escalation); the console: {state.api_url}/console/ "
        f"(sign in as {username} / {client.LOCAL_PASSWORD}); the outbox: smartgate alerts {GATE}"
    )
    outcomes = [e["detail"].get("outcome") for e in entries if e["kind"] == "officer_action"]
    return opened and refused.status == 422 and sorted(outcomes) == ["accepted", "refused"] and status == "resolved"
