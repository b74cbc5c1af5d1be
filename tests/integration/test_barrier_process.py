"""The barrier controller as it runs on a lane, faulted on purpose: a real Mosquitto of this module's own, the
real process (``python edge_greengrass/BarrierController/main.py``) with fresh Ed25519 keys, and this test
playing the cloud (it holds the private keys) and an attacker who can publish on the lane's topics.

A command for another lane or gate, an expired or future one, one signed by an unknown or a forged key, one
altered after signing, malformed JSON, a replay (also after SIGKILL and a restart on the same journal), and a
forged, expired or foreign QR pass while the cloud is silent: each is refused, written to the journal and
reported on the lane's barrier topic, and the barrier stays closed. A valid command and a valid pass open
it; SIGTERM stops the process with exit code 0.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from smartgate_edge.barrier import BarrierJournal
from smartgate_edge.local_bus import LaneMode, local_detections_topic, local_mode_topic
from smartgate_edge.transport import IPC_ENV_VARS, Mqtt5Transport

from smartgate.adapters.passes import PassSigner
from smartgate.domain.commands import CommandSigner
from smartgate.domain.crossing import passage_id_for
from smartgate.domain.passes import PassClaims
from smartgate.domain.plates import plate_key
from smartgate.keys import public_text
from smartgate.schemas import (
    BarrierAction,
    BarrierCommand,
    BarrierEvent,
    BarrierEventKind,
    BarrierState,
    Country,
    Direction,
    PassScanned,
    PlateRead,
    utc_now,
)
from smartgate.topics import barrier_topic, commands_topic
from smartgate_infra.services import HOST, Service

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
MAIN = ROOT / "edge_greengrass" / "BarrierController" / "main.py"
GATE, LANE, DIRECTION = "sandbox", "in-05", Direction.CN_TO_VN
ARM_TRAVEL_S, OPEN_HOLD_S, OFFLINE_AFTER_S = 0.2, 2.0, 2.0
QUIET_S = 0.6  # after a refusal, how long the barrier is watched for a move it must not make
WAIT_S = 10.0

CLOUD = CommandSigner("cloud-1", Ed25519PrivateKey.generate())
PASSES = PassSigner("pass-1", Ed25519PrivateKey.generate())


def eventually(probe: Callable[[], Any], timeout: float = WAIT_S, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := probe():
            return value
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout:g} s: {what}")


class Reports:
    """Every BarrierEvent on the lane's barrier topic (once per event id: the outbox is at-least-once) and
    every LaneMode on the local bus."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.events: list[BarrierEvent] = []
        self._ids: set[str] = set()
        self.modes: list[LaneMode] = []

    def on_report(self, topic: str, payload: bytes) -> None:
        event = BarrierEvent.model_validate_json(payload)
        with self._lock:
            if event.event_id not in self._ids:
                self._ids.add(event.event_id)
                self.events.append(event)

    def on_mode(self, topic: str, payload: bytes) -> None:
        with self._lock:
            self.modes.append(LaneMode.model_validate_json(payload))

    def since(self, mark: int) -> list[BarrierEvent]:
        with self._lock:
            return self.events[mark:]

    def mark(self) -> int:
        with self._lock:
            return len(self.events)

    def states(self, mark: int = 0) -> list[BarrierState]:
        return [e.state for e in self.since(mark) if e.kind == BarrierEventKind.STATE_CHANGED]

    def modes_since(self, at: datetime) -> list[LaneMode]:
        with self._lock:
            return [m for m in self.modes if m.at >= at]


