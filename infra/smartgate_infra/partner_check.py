"""`make partner-check`: a simulated day of exchange with the partner gate on the local stack, then a replay.

1. A trader (through the REST API) declares and books ``trucks`` trucks at the sandbox gate for the
   current window (distinct plates and containers; the operator opens the window wide enough).
2. They cross one after another, round lanes out-35..out-38 (lane simulators: plate, pass, container,
   weight); each leaves when the next truck pulls up on its lane, and an unbooked truck follows the last
   of each lane. A truck the rules hold (a random document check) is released by a customs officer. Our
   side tells the partner (ExpectedArrival, VehicleCleared, VehicleDeparted ...) through the forward rule.
3. The partner simulator (:mod:`smartgate_infra.partner_sim`, gate ``sandboxcn``) reads them and answers:
   it clears (then lets leave) or refuses each truck; it publishes a lower capacity for a future window.
   Its answers must reach the bookings' timelines (as the trader reads them) and the window's capacity.
4. Faults on the inbound bus: a malformed envelope, an unknown version (``VehicleCleared.v9``), a message
   signed with another key, and a duplicate of an accepted message. The first three must reach the
   partner dead-letter queue with their reason, the duplicate must change nothing.
5. Replay: the state the partner's messages made (the exchange table's ``in#`` rows, the bookings'
   ``partner_*`` timeline entries, the window's partner capacity) is snapshotted and deleted; an EventBridge
   replay (StartReplay) of the inbound archive's window of the day puts every message the partner sent back
   on the inbound bus, and the state they rebuild must equal the snapshot. The day's faults are in the
   archive too: the replay must refuse them again, with the same reasons (and no officer alarm: a replayed
   refusal was alarmed on when it first came). The local emulator replays the whole archive whatever the
   window; messages of earlier runs are kept already and change nothing.

The last line is read by tools: ``sent=… received=… dlq=… replay_identical=true|false``: our messages
to the partner about the day's bookings (the exchange table's ``out#`` rows), the partner's messages
accepted (``in#`` rows; the duplicate is not one more), the faults refused into the dead-letter queue (the
check deletes its own records there once counted), and whether the replay rebuilt the snapshot. On a
running stack shared with other work, "the day" is this run: its bookings, its partner's messages.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from botocore.exceptions import ClientError
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from smartgate_edge.simulator import LaneSimulator

from smartgate import partner
from smartgate.adapters.partner import DynamoExchange
from smartgate.domain.containers import check_digit
from smartgate.domain.gates import default_gates
from smartgate.domain.plates import VN_PROVINCE_CODES
from smartgate.domain.slots import window_start
from smartgate.partner.jws import ALG, sign_compact
from smartgate.schemas import BarrierAction, BarrierCommand, Channel, utc_now
from smartgate.schemas.partner import (
    ConsignmentRefused,
    Inspection,
    VehicleCleared,
)
from smartgate_infra.api_client import ApiClient, Reply
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import RUBBER_LINE
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.offline_demo import until
from smartgate_infra.partner_sim import DEV_KEY_ID, PartnerSimulator, our_public_keys
from smartgate_infra.stack import StackState
from smartgate_infra.trader_demo import register_company, section

GATE, PARTNER, DIRECTION = "sandbox", "sandboxcn", "VN_TO_CN"
LANES = ("out-35", "out-36", "out-37", "out-38")
TARE_KG = 15_000
GOODS: dict[str, Any] = RUBBER_LINE
OWNERS = ("TGHU", "CSQU", "MSKU", "TCLU", "MSCU", "OOLU", "CMAU", "HLXU", "SEGU", "TEMU")
CROSS_TIMEOUT_S = 20.0
WARMUP_TIMEOUT_S = 30.0
PACE_S = 0.25
"""Between one truck's detections: camera, kiosk, reader and scale report one after another (all at once,
a fast reader's container can reach the cloud before the plate that opens the truck's passage)."""
WAIT_S = 45.0
EXPECTED_DLQ = {"malformed", "unknown_type_or_version", "bad_signature"}
OUTBOUND_PER_TRUCK = ("ExpectedArrival.v1", "VehicleCleared.v1", "VehicleDeparted.v1")


class CheckFailed(RuntimeError):
    pass


@dataclass
class Truck:
    plate: str
    box: str
    lane: str
    consignment_id: str = ""
    booking_id: str = ""
    token: str = ""


@dataclass
class PartnerCheck:
    """What happened, for the last line and the test."""

    sent: int = 0
    received: int = 0
    dlq: int = 0
    replay_identical: bool = False
    refused: int = 0
    cleared: int = 0
    dlq_codes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    snapshot: dict[str, Any] = field(default_factory=dict)
    replayed: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems and self.replay_identical

    def line(self) -> str:
        return (
            f"sent={self.sent} received={self.received} dlq={self.dlq} "
            f"replay_identical={str(self.replay_identical).lower()}"
        )


def _ok(reply: Reply, what: str) -> Any:
    if reply.status not in (200, 201):
        raise CheckFailed(f"{what}: HTTP {reply.status} {reply.problem.get('detail') or reply.raw[:200]!r}")
    return reply.body


# --------------------------------------------------------------------------- the day


def run_partner_check(
    state: StackState,
    trucks: int = 10,
    *,
    refusal_rate: float = 0.25,
    delay_s: float = 0.5,
    seed: int = 3,
    say: Callable[..., None] = print,
) -> PartnerCheck:
    """A day of exchange with the simulated partner, faults, and a replay; never raises for what the
    stack did wrong (``problems`` says it)."""
    if not 1 <= trucks <= 150:
        raise ValueError("trucks: 1 to 150")
    client = StackClient(state)
    check = PartnerCheck()
    started = utc_now()
    tag = f"chk{uuid.uuid4().hex[:8]}"
    try:
        _preflight(client)
        fleet = _book(state, client, trucks, tag, say)
        sim = PartnerSimulator(
            client,
            PARTNER,
            delay_s=delay_s,
            refusal_rate=refusal_rate,
            seed=seed,
            references={t.booking_id for t in fleet},
        )
        _cross(state, client, sim, fleet, say, check)
        _answers(sim, fleet, say, check, ApiClient(state.api_url, _trader_token(client, tag)))
        window = _capacity(state, client, sim, say, check)
        _faults(state, sim, fleet, tag, say, check)
        _replay(client, sim, fleet, window, started, tag, say, check)
        check.sent = _sent(client, sim, fleet, started)
        sim.run_until(lambda s: len({e.event_id for e in s.received}) >= check.sent, 15)  # a late one
        read = len({e.event_id for e in sim.received})
        if check.sent != read:
            check.problems.append(f"{check.sent} outbound messages kept on our side, the partner read {read}")
        if sim.stats.unreadable or sim.problems:
            check.problems.append(f"the partner could not open or send: {sim.problems[:3]}")
        say(f"partner simulator: {sim.stats.line()}")
    except CheckFailed as err:
        check.problems.append(str(err))
    for problem in check.problems:
        say(f"!! {problem}")
    return check


DEMO_TRUCKS = 4


def run_partner(state: StackState, client: StackClient, say: Callable[..., None] = print) -> bool:
    """`make demo`'s section: a short day of exchange with the simulated partner gate, faults, a replay."""
    title = (
        f"11. The partner gate ({PARTNER}, simulated through the published contract): our signed events out, "
        "its answers in, faults refused, an archive replay"
    )

    def steps(state: StackState, client: StackClient, say: Callable[..., None]) -> bool:
        check = run_partner_check(state, DEMO_TRUCKS, say=lambda line: say(f"   {line}"))
        say(f"   {check.line()}")
        return check.ok

    return section(title, steps, state, client, say)


