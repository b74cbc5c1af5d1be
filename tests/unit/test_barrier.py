"""The barrier controller's state machine and command checks, and the offline clearance policy, on a
simulated arm and a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from smartgate_edge.barrier import (
    BarrierController,
    BarrierJournal,
    BarrierTimings,
    SimulatedDriver,
    driver_from_config,
)
from smartgate_edge.offline import OfflineClearance, OfflinePolicy

from smartgate.adapters.passes import PassSigner
from smartgate.domain.commands import CommandSigner
from smartgate.domain.crossing import passage_id_for
from smartgate.domain.passes import Ed25519PassVerifier, PassClaims
from smartgate.schemas import (
    BarrierAction,
    BarrierCommand,
    BarrierEventKind,
    BarrierState,
    Camera,
    Country,
    Direction,
    FaceDecision,
    FaceQuality,
    FaceVerified,
    PassScanned,
    PlateRead,
)

GATE, LANE = "kimthanh2", "in-1"
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
SIGNER = CommandSigner("k1", Ed25519PrivateKey.generate())
PASSES = PassSigner("p1", Ed25519PrivateKey.generate())


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)

    def mono(self) -> float:
        return self.t

    def advance(self, seconds: float, controller: BarrierController | None = None) -> None:
        """Move time on in small steps, ticking the controller as its timer would."""
        end = self.t + seconds
        while self.t < end:
            self.t = min(end, self.t + 0.05)
            if controller is not None:
                controller.tick()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def driver(clock: Clock) -> SimulatedDriver:
    return SimulatedDriver(travel_s=0.5, monotonic=clock.mono)


@pytest.fixture
def journal(tmp_path: Path) -> BarrierJournal:
    return BarrierJournal(tmp_path / "barrier.sqlite3")


@pytest.fixture
def barrier(clock: Clock, driver: SimulatedDriver, journal: BarrierJournal) -> BarrierController:
    controller = BarrierController(
        GATE,
        LANE,
        SIGNER.keys(),
        driver,
        journal,
        timings=BarrierTimings(open_timeout_s=2, close_timeout_s=2, open_hold_s=10),
        clock=clock.wall,
        monotonic=clock.mono,
    )
    clock.advance(0.2, controller)
    return controller


def command(clock: Clock, action: BarrierAction = BarrierAction.OPEN, **changes: object) -> BarrierCommand:
    fields: dict[str, object] = {
        "command_id": f"cmd-{clock.t:.2f}-{action.value}",
        "gate_id": GATE,
        "lane_id": LANE,
        "action": action,
        "passage_id": "psg-1",
        "reason": "GREEN",
        "issued_at": clock.wall(),
        "expires_at": clock.wall() + timedelta(seconds=60),
    }
    fields.update(changes)
    return SIGNER.sign(BarrierCommand.model_validate(fields))


def test_an_authentic_open_raises_the_arm_and_it_closes_after_the_hold_time(
    barrier: BarrierController, clock: Clock
) -> None:
    assert barrier.state == BarrierState.CLOSED
    verdict = barrier.on_command(command(clock))
    assert verdict.accepted, verdict.reason
    assert barrier.state == BarrierState.OPENING
    clock.advance(0.6, barrier)
    assert barrier.state == BarrierState.OPEN
    clock.advance(9.5, barrier)
    assert barrier.state == BarrierState.OPEN
    clock.advance(0.55, barrier)
    assert barrier.state == BarrierState.CLOSING
    clock.advance(0.6, barrier)
    assert barrier.state == BarrierState.CLOSED
    states = [e.state for e in barrier.journal.events(BarrierEventKind.STATE_CHANGED)]
    assert states[-4:] == [BarrierState.OPENING, BarrierState.OPEN, BarrierState.CLOSING, BarrierState.CLOSED]


def test_a_hold_lowers_an_open_arm_and_a_truck_through_lowers_it(barrier: BarrierController, clock: Clock) -> None:
    barrier.on_command(command(clock))
    clock.advance(1, barrier)
    assert barrier.on_command(command(clock, BarrierAction.HOLD)).accepted
    clock.advance(1, barrier)
    assert barrier.state == BarrierState.CLOSED
    clock.advance(0.1)
    barrier.on_command(command(clock))
    clock.advance(1, barrier)
    barrier.vehicle_passed()
    clock.advance(1, barrier)
    assert barrier.state == BarrierState.CLOSED


def _refused(barrier: BarrierController, cmd: BarrierCommand | bytes, clock: Clock, because: str) -> None:
    moves = list(barrier.driver.moves)  # type: ignore[attr-defined]
    verdict = barrier.on_payload(cmd) if isinstance(cmd, bytes) else barrier.on_command(cmd)
    clock.advance(1, barrier)
    assert not verdict.accepted
    assert because in verdict.reason, verdict.reason
    assert barrier.state == BarrierState.CLOSED
    assert barrier.driver.moves == moves  # type: ignore[attr-defined]  # the arm never moved
    last = barrier.journal.events(BarrierEventKind.COMMAND_REFUSED)[-1]
    assert last.reason == verdict.reason


def test_commands_that_must_not_open_the_barrier_are_refused_and_logged(
    barrier: BarrierController, clock: Clock
) -> None:
    _refused(barrier, command(clock, lane_id="in-2"), clock, "for lane kimthanh2/in-2")
    _refused(barrier, command(clock, gate_id="mongcai"), clock, "for lane mongcai/in-1")
    expired = command(clock, issued_at=clock.wall() - timedelta(seconds=90), expires_at=clock.wall())
    _refused(barrier, expired, clock, "expired at")
    _refused(barrier, command(clock, issued_at=clock.wall() + timedelta(minutes=5)), clock, "in the future")
    old = command(clock, issued_at=clock.wall() - timedelta(minutes=10), expires_at=clock.wall() + timedelta(hours=1))
    _refused(barrier, old, clock, "more than 120 s ago")
    forged = command(clock).model_copy(update={"passage_id": "psg-other"})  # altered after signing
    _refused(barrier, forged, clock, "signature does not verify")
    stranger = CommandSigner("k1", Ed25519PrivateKey.generate()).sign(command(clock))  # same key id, not our key
    _refused(barrier, stranger, clock, "signature does not verify")
    _refused(barrier, CommandSigner("k9", Ed25519PrivateKey.generate()).sign(command(clock)), clock, "'k9'")
    _refused(barrier, command(clock).model_copy(update={"signature": ""}), clock, "signature does not verify")
    _refused(barrier, b'{"schema": "BarrierCommand.v2", "command_id": "x"}', clock, "malformed command: gate_id")
    _refused(barrier, b"\xff not json", clock, "malformed command")
    assert barrier.accepted == 0 and barrier.refused == 11


def test_a_replayed_command_is_refused_even_after_a_restart(
    barrier: BarrierController, clock: Clock, driver: SimulatedDriver, journal: BarrierJournal, tmp_path: Path
) -> None:
    first = command(clock)
    assert barrier.on_command(first).accepted
    clock.advance(1, barrier)
    barrier.on_command(command(clock, BarrierAction.HOLD))
    clock.advance(1, barrier)
    _refused(barrier, first, clock, "replayed")
    journal.close()
    again = BarrierJournal(tmp_path / "barrier.sqlite3")  # the controller restarted
    restarted = BarrierController(GATE, LANE, SIGNER.keys(), driver, again, clock=clock.wall, monotonic=clock.mono)
    clock.advance(1, restarted)
    _refused(restarted, first, clock, "replayed")


def test_an_arm_that_does_not_rise_in_time_is_a_fault_that_only_an_officer_resets(
    barrier: BarrierController, clock: Clock, driver: SimulatedDriver
) -> None:
    driver.jam()
    barrier.on_command(command(clock))
    clock.advance(3, barrier)
    assert barrier.state == BarrierState.FAULT
    assert driver.moves[-1].value == "down"  # told to lower: fail closed
    driver.repair()
    verdict = barrier.on_command(command(clock))
    assert not verdict.accepted and "fault" in verdict.reason
    with pytest.raises(ValueError, match="reason"):
        barrier.manual("reset", "officer-7", " ")
    barrier.manual("reset", "officer-7", "arm freed, checked by hand")
    clock.advance(1, barrier)
    assert barrier.state == BarrierState.CLOSED
    override = barrier.journal.events(BarrierEventKind.MANUAL_OVERRIDE)[-1]
    assert override.operator == "officer-7" and "arm freed" in override.reason


def test_a_dead_driver_is_a_fault(barrier: BarrierController, clock: Clock, driver: SimulatedDriver) -> None:
    driver.break_down()
    barrier.on_command(command(clock))
    assert barrier.state == BarrierState.FAULT
    assert "does not answer" in barrier.journal.events(BarrierEventKind.STATE_CHANGED)[-1].reason


def test_manual_open_and_close_are_logged_with_the_officer(barrier: BarrierController, clock: Clock) -> None:
    barrier.manual("open", "officer-3", "ambulance")
    clock.advance(1, barrier)
    assert barrier.state == BarrierState.OPEN
    barrier.manual("close", "officer-3", "ambulance through")
    clock.advance(1, barrier)
    assert barrier.state == BarrierState.CLOSED
    overrides = barrier.journal.events(BarrierEventKind.MANUAL_OVERRIDE)
    assert [(o.operator, o.action) for o in overrides] == [
        ("officer-3", BarrierAction.OPEN),
        ("officer-3", BarrierAction.HOLD),
    ]
    with pytest.raises(ValueError, match="operator"):
        barrier.manual("open", "", "no name")


def test_the_journal_forgets_what_is_past_its_retention(journal: BarrierJournal, barrier: BarrierController) -> None:
    barrier.manual("open", "officer-3", "test")
    assert journal.events(BarrierEventKind.MANUAL_OVERRIDE)
    journal.prune(T0 + timedelta(days=31))
    assert not journal.events()


def test_unknown_drivers_are_named() -> None:
    with pytest.raises(ValueError, match="'gpio'"):
        driver_from_config("gpio")


# --------------------------------------------------------------------------- offline clearance


def plate(text: str = "29C-123.45", n: int = 1, confidence: float = 0.95) -> PlateRead:
    return PlateRead(
        event_id=f"{LANE}-t{n}",
        gate_id=GATE,
        lane_id=LANE,
        camera=Camera.FRONT,
        plate_text=text,
        country=Country.VN,
        format_valid=True,
        confidence=confidence,
        captured_at=T0,
    )


def pass_for(
    plate_text: str = "29C12345", *, gate: str = GATE, direction: Direction = Direction.CN_TO_VN, hours: int = 2
) -> str:
    start = int(T0.timestamp()) - 3600
    claims = PassClaims(
        booking_id="BK-1",
        plate_key=plate_text,
        gate_id=gate,
        direction=direction,
        not_before=start,
        not_after=start + hours * 3600,
    )
    return PASSES.issue(claims)


def scanned(token: str, n: int = 1) -> PassScanned:
    return PassScanned(event_id=f"{LANE}-t{n}.pass", gate_id=GATE, lane_id=LANE, token=token, captured_at=T0)


@pytest.fixture
def offline(barrier: BarrierController, clock: Clock) -> OfflineClearance:
    return OfflineClearance(
        GATE,
        LANE,
        Direction.CN_TO_VN.value,
        Ed25519PassVerifier(PASSES.public_keys()),
        barrier,
        policy=OfflinePolicy(after_s=5),
        clock=clock.wall,
        monotonic=clock.mono,
    )


def _wait(offline: OfflineClearance, clock: Clock, seconds: float) -> None:
    end = clock.t + seconds
    while clock.t < end:
        clock.advance(0.1, offline.barrier)
        offline.tick()


def test_offline_a_valid_pass_for_the_plate_read_opens_and_the_cloud_s_late_command_is_refused(
    offline: OfflineClearance, clock: Clock
) -> None:
    offline.on_detection(plate())
    offline.on_detection(scanned(pass_for()))
    _wait(offline, clock, 4)
    assert offline.barrier.state == BarrierState.CLOSED and not offline.degraded  # still waiting for the cloud
    _wait(offline, clock, 2)
    assert offline.degraded
    assert offline.barrier.state in (BarrierState.OPENING, BarrierState.OPEN)
    decision = offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert decision.action == BarrierAction.OPEN and decision.booking_id == "BK-1"
    assert decision.passage_id == passage_id_for(plate())
    assert decision.detection_ids == [f"{LANE}-t1", f"{LANE}-t1.pass"]
    late = command(clock, passage_id=decision.passage_id)
    verdict = offline.barrier.on_command(late)
    assert not verdict.accepted and "decided at the lane" in verdict.reason and verdict.authentic


@pytest.mark.parametrize(
    ("read", "token", "because"),
    [
        (plate(), None, "no pass shown"),
        (plate("29C-999.99"), pass_for(), "is for plate 29C12345"),
        (plate(), pass_for(gate="mongcai"), "for gate mongcai"),
        (plate(), pass_for(direction=Direction.VN_TO_CN), "VN_TO_CN"),
        (plate(), pass_for(hours=0), "not valid now"),
        (plate(), pass_for()[:-4] + "ABCD", "pass refused"),
        (plate(confidence=0.5), pass_for(), "not certain enough"),
    ],
    ids=["no-pass", "other-plate", "other-gate", "other-direction", "expired", "forged", "doubtful-read"],
)
def test_offline_everything_but_a_matching_valid_pass_holds_for_an_officer(
    offline: OfflineClearance, clock: Clock, read: PlateRead, token: str | None, because: str
) -> None:
    offline.on_detection(read)
    if token:
        offline.on_detection(scanned(token))
    _wait(offline, clock, 6)
    assert offline.barrier.state == BarrierState.CLOSED
    decision = offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert decision.action == BarrierAction.HOLD
    assert because in decision.reason, decision.reason


@pytest.mark.parametrize(("decision", "action"), [("mismatch", BarrierAction.HOLD), ("match", BarrierAction.OPEN)])
def test_offline_a_valid_pass_does_not_open_for_a_driver_whose_face_did_not_match(
    offline: OfflineClearance, clock: Clock, decision: str, action: BarrierAction
) -> None:
    offline.on_detection(plate())
    offline.on_detection(scanned(pass_for()))
    score = 0.3 if decision == "mismatch" else 0.6
    quality = FaceQuality(face_px=120, sharpness=70.0, detector_score=0.9, frames=3)
    offline.on_detection(
        FaceVerified(
            event_id=f"{LANE}-t1.face",
            gate_id=GATE,
            lane_id=LANE,
            booking_id="BK-1",
            decision=FaceDecision(decision),
            score=score,
            threshold=0.55,
            quality=quality,
            captured_at=T0,
        )
    )
    _wait(offline, clock, 6)
    made = offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert made.action == action, made.reason
    if action == BarrierAction.HOLD:
        assert "face does not match booking BK-1's driver" in made.reason


def test_a_truck_the_cloud_answers_is_not_decided_offline(offline: OfflineClearance, clock: Clock) -> None:
    offline.on_detection(plate())
    _wait(offline, clock, 1)
    held = command(clock, BarrierAction.HOLD, passage_id=passage_id_for(plate()))
    assert offline.barrier.on_command(held).accepted
    offline.on_cloud_answer(held.passage_id)
    offline.on_detection(scanned(pass_for()))  # a late detection of the same truck
    _wait(offline, clock, 20)
    assert not offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)
    assert not offline.degraded
    offline.on_detection(plate("29C-555.55", n=2))  # the next truck, with the cloud gone quiet
    _wait(offline, clock, 6)
    assert offline.degraded
    offline.on_cloud_answer("psg-an-earlier-truck")
    assert not offline.degraded


def test_a_replayed_command_does_not_count_as_the_cloud_answering(offline: OfflineClearance, clock: Clock) -> None:
    # Given a command the lane acted on (someone on the lane's network captured it)
    captured = command(clock)
    assert offline.barrier.on_command(captured).accepted
    clock.advance(12, offline.barrier)
    # When the cloud goes silent, a truck with a valid pass comes, and the captured command is replayed
    offline.on_detection(plate())
    offline.on_detection(scanned(pass_for()))
    replayed = offline.barrier.on_command(captured)
    assert not replayed.accepted and not replayed.authentic
    _wait(offline, clock, 6)
    # Then the lane still decides the truck itself and says it is degraded
    assert offline.degraded
    assert offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1].action == BarrierAction.OPEN


def test_a_truck_the_cloud_already_answered_is_not_opened_offline(offline: OfflineClearance, clock: Clock) -> None:
    # Given the cloud's HOLD for a truck, arriving before the lane's own copy of the truck's reads
    held = command(clock, BarrierAction.HOLD, passage_id=passage_id_for(plate()))
    assert offline.barrier.on_command(held).accepted
    clock.advance(8, offline.barrier)
    # When the truck's plate and valid pass reach the offline clearance, and the cloud says nothing more
    offline.on_detection(plate())
    offline.on_detection(scanned(pass_for()))
    _wait(offline, clock, 8)
    # Then the lane does not open it on its own: the cloud decided it
    assert offline.barrier.state == BarrierState.CLOSED
    assert not offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)


class FlakyDriver(SimulatedDriver):
    def position(self):  # type: ignore[no-untyped-def]
        raise OSError("serial port gone")


def test_any_driver_error_is_a_fault_that_lowers_the_arm_and_survives_a_restart(
    clock: Clock, journal: BarrierJournal, tmp_path: Path
) -> None:
    driver = FlakyDriver(travel_s=0.5, monotonic=clock.mono)
    barrier = BarrierController(GATE, LANE, SIGNER.keys(), driver, journal, clock=clock.wall, monotonic=clock.mono)
    barrier.tick()
    assert barrier.state == BarrierState.FAULT
    assert "OSError: serial port gone" in barrier.journal.events(BarrierEventKind.STATE_CHANGED)[-1].reason
    journal.close()
    again = BarrierController(
        GATE,
        LANE,
        SIGNER.keys(),
        SimulatedDriver(monotonic=clock.mono),
        BarrierJournal(tmp_path / "barrier.sqlite3"),
        clock=clock.wall,
        monotonic=clock.mono,
    )
    assert again.state == BarrierState.FAULT  # a restart is not a reset
    again.manual("reset", "officer-2", "serial cable replaced")
    clock.advance(1, again)
    assert again.state == BarrierState.CLOSED


def test_offline_an_open_the_barrier_cannot_do_or_a_pass_used_twice_is_held(
    offline: OfflineClearance, clock: Clock, driver: SimulatedDriver
) -> None:
    offline.on_detection(plate())
    offline.on_detection(scanned(pass_for()))
    _wait(offline, clock, 6)
    assert offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1].action == BarrierAction.OPEN
    _wait(offline, clock, 12)
    # the same pass again, on another truck read with the same plate
    offline.on_detection(plate(n=2))
    offline.on_detection(scanned(pass_for(), n=2))
    _wait(offline, clock, 6)
    again = offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert again.action == BarrierAction.HOLD and "already used" in again.reason
    # a barrier in fault cannot open: the lane says HOLD, and marks nothing as let through
    driver.break_down()
    offline.barrier.tick()
    assert offline.barrier.state == BarrierState.FAULT
    offline.on_detection(plate("29C-777.77", n=3))
    offline.on_detection(scanned(pass_for("29C77777"), n=3))
    _wait(offline, clock, 6)
    faulted = offline.barrier.journal.events(BarrierEventKind.OFFLINE_DECISION)[-1]
    assert faulted.action == BarrierAction.HOLD and "fault" in faulted.reason


def test_stopping_lowers_the_arm_and_the_next_truck_closes_an_open_one(
    barrier: BarrierController, clock: Clock
) -> None:
    barrier.on_command(command(clock))
    clock.advance(1, barrier)
    barrier.next_vehicle()  # too soon: an open lasts a few seconds whatever the cameras see
    assert barrier.state == BarrierState.OPEN
    clock.advance(3, barrier)
    barrier.next_vehicle()
    assert barrier.state == BarrierState.CLOSING
    clock.advance(1, barrier)
    barrier.manual("open", "officer-1", "escort")
    clock.advance(1, barrier)
    barrier.shut_down()
    assert barrier.state == BarrierState.CLOSING and barrier.driver.moves[-1].value == "down"  # type: ignore[attr-defined]