class Lane:
    """The barrier controller process, the test's MQTT client on the same broker, and what came back."""

    def __init__(self, broker: Service, work: Path) -> None:
        self.work = work
        self.journal = work / "barrier.sqlite3"
        self.log = work / "barrier.log"
        self.reports = Reports()
        self.client = Mqtt5Transport(HOST, broker.port, f"barrier-test-{os.getpid()}", ack_timeout=WAIT_S)
        self.client.connect(WAIT_S)
        self.client.subscribe(barrier_topic(GATE, LANE), self.reports.on_report)
        self.client.subscribe(local_mode_topic(GATE, LANE), self.reports.on_mode)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMARTGATE_") and k not in IPC_ENV_VARS}
        env.update(
            SMARTGATE_GATE_ID=GATE,
            SMARTGATE_LANE_ID=LANE,
            SMARTGATE_STAGE="local",
            COMMAND_PUBLIC_KEYS=public_text(CLOUD.keys().public_keys),
            PASS_PUBLIC_KEYS=public_text(PASSES.public_keys()),
            SMARTGATE_BARRIER_JOURNAL=str(self.journal),
            SMARTGATE_BARRIER_OUTBOX=str(work / "barrier-outbox.sqlite3"),
            SMARTGATE_ARM_TRAVEL_S=str(ARM_TRAVEL_S),
            SMARTGATE_OPEN_HOLD_S=str(OPEN_HOLD_S),
            SMARTGATE_OFFLINE_AFTER_S=str(OFFLINE_AFTER_S),
            SMARTGATE_MQTT_HOST=HOST,
            SMARTGATE_MQTT_PORT=str(broker.port),
            SMARTGATE_LOCAL_MQTT_PORT=str(broker.port),
        )
        self.env = env
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start the process and wait until it is listening: its first report ("controller started") comes
        through the outbox only once the uplink is attached, which is after the commands subscription."""
        mark = self.reports.mark()
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, str(MAIN)],
                cwd=self.work,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def started() -> bool:
            assert self.proc is not None and self.proc.poll() is None, self.log_tail()
            return any(e.reason.startswith("controller started") for e in self.reports.since(mark))

        eventually(started, 20, "the controller's first report")
        self.wait_closed(mark)

    def wait_closed(self, mark: int = 0) -> None:
        eventually(lambda: (s := self.reports.states(mark)) and s[-1] == BarrierState.CLOSED, WAIT_S, "closed")

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else "(no log)"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def close(self) -> None:
        self.stop()
        self.client.close()

    # ---- the cloud's part, and the attacker's

    def send(self, payload: BarrierCommand | bytes) -> None:
        self.client.publish(commands_topic(GATE, LANE), payload)

    def detect(self, detection: PlateRead | PassScanned) -> None:
        self.client.publish(local_detections_topic(GATE, LANE), detection)

    def journal_events(self) -> list[BarrierEvent]:
        journal = BarrierJournal(self.journal)
        try:
            return journal.events()
        finally:
            journal.close()

    def answer(self, mark: int, command_id: str | None, kind: BarrierEventKind | None = None) -> BarrierEvent:
        """The controller's answer to a command (by id; None: the first refusal without an id) since mark."""

        def found() -> BarrierEvent | None:
            for event in self.reports.since(mark):
                if event.kind in (BarrierEventKind.COMMAND_ACCEPTED, BarrierEventKind.COMMAND_REFUSED) and (
                    event.command_id == command_id
                ):
                    return event
            return None

        event: BarrierEvent = eventually(found, WAIT_S, f"an answer to command {command_id}")
        if kind is not None:
            assert event.kind == kind, event
        return event

    def refused(self, payload: BarrierCommand | bytes, because: str) -> BarrierEvent:
        """Send a command that must be refused: the reason, the journal entry, and a barrier that stays put."""
        mark = self.reports.mark()
        command_id = payload.command_id if isinstance(payload, BarrierCommand) else None
        self.send(payload)
        event = self.answer(mark, command_id, BarrierEventKind.COMMAND_REFUSED)
        assert because in event.reason, event.reason
        assert event.state == BarrierState.CLOSED, event
        assert event.event_id in {e.event_id for e in self.journal_events()}, "the refusal is not in the journal"
        return event

    def assert_stays_closed(self, mark: int) -> None:
        """No state change since mark, after a while to let one show up."""
        time.sleep(QUIET_S)
        moves = [e for e in self.reports.since(mark) if e.kind == BarrierEventKind.STATE_CHANGED]
        assert not moves, moves


def command(
    signer: CommandSigner = CLOUD,
    *,
    gate_id: str = GATE,
    lane_id: str = LANE,
    issued: timedelta = timedelta(0),
    lifetime: timedelta = timedelta(seconds=60),
    passage_id: str | None = None,
) -> BarrierCommand:
    now = utc_now() + issued
    return signer.sign(
        BarrierCommand(
            command_id=f"cmd-{uuid.uuid4().hex[:16]}",
            gate_id=gate_id,
            lane_id=lane_id,
            action=BarrierAction.OPEN,
            passage_id=passage_id or f"psg-{uuid.uuid4().hex[:16]}",
            reason="GREEN: booked slot, documents complete",
            issued_at=now,
            expires_at=now + lifetime,
        )
    )


@pytest.fixture(scope="module")
def lane(broker: Service, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lane]:
    node = Lane(broker, tmp_path_factory.mktemp("barrier-process"))
    try:
        node.start()
        yield node
    finally:
        node.close()