def _preflight(client: StackClient) -> None:
    """The running stack has the partner exchange (a stack started before it was in template.yaml has not)."""
    try:
        for queue in ("PartnerOutboundQueue", "PartnerDeadLetterQueue"):
            client.client("sqs").get_queue_url(QueueName=client.name(queue))
        client.client("events").describe_event_bus(Name=client.name("PartnerInboundBus"))
    except ClientError as err:
        raise CheckFailed(
            f"the running stack has no partner exchange ({err}); it was started from an older template.yaml: "
            "restart it (smartgate down)"
        ) from err


def _trader_token(client: StackClient, tag: str) -> str:
    company_id = f"PX-{tag[3:9].upper()}"
    return client.token_for(f"trader-{company_id.lower()}", ["traders"], company_id)


def _fleet(n: int, tag: str) -> list[Truck]:
    """n trucks with distinct plates and distinct containers (valid ISO 6346 check digits)."""
    rng = random.Random(tag)
    provinces = sorted(VN_PROVINCE_CODES)
    plates: set[str] = set()
    boxes: set[str] = set()
    out: list[Truck] = []
    while len(out) < n:
        plate = f"{rng.choice(provinces)}{rng.choice('CDH')}-{rng.randint(100, 999)}.{rng.randint(10, 99)}"
        body = f"{rng.choice(OWNERS)}{rng.randint(0, 999_999):06d}"
        box = f"{body}{check_digit(body)}"
        if plate in plates or box in boxes:
            continue
        plates.add(plate)
        boxes.add(box)
        out.append(Truck(plate, box, LANES[len(out) % len(LANES)]))
    return out


