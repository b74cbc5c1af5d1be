"""`make demo`, section 8: a trader works through the REST API as the web app does — signs in, registers a
driver, declares a consignment, books the current 15-minute window, fetches the signed pass — and the truck
crosses a sandbox lane showing that pass; the booking's timeline follows the passage on the bus."""

from __future__ import annotations

import time
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from smartgate_edge.simulator import LaneSimulator

from smartgate.adapters.passes import qr_version
from smartgate.domain.gates import default_gates
from smartgate.domain.slots import window_start
from smartgate.schemas import BarrierAction, utc_now
from smartgate_infra.api_client import ApiClient, Reply
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import StackState

GATE, LANE, DIRECTION = "sandbox", "out-58", "VN_TO_CN"
PLATE, TARE_KG = "24C-468.02", 15_000
GOODS: dict[str, Any] = RUBBER_LINE


class DemoStepFailed(RuntimeError):
    pass


def _ok(reply: Reply, what: str, *statuses: int) -> Any:
    if reply.status not in (statuses or (200, 201)):
        raise DemoStepFailed(f"{what}: HTTP {reply.status} {reply.problem.get('detail') or reply.raw[:200]!r}")
    return reply.body


def _until(probe: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while (value := probe()) is None and time.monotonic() < deadline:
        time.sleep(0.25)
    return value


def section(title: str, run: Any, state: StackState, client: StackClient, say: Any) -> bool:
    """A demo section: its title, then its steps; a failed step is said and fails the section."""
    say(f"\n== {title}")
    try:
        return bool(run(state, client, say))
    except DemoStepFailed as err:
        say(f"   !! {err}")
        return False


def random_check(reason: str) -> bool:
    """Held only because the rules picked it at random for a document check (2 % of declared trucks)."""
    return reason.startswith("YELLOW: selected at random")


def release_after_random_check(
    state: StackState, client: StackClient, sim: LaneSimulator, passage_id: str, say: Any
) -> bool:
    """What happens at the gate to a truck drawn at random: a customs officer checks its papers and releases
    it with a reason (through the API, as the console does); the lane gets the signed OPEN."""
    officer = ApiClient(state.api_url, client.officer_token("demo-customs", "customs", GATE, "en"))
    passage = _ok(officer.get(f"/passages/{passage_id}"), "read the passage")
    reason = "random document check: papers in order"
    say(f"   the rules drew this truck at random for a document check; a customs officer releases it: {reason!r}")
    done = _ok(
        officer.post(
            f"/passages/{passage_id}/actions",
            {"action": "release", "version": passage["version"], "reason": reason},
            key=f"demo-{uuid.uuid4()}",
        ),
        "release after the random check",
    )
    command = sim.next_command(10)
    opened = command is not None and command.action == BarrierAction.OPEN and command.command_id == done["command_id"]
    say(f"   barrier {command.action.value if command else 'NO ANSWER'} after the check")
    return opened


def register_company(
    state: StackState, client: StackClient, company_id: str, name: str, tax_id: str, operator: str = "demo-operator"
) -> None:
    """A gate operator registers a trading company through the API (idempotent by its key)."""
    api = ApiClient(state.api_url, client.token_for(operator, ["operators"]))
    body = {"company_id": company_id, "name": name, "country": "VN", "tax_id": tax_id}
    _ok(api.post("/companies", body, key=f"{operator}-company-{company_id}"), "register the company")


def run_trader(state: StackState, client: StackClient, say: Any = print) -> bool:
    title = "8. A trader through the API (as the web app): sign in, declare, book a slot, carry the pass"
    return section(title, _run, state, client, say)


def _run(state: StackState, client: StackClient, say: Any) -> bool:
    company_id = f"DEMO-{uuid.uuid4().hex[:6].upper()}"
    username = f"trader-{company_id.lower()}"
    register_company(state, client, company_id, "Cong ty TNHH Cao su Lao Cai", "5300123456")
    client.create_user(username, client.LOCAL_PASSWORD, ["traders"], company_id)
    trader = ApiClient(state.api_url)
    trader = trader.as_(trader.sign_in(username, client.LOCAL_PASSWORD))
    say(f"   {username} signed in (POST /sessions, a Cognito ID token) for company {company_id}")

    driver = _ok(
        trader.post("/drivers", {"full_name": "Nguyen Van Binh", "document_number": "C0456789", "country": "VN"}),
        "register the driver",
    )
    declaration = {
        "gate_id": GATE,
        "direction": DIRECTION,
        "country": "VN",
        "plate_text": PLATE,
        "container_nos": ["MSCU1234566"],
        "driver_id": driver["driver_id"],
        "vehicle_tare_kg": TARE_KG,
        "goods": [GOODS],
    }
    declared = _ok(trader.post("/consignments", declaration, key=f"demo-declare-{company_id}"), "declare")
    say(f"   declared {declared['consignment_id']}: {PLATE}, container MSCU1234566, {GOODS['description']}")

    wrong = trader.post("/consignments", {**declaration, "container_nos": ["MSCU1234567"]})
    say(f"   a wrong container check digit is refused: {wrong.status} {wrong.fields()} (nothing stored)")

    gate = default_gates("local").gates[GATE]
    now = utc_now()
    start = window_start(now)
    day = now.astimezone(ZoneInfo(gate.timezone)).date().isoformat()
    windows = _ok(trader.get("/slots", gate_id=GATE, direction=DIRECTION, date=day), "read the day's slots")
    current = next(w for w in windows if w["start"].startswith(start.strftime("%Y-%m-%dT%H:%M")))
    booking = _ok(
        trader.post(
            "/bookings",
            {"consignment_id": declared["consignment_id"], "window_start": start.isoformat()},
            key=f"demo-book-{company_id}",
        ),
        "book the window",
    )
    say(
        f"   booked {booking['booking_id']} for {start:%H:%M}Z ({current['free']} of {current['capacity']} "
        f"places were free; {len(windows)} windows that day)"
    )
    issued = _ok(trader.get(f"/bookings/{booking['booking_id']}/pass"), "fetch the pass")
    say(
        f"   pass: {len(issued['token'])} characters, QR version {qr_version(issued['token'])}, "
        f"key {issued['key_id']}, valid {issued['valid_from'][11:16]}-{issued['valid_to'][11:16]}Z "
        f"(PNG/SVG at {issued['png']})"
    )

    lanes = Lanes(state, command_keys(client))
    try:
        sim = lanes.lane(GATE, LANE)
        gross = GOODS["gross_kg"] + TARE_KG
        result = sim.cross(
            PLATE, "VN", containers=("MSCU1234566",), weight_kg=gross, pass_token=issued["token"], timeout=20
        )
        opened = result.ok and result.command is not None and result.command.action == BarrierAction.OPEN
        say(
            f"   -> {GATE}/{LANE}: {PLATE} shows the pass: barrier "
            f"{result.command.action.value if result.command else 'NO ANSWER'} in {result.latency_ms:.0f} ms"
        )
        if result.command is not None and not opened and random_check(result.command.reason):
            opened = release_after_random_check(state, client, sim, result.command.passage_id, say)
        sim.cross("29C-864.20", "VN", weight_kg=30_000, timeout=20)  # the next truck: the first has left
    finally:
        lanes.close()

    def crossed() -> list[str] | None:
        entries = [e["status"] for e in trader.get(f"/bookings/{booking['booking_id']}/timeline").body]
        return entries if entries[-1:] == ["crossed"] else None

    timeline = _until(crossed) or [e["status"] for e in trader.get(f"/bookings/{booking['booking_id']}/timeline").body]
    told = [n["kind"] for n in trader.get("/notifications", limit=20).body["items"]]
    say(f"   timeline: {' -> '.join(timeline)}; the trader was told: {', '.join(reversed(told))}")
    say(f"   the web app: {state.api_url}/trader/  (sign in as {username} / {client.LOCAL_PASSWORD})")
    say(f"   the company's outbox: smartgate outbox {company_id}")
    return opened and timeline[-1:] == ["crossed"] and wrong.status == 422