# --------------------------------------------------------------------------- cloud commands


def test_a_valid_command_opens_the_barrier_and_it_closes_after_the_hold_time(lane: Lane) -> None:
    mark = lane.reports.mark()
    cmd = command()
    lane.send(cmd)
    accepted = lane.answer(mark, cmd.command_id, BarrierEventKind.COMMAND_ACCEPTED)
    assert accepted.action == BarrierAction.OPEN and accepted.passage_id == cmd.passage_id
    lane.wait_closed(mark)
    assert lane.reports.states(mark) == [
        BarrierState.OPENING,
        BarrierState.OPEN,
        BarrierState.CLOSING,
        BarrierState.CLOSED,
    ]
    opening = next(e for e in lane.reports.since(mark) if e.state == BarrierState.OPENING)
    assert opening.passage_id == cmd.passage_id  # the opening names the passage
    assert accepted.event_id in {e.event_id for e in lane.journal_events()}


@pytest.mark.parametrize(
    ("gate_id", "lane_id", "because"),
    [
        (GATE, "in-06", f"for lane {GATE}/in-06, this is {GATE}/{LANE}"),
        ("kimthanh2", LANE, f"for lane kimthanh2/{LANE}, this is {GATE}/{LANE}"),
    ],
    ids=["another-lane-of-this-gate", "this-lane-id-at-another-gate"],
)
def test_a_command_for_another_lane_on_this_lanes_topic_is_refused(
    lane: Lane, gate_id: str, lane_id: str, because: str
) -> None:
    mark = lane.reports.mark()
    lane.refused(command(gate_id=gate_id, lane_id=lane_id), because)
    lane.assert_stays_closed(mark)


def _altered(cmd: BarrierCommand) -> BarrierCommand:
    """A valid command whose lifetime was stretched after signing."""
    return cmd.model_copy(update={"expires_at": cmd.expires_at + timedelta(hours=1)})


@pytest.mark.parametrize(
    ("make", "because"),
    [
        (lambda: command(issued=-timedelta(seconds=61)), "expired at"),
        (lambda: command(issued=-timedelta(seconds=200), lifetime=timedelta(seconds=300)), "issued more than 120 s"),
        (lambda: command(issued=timedelta(seconds=60)), "issued in the future"),
        (lambda: command(CommandSigner("rogue-1", Ed25519PrivateKey.generate())), "a key this lane does not hold"),
        (lambda: command(CommandSigner(CLOUD.key_id, Ed25519PrivateKey.generate())), "does not verify"),
        (lambda: _altered(command()), "does not verify"),
        (lambda: b'{"schema": "BarrierCommand.v2", "action": "open"', "malformed command"),
        (lambda: b'{"schema": "BarrierCommand.v2", "action": "open"}', "malformed command"),
    ],
    ids=[
        "expired",
        "too-old",
        "issued-in-the-future",
        "unknown-key-id",
        "forged-with-the-right-key-id",
        "altered-after-signing",
        "not-json",
        "missing-fields",
    ],
)
def test_a_stale_forged_altered_or_malformed_command_is_refused(
    lane: Lane, make: Callable[[], BarrierCommand | bytes], because: str
) -> None:
    mark = lane.reports.mark()
    lane.refused(make(), because)
    lane.assert_stays_closed(mark)


def test_a_replayed_command_is_refused_also_after_a_kill_and_a_restart(lane: Lane) -> None:
    mark = lane.reports.mark()
    cmd = command()
    lane.send(cmd)
    lane.answer(mark, cmd.command_id, BarrierEventKind.COMMAND_ACCEPTED)
    lane.wait_closed(mark)
    replay = lane.reports.mark()
    lane.refused(cmd, f"replayed: command {cmd.command_id}")
    lane.assert_stays_closed(replay)

    assert lane.proc is not None
    lane.proc.send_signal(signal.SIGKILL)
    assert lane.proc.wait(10) == -signal.SIGKILL
    lane.start()  # the same journal and outbox files
    again = lane.reports.mark()
    refusal = lane.refused(cmd, f"replayed: command {cmd.command_id}")
    lane.assert_stays_closed(again)
    refusals = [e for e in lane.journal_events() if e.kind == BarrierEventKind.COMMAND_REFUSED]
    assert [e.event_id for e in refusals if e.command_id == cmd.command_id][-1] == refusal.event_id


# --------------------------------------------------------------------------- offline clearance on passes