def _book(state: StackState, client: StackClient, n: int, tag: str, say: Callable[..., None]) -> list[Truck]:
    """A trader's n declarations, booked for the current window (widened by the operator if need be)."""
    operator = ApiClient(state.api_url, client.token_for("partner-check-operator", ["operators"]))
    company_id = f"PX-{tag[3:9].upper()}"
    register_company(state, client, company_id, "Cong ty Xuat khau Cao su", "5300111222", "partner-check-operator")
    trader = ApiClient(state.api_url, _trader_token(client, tag))
    driver = _ok(
        trader.post("/drivers", {"full_name": "Le Van Hung", "document_number": "C0765432", "country": "VN"}),
        "register the driver",
    )
    start = window_start(utc_now())
    if start + timedelta(minutes=15) - utc_now() < timedelta(seconds=60):  # too close to its end: the next one
        time.sleep(max(0.0, (start + timedelta(minutes=15) - utc_now()).total_seconds()) + 1)
        start = window_start(utc_now())
    gate = default_gates("local").gates[GATE]
    day = start.astimezone(ZoneInfo(gate.timezone)).date().isoformat()
    windows = _ok(trader.get("/slots", gate_id=GATE, direction=DIRECTION, date=day), "read the slots")
    current = next(w for w in windows if w["start"].startswith(start.strftime("%Y-%m-%dT%H:%M")))
    if current["free"] < n:
        wider = min(200, current["booked"] + n)
        _ok(
            operator.put(
                f"/gates/{GATE}/capacity",
                {"direction": DIRECTION, "windows": [{"start": start.isoformat(), "capacity": wider}]},
            ),
            "widen the current window",
        )
        say(f"the operator opens the {start:%H:%M}Z window to {wider} trucks ({current['booked']} booked before)")
    fleet = _fleet(n, tag)
    for truck in fleet:
        declared = _ok(
            trader.post(
                "/consignments",
                {
                    "gate_id": GATE,
                    "direction": DIRECTION,
                    "country": "VN",
                    "plate_text": truck.plate,
                    "container_nos": [truck.box],
                    "driver_id": driver["driver_id"],
                    "vehicle_tare_kg": TARE_KG,
                    "goods": [GOODS],
                },
            ),
            f"declare {truck.plate}",
        )
        truck.consignment_id = declared["consignment_id"]
        booking = _ok(
            trader.post("/bookings", {"consignment_id": truck.consignment_id, "window_start": start.isoformat()}),
            f"book {truck.plate}",
        )
        truck.booking_id = booking["booking_id"]
        truck.token = _ok(trader.get(f"/bookings/{truck.booking_id}/pass"), "fetch the pass")["token"]
    say(f"trader {company_id} booked {n} trucks at {GATE} for {start:%H:%M}Z: " + ", ".join(t.plate for t in fleet))
    return fleet


def _plate(rng: random.Random) -> str:
    return f"{rng.choice(sorted(VN_PROVINCE_CODES))}C-{rng.randint(100, 999)}.{rng.randint(10, 99)}"


def _cross(
    state: StackState,
    client: StackClient,
    sim: PartnerSimulator,
    fleet: list[Truck],
    say: Callable[..., None],
    check: PartnerCheck,
) -> None:
    """The trucks cross one after another, round the lanes; the partner simulator runs in between.

    One truck at a time: the cloud then handles one truck's reads in the order the lane sent them (with
    trucks on several lanes at once its worker pool grows, and a new worker's cold start can hold up one
    read past the settle time, or into the next truck's passage)."""
    officer = ApiClient(state.api_url, client.officer_token("partner-check-customs", "customs", GATE, "en"))
    rng = random.Random()
    lanes = Lanes(state, command_keys(client))
    gross = float(str(GOODS["gross_kg"])) + TARE_KG
    try:
        # an unbooked truck first (its plate only, nothing of it can come late): it warms the cloud's
        # functions, and leaves when the first booked truck pulls up
        first = lanes.lane(GATE, fleet[0].lane).cross(_plate(rng), "VN", timeout=WARMUP_TIMEOUT_S)
        answer = first.command.action.value if first.command else "no answer yet"
        say(f"an unbooked truck on {fleet[0].lane} first: {answer} after {first.latency_ms / 1000:.1f} s")
        for truck in fleet:
            lane = lanes.lane(GATE, truck.lane)
            result = lane.cross(
                truck.plate,
                "VN",
                containers=(truck.box,),
                weight_kg=gross,
                pass_token=truck.token,
                timeout=CROSS_TIMEOUT_S,
                pace_s=PACE_S,
            )
            command = _until_open(lane, officer, truck, result.command, say)
            if command is None:
                check.problems.append(f"{truck.plate} on {truck.lane}: not released ({result.error or result.command})")
            else:
                say(f"{truck.plate} on {truck.lane}: barrier open ({command.reason[:70]})")
            sim.step()
        for lane_id in sorted({t.lane for t in fleet}):  # an unbooked truck: the last one of the lane leaves
            lane = lanes.lane(GATE, lane_id)
            for detection in lane.truck(_plate(rng), "VN"):  # its plate; its command is not waited for
                lane.transport.publish(lane.detections_topic, detection)
    finally:
        lanes.close()


def _until_open(
    lane: LaneSimulator,
    officer: ApiClient,
    truck: Truck,
    command: BarrierCommand | None,
    say: Callable[..., None],
) -> BarrierCommand | None:
    """The OPEN for the truck's passage: a hold is checked and released by a customs officer (the rules
    may draw a truck at random); a late command for the truck before it is passed over."""
    deadline = time.monotonic() + CROSS_TIMEOUT_S
    released: set[str] = set()
    while command is not None and time.monotonic() < deadline:
        passage = officer.get(f"/passages/{command.passage_id}")
        ours = passage.status == 200 and passage.body.get("plate_text") == truck.plate
        if ours and command.action == BarrierAction.OPEN:
            return command
        if ours and command.passage_id not in released:
            say(f"{truck.plate} held ({command.reason[:80]}); a customs officer checks and releases it")
            done = officer.post(
                f"/passages/{command.passage_id}/actions",
                {"action": "release", "version": passage.body["version"], "reason": "documents checked, in order"},
                key=f"partner-check-{uuid.uuid4()}",
            )
            if done.status not in (200, 201):
                return None
            released.add(command.passage_id)
        command = lane.next_command(max(0.1, deadline - time.monotonic()))
    return None