def _truck(plate: str, token: str) -> tuple[PlateRead, PassScanned]:
    tag = uuid.uuid4().hex[:12]
    now = utc_now()
    read = PlateRead(
        event_id=f"{LANE}-plate-{tag}",
        gate_id=GATE,
        lane_id=LANE,
        plate_text=plate,
        country=Country.VN,
        format_valid=True,
        confidence=0.97,
        captured_at=now,
    )
    shown = PassScanned(event_id=f"{LANE}-pass-{tag}", gate_id=GATE, lane_id=LANE, token=token, captured_at=now)
    return read, shown


def _pass(plate: str, signer: PassSigner = PASSES, *, valid_from: int = -3600, valid_to: int = 3600) -> str:
    now = int(time.time())
    claims = PassClaims(
        booking_id=f"bk-{uuid.uuid4().hex[:10]}",
        plate_key=plate_key(plate),
        gate_id=GATE,
        direction=DIRECTION,
        not_before=now + valid_from,
        not_after=now + valid_to,
    )
    return signer.issue(claims)


def _offline_decision(lane: Lane, plate: str, token: str) -> tuple[BarrierEvent, int, float]:
    """A truck the cloud does not answer: its plate and pass on the local bus; the lane's own decision."""
    mark = lane.reports.mark()
    read, shown = _truck(plate, token)
    lane.detect(read)
    lane.detect(shown)
    sent = time.monotonic()

    def decided() -> BarrierEvent | None:
        return next((e for e in lane.reports.since(mark) if e.kind == BarrierEventKind.OFFLINE_DECISION), None)

    decision: BarrierEvent = eventually(decided, OFFLINE_AFTER_S + WAIT_S, f"an offline decision on {plate}")
    waited = time.monotonic() - sent
    assert decision.passage_id == passage_id_for(read), decision
    assert decision.plate_text == plate and decision.detection_ids == [read.event_id, shown.event_id], decision
    assert decision.event_id in {e.event_id for e in lane.journal_events()}, "the decision is not in the journal"
    return decision, mark, waited


def test_offline_only_a_valid_pass_for_the_plate_read_opens(lane: Lane) -> None:
    began = utc_now()
    other_key = PassSigner(PASSES.key_id, Ed25519PrivateKey.generate())
    held = [
        ("51C-111.01", _pass("51C-111.01", other_key), "its signature does not verify (forged or altered)"),
        ("51C-111.02", _pass("51C-111.02", valid_from=-7200, valid_to=-3600), "not valid now: it expired at"),
        ("51C-111.03", _pass("51C-999.99"), "is for plate 51C99999, the lane read 51C-111.03"),
    ]
    for plate, token, because in held:
        decision, mark, waited = _offline_decision(lane, plate, token)
        assert decision.action == BarrierAction.HOLD and because in decision.reason, decision.reason
        assert decision.state == BarrierState.CLOSED and decision.booking_id is None, decision
        assert waited >= OFFLINE_AFTER_S - 0.2, f"decided after {waited:.2f} s, before the cloud's time was up"
        lane.assert_stays_closed(mark)
    eventually(
        lambda: any(m.degraded and m.barrier == BarrierState.CLOSED for m in lane.reports.modes_since(began)),
        WAIT_S,
        "the lane says degraded on the local bus",
    )

    plate = "51C-111.04"
    decision, mark, _ = _offline_decision(lane, plate, _pass(plate))
    assert decision.action == BarrierAction.OPEN and decision.booking_id, decision.reason
    lane.wait_closed(mark)
    assert lane.reports.states(mark) == [
        BarrierState.OPENING,
        BarrierState.OPEN,
        BarrierState.CLOSING,
        BarrierState.CLOSED,
    ]

    # the cloud's late word on the truck the lane let through is refused, and the lane is no longer degraded
    late = command(passage_id=decision.passage_id)
    answered = utc_now()
    lane.refused(late, f"passage {decision.passage_id} was opened at the lane")
    eventually(
        lambda: any(not m.degraded for m in lane.reports.modes_since(answered)),
        WAIT_S,
        "the lane says it is no longer degraded",
    )


# --------------------------------------------------------------------------- stopping


def test_sigterm_stops_the_process_with_exit_code_0(lane: Lane) -> None:
    assert lane.proc is not None and lane.proc.poll() is None, lane.log_tail()
    lane.proc.send_signal(signal.SIGTERM)
    assert lane.proc.wait(15) == 0, lane.log_tail()
    assert "signal SIGTERM: stopping" in lane.log_tail()