def _answers(
    sim: PartnerSimulator,
    fleet: list[Truck],
    say: Callable[..., None],
    check: PartnerCheck,
    trader: ApiClient,
) -> None:
    """Our messages reach the partner, its answers reach the bookings' timelines."""
    refs = {t.booking_id for t in fleet}

    def told(sim: PartnerSimulator) -> bool:
        seen = {(getattr(e, "reference", None), e.schema_version) for e in sim.received}  # type: ignore[attr-defined]
        return all((r, kind) in seen for r in refs for kind in OUTBOUND_PER_TRUCK) and sim.pending == 0

    if not sim.run_until(told, WAIT_S):
        seen = {(getattr(e, "reference", None), e.schema_version) for e in sim.received}  # type: ignore[attr-defined]
        missing = sorted(f"{kind} of {r}" for r in refs for kind in OUTBOUND_PER_TRUCK if (r, kind) not in seen)
        check.problems.append(f"the partner was not told: {', '.join(missing[:6])}")
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(sim.stats.by_type.items()))
    say(f"the partner read {sim.stats.consumed} of our messages ({kinds})")
    refused = {e.reference for e in sim.sent_events if isinstance(e, ConsignmentRefused)}
    check.refused = len(refused)
    check.cleared = len({e.reference for e in sim.sent_events if isinstance(e, VehicleCleared)})
    say(f"the partner answered {sim.stats.answered} times: {check.cleared} cleared (and left), {check.refused} refused")

    expected = {
        t.booking_id: {"partner_refused"} if t.booking_id in refused else {"partner_cleared", "partner_departed"}
        for t in fleet
    }

    def timelines() -> dict[str, list[str]] | None:
        found = {}
        for booking_id in refs:
            reply = trader.get(f"/bookings/{booking_id}/timeline")
            found[booking_id] = [e["status"] for e in reply.body] if reply.status == 200 else []
        done = all({s for s in found[b] if s.startswith("partner_")} == expected[b] for b in refs)
        return found if done else None

    found = until(timelines, WAIT_S) or {}
    if not found:
        check.problems.append("the partner's answers did not all reach the bookings' timelines")
        return
    for truck in fleet:
        say(f"  {truck.booking_id} {truck.plate:11} timeline: {' -> '.join(found[truck.booking_id])}")


def _capacity(
    state: StackState, client: StackClient, sim: PartnerSimulator, say: Callable[..., None], check: PartnerCheck
) -> datetime:
    """The partner lowers its capacity of a future window with nothing booked; the slots show it."""
    reader = ApiClient(state.api_url, client.token_for("partner-check-operator", ["operators"]))
    gate = default_gates("local").gates[GATE]
    zone = ZoneInfo(gate.timezone)
    candidate = window_start(utc_now()) + timedelta(hours=2)

    def slots_of(day: datetime) -> list[dict[str, Any]]:
        date = day.astimezone(zone).date().isoformat()
        return list(_ok(reader.get("/slots", gate_id=GATE, direction=DIRECTION, date=date), "read the slots"))

    chosen = None
    for w in slots_of(candidate) + slots_of(candidate + timedelta(days=1)):
        if datetime.fromisoformat(w["start"]) >= candidate and w["booked"] == 0 and w["capacity"] >= 2:
            chosen = w
            break
    if chosen is None:
        raise CheckFailed("no free future window to publish a capacity for")
    start = datetime.fromisoformat(chosen["start"])
    lower = max(1, min(2, chosen["capacity"] - 1))
    sim.publish_capacity(DIRECTION, start, lower)

    def shown() -> dict[str, Any] | None:
        w = next(w for w in slots_of(start) if datetime.fromisoformat(w["start"]) == start)
        return w if w["partner_capacity"] == lower and w["capacity"] == min(lower, w["our_capacity"]) else None

    after = until(shown, WAIT_S)
    if after is None:
        check.problems.append(f"the partner's capacity {lower} for {start:%H:%M}Z did not reach the slots")
    else:
        say(
            f"the partner publishes capacity {lower} for {start:%Y-%m-%d %H:%M}Z: bookable there now "
            f"{after['capacity']} (was {chosen['capacity']}, ours {after['our_capacity']})"
        )
    return start


# --------------------------------------------------------------------------- faults


def _faults(
    state: StackState,
    sim: PartnerSimulator,
    fleet: list[Truck],
    tag: str,
    say: Callable[..., None],
    check: PartnerCheck,
) -> None:
    """Malformed, unknown version, badly signed: to the dead-letter queue; a duplicate: no change."""
    client = sim.client
    first = fleet[0]
    now = utc_now()
    cleared = VehicleCleared(
        event_id=f"{PARTNER}-{tag}-badsig",
        from_gate=PARTNER,
        to_gate=GATE,
        occurred_at=now,
        reference=first.booking_id,
        plate_text=first.plate,
        country="VN",
        container_nos=[first.box],
        direction=DIRECTION,
        channel=Channel.GREEN,
        inspection=Inspection.NONE,
        cleared_at=now,
    )
    malformed = {
        "schema": "CrossBorderMessage.v1",
        "message_id": f"{PARTNER}-{tag}-malformed",
        "type": "VehicleCleared.v1",
        "from_gate": PARTNER,
        "to_gate": GATE,
        "jws": "not a compact JWS",
    }
    v9 = json.loads(partner.event_json(cleared)) | {"event_id": f"{PARTNER}-{tag}-v9", "schema": "VehicleCleared.v9"}
    header = {"alg": ALG, "kid": DEV_KEY_ID, "typ": partner.TYP, "cty": "VehicleCleared.v9"}
    unknown = {
        "schema": "CrossBorderMessage.v1",
        "message_id": v9["event_id"],
        "type": "VehicleCleared.v9",
        "from_gate": PARTNER,
        "to_gate": GATE,
        "jws": sign_compact(header, json.dumps(v9).encode(), sim.key),
    }
    badly_signed = sim.sign(cleared, key=Ed25519PrivateKey.generate())  # the partner's key id, another key
    accepted = next(m for m in sim.sent if m.type != "CapacityPublished.v1")
    rows_before = _in_rows(client, sim)
    timeline_before = _partner_timeline(client, fleet)
    log = Path(state.state_dir) / "logs" / "ReceiveFromPartnerFunction.log"
    log_before = log.stat().st_size if log.exists() else 0

    sim.send_raw(accepted)  # the duplicate (EventBridge delivers at least once)
    sim.send_raw(malformed)
    sim.send_raw(unknown)
    sim.send_raw(badly_signed)
    say("faults on the inbound bus: a malformed envelope, VehicleCleared.v9, another key's signature, a duplicate")

    letters = _DeadLetters(client, tag)

    def three() -> list[tuple[str, str, bool]] | None:
        found = letters.read()
        return found if len(found) >= 3 else None

    until(three, WAIT_S)

    def acknowledged() -> bool:
        if not log.exists():
            return False
        with open(log, "rb") as f:
            f.seek(log_before)
            text = f.read().decode(errors="replace")
        return any("seen before" in line and accepted.message_id in line for line in text.splitlines())

    seen = until(acknowledged, WAIT_S)
    time.sleep(1.0)  # anything the faults would still change or refuse
    dead = letters.read()
    check.dlq = len(dead)
    check.dlq_codes = sorted(code for code, _, _ in dead)
    for _, reason, _ in dead:
        say(f"  dead-letter queue: {reason[:120]}")
    if check.dlq_codes != sorted(EXPECTED_DLQ):
        check.problems.append(f"dead-letter reasons {check.dlq_codes}, expected {sorted(EXPECTED_DLQ)}")
    unchanged = _in_rows(client, sim) == rows_before and _partner_timeline(client, fleet) == timeline_before
    if not seen:
        check.problems.append(f"the duplicate {accepted.message_id} was not acknowledged as seen before")
    if not unchanged:
        check.problems.append("the faults changed the exchange table or a booking's timeline")
    say(
        f"  duplicate {accepted.message_id}: {'acknowledged, ' if seen else ''}"
        f"{'nothing changed' if unchanged else 'CHANGED the exchange or a timeline'}"
    )


class _DeadLetters:
    """The dead-letter records of this run (read batch after batch: a record read stays hidden for a few
    seconds, so that the next batch gets further into the queue), deleted once read: the check's own faults
    (their message ids carry the run's tag) or, with ``replay``, what that replay refused again (its name
    is in their reason; it can be an earlier run's fault where the emulator replays the whole archive).
    ``found``: record id -> (reason code, reason, one of this run's faults)."""

    def __init__(self, client: StackClient, tag: str, replay: str = "") -> None:
        self.sqs = client.client("sqs")
        self.url = self.sqs.get_queue_url(QueueName=client.name("PartnerDeadLetterQueue"))["QueueUrl"]
        self.tag, self.replay = tag, replay
        self.found: dict[str, tuple[str, str, bool]] = {}

    def _mine(self, body: dict[str, Any]) -> bool:
        reason = str(body.get("reason", ""))
        if self.replay:
            return f"in replay {self.replay})" in reason
        return self.tag in str(body.get("payload", "")) and "in replay " not in reason

    def read(self) -> list[tuple[str, str, bool]]:
        seen: set[str] = set()
        while True:
            reply = self.sqs.receive_message(
                QueueUrl=self.url,
                MaxNumberOfMessages=10,
                VisibilityTimeout=5,
                WaitTimeSeconds=0,
                MessageAttributeNames=["All"],
            )
            fresh = [m for m in reply.get("Messages", []) if m["MessageId"] not in seen]
            if not fresh:
                return list(self.found.values())
            for m in fresh:
                seen.add(m["MessageId"])
                body = json.loads(m["Body"])
                if self._mine(body):
                    code = m.get("MessageAttributes", {}).get("reason_code", {}).get("StringValue", "?")
                    ours = self.tag in str(body.get("payload", ""))
                    self.found[m["MessageId"]] = (code, str(body.get("reason", "")), ours)
                    self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


# --------------------------------------------------------------------------- replay


def _exchange(client: StackClient) -> DynamoExchange:
    return DynamoExchange(client.name("ExchangeTable"), client.template.region, timedelta(days=30))


def _in_rows(client: StackClient, sim: PartnerSimulator) -> dict[str, tuple[str, str]]:
    """The exchange table's in# rows of the simulator's messages: key -> (type, message as kept)."""
    ids = {m.message_id for m in sim.sent}
    model = _exchange(client).model
    return {
        row.key: (row.type, row.message)
        for row in model.scan(model.direction == "in")
        if row.key.startswith(f"in#{sim.gate}#") and row.key.split("#", 2)[2] in ids
    }


def _partner_timeline(client: StackClient, fleet: list[Truck]) -> dict[str, list[tuple[str, str]]]:
    """The bookings' partner_* timeline rows: booking id -> [(sort key, body)]."""
    timeline = client.trade.timeline
    return {
        t.booking_id: sorted(
            (row.sk, row.body)
            for row in timeline.query(t.booking_id)
            if json.loads(row.body).get("status", "").startswith("partner_")
        )
        for t in fleet
    }


def _state(client: StackClient, sim: PartnerSimulator, fleet: list[Truck], window: datetime) -> dict[str, Any]:
    """What the partner's messages made: the in# rows, the partner_* timeline rows, the window."""
    w = client.trade.window(GATE, DIRECTION, window)
    bookings = {t.booking_id: client.trade.booking(t.booking_id) for t in fleet}
    return {
        "in": _in_rows(client, sim),
        "timeline": _partner_timeline(client, fleet),
        "window": {"start": window.isoformat(), "ours": w.ours, "partner": w.partner, "booked": w.booked},
        # mutual recognition (off in the sandbox agreement, and the simulator only checks documents): the
        # replay must leave it as it was; it is not cleared before the replay
        "recognised": {b: (x.partner_inspection if x else "-") for b, x in bookings.items()},
    }


def _forget(client: StackClient, sim: PartnerSimulator, fleet: list[Truck], window: datetime) -> None:
    """Delete what the partner's messages made (the rows of the snapshot)."""
    model = _exchange(client).model
    for key in _in_rows(client, sim):
        model(key).delete()
    timeline = client.trade.timeline
    for t in fleet:
        for row in timeline.query(t.booking_id):
            if json.loads(row.body).get("status", "").startswith("partner_"):
                row.delete()
    slots = client.trade.slots
    slots(f"{GATE}#{DIRECTION}#{window:%Y-%m-%d}", f"{window:%H:%M}").update(actions=[slots.partner.remove()])


def _replay(
    client: StackClient,
    sim: PartnerSimulator,
    fleet: list[Truck],
    window: datetime,
    since: datetime,
    tag: str,
    say: Callable[..., None],
    check: PartnerCheck,
) -> None:
    snapshot = _state(client, sim, fleet, window)
    check.snapshot = snapshot
    check.received = len(snapshot["in"])
    expected = 2 * check.cleared + check.refused + 1
    if check.received != expected:
        check.problems.append(f"{check.received} inbound messages kept, expected {expected}")
    entries = sum(len(v) for v in snapshot["timeline"].values())
    say(
        f"snapshot: {len(snapshot['in'])} in# rows, {entries} partner timeline entries, window "
        f"{window:%H:%M}Z partner capacity {snapshot['window']['partner']}; deleting them"
    )
    _forget(client, sim, fleet, window)
    emptied = _state(client, sim, fleet, window)
    if emptied["in"] or any(emptied["timeline"].values()) or emptied["window"]["partner"] is not None:
        check.problems.append("the partner state was not deleted before the replay")

    events = client.client("events")
    archive = events.describe_archive(ArchiveName=client.name("PartnerInboundArchive"))
    bus = events.describe_event_bus(Name=client.name("PartnerInboundBus"))
    name, end = f"{tag}-replay", utc_now() + timedelta(seconds=1)
    events.start_replay(
        ReplayName=name,
        Description="make partner-check: rebuild the partner state of the day from the inbound archive",
        EventSourceArn=archive["ArchiveArn"],
        EventStartTime=since,
        EventEndTime=end,
        Destination={"Arn": bus["Arn"]},
    )
    state = until(lambda: _replay_done(events, name), WAIT_S) or "TIMED OUT"
    if state != "COMPLETED":
        check.problems.append(f"replay {name}: {state}")
    say(
        f"replay {name}: EventBridge put the inbound archive's {since:%H:%M:%S}-{end:%H:%M:%S}Z window back on "
        f"the inbound bus ({archive.get('EventCount', '?')} archived messages); {state.lower()}"
    )

    def rebuilt() -> dict[str, Any] | None:
        now = _state(client, sim, fleet, window)
        return now if now == snapshot else None

    after = until(rebuilt, WAIT_S) or _state(client, sim, fleet, window)
    check.replayed = after
    check.replay_identical = after == snapshot
    if not check.replay_identical:
        for part in snapshot:
            if after[part] != snapshot[part]:
                check.problems.append(f"replay: {part} differs from the snapshot")
    say(f"replay rebuilt {'the same' if check.replay_identical else 'a DIFFERENT'} state")

    # the day's faults are in the archive too: the replay must refuse them again, with the same reasons
    again = _DeadLetters(client, tag, name)

    def ours_again() -> list[str] | None:
        codes = sorted(code for code, _, ours in again.read() if ours)
        return codes if len(codes) >= len(EXPECTED_DLQ) else None

    codes = until(ours_again, 15) or sorted(code for code, _, ours in again.found.values() if ours)
    say(f"replay refused the day's faults again: {', '.join(codes) or 'none'}")
    if codes != sorted(EXPECTED_DLQ):
        check.problems.append(f"replay: the faults were refused as {codes}, expected {sorted(EXPECTED_DLQ)}")


def _replay_done(events: Any, name: str) -> str | None:
    state = str(events.describe_replay(ReplayName=name)["State"])
    return state if state in ("COMPLETED", "FAILED", "CANCELLED") else None


def _sent(client: StackClient, sim: PartnerSimulator, fleet: list[Truck], since: datetime) -> int:
    """Our outbound messages of the day about the day's bookings (the exchange table's out# rows)."""
    refs = {t.booking_id for t in fleet}
    keys = our_public_keys(client)
    count = 0
    for message in _exchange(client).exchanged("out", since, utc_now() + timedelta(minutes=1)):
        if message.to_gate != sim.gate:
            continue
        try:
            event = partner.open(message, keys, sim.gate, GATE)
        except partner.PartnerMessageRefused:
            continue
        count += getattr(event, "reference", None) in refs
    return count
