"""The lane's barrier controller: a state machine that fails closed and acts only on authentic, fresh
commands for its own gate and lane.

States (:class:`~smartgate.schemas.BarrierState`)::

    closed --open--> opening --arm up--> open --hold / truck through / hold time over--> closing --arm down--> closed
       any state --driver error, or the arm not where it should be in time--> fault (arm lowered)
       fault --an officer's manual reset at the lane, the arm down--> closed

A cloud command (:class:`~smartgate.schemas.BarrierCommand`) is acted on only when all of these hold,
checked in this order, the first that fails naming the refusal: it parses; it is for this gate and lane;
its key id is one the lane holds and its Ed25519 signature verifies; it has not expired, was not issued in
the future (beyond ``max_clock_skew_s``) and is not older than ``max_command_age_s``; its ``command_id``
was never acted on before (the ids are kept on disk until they expire, so a restart does not reopen the
replay window); its passage was not already decided by the lane itself while the cloud was silent; the
barrier is not in fault. Anything else is refused, logged, reported, and the barrier does not move.

Every command acted on or refused, every state change and every manual override is written to the
journal (SQLite; kept ``retention_days``, since an override names the officer) and handed to ``report``
(the component sends it on the lane's ``barrier`` topic through the store-and-forward outbox).

Hardware sits behind :class:`BarrierDriver`; :class:`SimulatedDriver` stands in for it (GPIO or Modbus
drivers implement the same three methods).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Literal, Protocol

from pydantic import ValidationError

from smartgate.domain.commands import CommandKeys
from smartgate.schemas import (
    BarrierAction,
    BarrierCommand,
    BarrierEvent,
    BarrierEventKind,
    BarrierState,
    utc_now,
)
from smartgate_edge.transport import kv

log = logging.getLogger("smartgate_edge.barrier")

ManualAction = Literal["open", "close", "reset"]
SIGNED_KEPT = 200
MIN_OPEN_S = 3.0  # an open lasts at least this long, whatever the cameras see next


class ArmPosition(StrEnum):
    DOWN = "down"
    UP = "up"
    MOVING = "moving"


class DriverError(RuntimeError):
    """The barrier hardware failed (no answer, an error from its controller)."""


class BarrierDriver(Protocol):
    """What the controller needs from the barrier's hardware."""

    def raise_arm(self) -> None: ...

    def lower_arm(self) -> None: ...

    def position(self) -> ArmPosition: ...


class SimulatedDriver:
    """A barrier arm that takes ``travel_s`` to move; ``jam()`` makes it stop short, ``break_down()`` makes
    every call fail (as a dead controller would)."""

    def __init__(self, travel_s: float = 0.3, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.travel_s = travel_s
        self._monotonic = monotonic
        self._target = ArmPosition.DOWN
        self._since = monotonic() - travel_s
        self._jammed = False
        self._broken = False
        self.moves: list[ArmPosition] = []

    def jam(self) -> None:
        self._jammed = True

    def break_down(self) -> None:
        self._broken = True

    def repair(self) -> None:
        self._jammed = self._broken = False

    def _check(self) -> None:
        if self._broken:
            raise DriverError("the simulated barrier does not answer")

    def _move(self, target: ArmPosition) -> None:
        self._check()
        if target != self._target:
            self._target, self._since = target, self._monotonic()
            self.moves.append(target)

    def raise_arm(self) -> None:
        self._move(ArmPosition.UP)

    def lower_arm(self) -> None:
        self._move(ArmPosition.DOWN)

    def position(self) -> ArmPosition:
        self._check()
        if self._jammed or self._monotonic() - self._since < self.travel_s:
            return ArmPosition.MOVING
        return self._target


def driver_from_config(name: str, travel_s: float = 0.3) -> BarrierDriver:
    if name == "simulated":
        return SimulatedDriver(travel_s)
    raise ValueError(f"Driver: {name!r} is not a barrier driver here (available: simulated)")


@dataclass(frozen=True)
class BarrierTimings:
    open_timeout_s: float = 6.0  # the arm must be up this long after it was told to rise, else fault
    close_timeout_s: float = 6.0  # and down this long after it was told to lower
    open_hold_s: float = 30.0  # the longest the arm stays up for one truck
    max_clock_skew_s: float = 5.0  # a command issued further in the future than this is refused
    max_command_age_s: float = 120.0  # and one issued longer ago than this, even if not expired yet


@dataclass(frozen=True)
class Verdict:
    accepted: bool
    reason: str
    command_id: str | None = None
    passage_id: str | None = None
    authentic: bool = False  # signed by the cloud for this lane and fresh: the cloud is answering


JOURNAL_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_commands (command_id TEXT PRIMARY KEY, expires_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS decided_offline (passage_id TEXT PRIMARY KEY, at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS controller (name TEXT PRIMARY KEY, value TEXT NOT NULL, detail TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    event TEXT NOT NULL
);
"""


class BarrierJournal:
    """The controller's durable memory: command ids acted on (replay refusal across restarts), passages
    the lane decided itself, and the log of everything it did. One SQLite file, WAL, synchronous=FULL."""

    def __init__(self, path: Path | str, retention_days: float = 30.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.retention = timedelta(days=retention_days)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(JOURNAL_SCHEMA)
        self._lock = threading.Lock()

    def remember_command(self, command_id: str, expires_at: datetime) -> bool:
        """True the first time an id is seen; False for a replay."""
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO seen_commands (command_id, expires_at) VALUES (?, ?)",
                (command_id, expires_at.timestamp()),
            )
            return cursor.rowcount == 1

    def mark_decided_offline(self, passage_id: str, at: datetime) -> None:
        with self._lock:
            self._db.execute(
                "INSERT OR IGNORE INTO decided_offline (passage_id, at) VALUES (?, ?)", (passage_id, at.timestamp())
            )

    def decided_offline(self, passage_id: str) -> bool:
        with self._lock:
            return (
                self._db.execute("SELECT 1 FROM decided_offline WHERE passage_id = ?", (passage_id,)).fetchone()
                is not None
            )

    def set_state(self, value: str, detail: str) -> None:
        """What must survive a restart: ``fault`` until an officer resets it."""
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO controller (name, value, detail) VALUES ('state', ?, ?)", (value, detail[:500])
            )

    def state(self) -> tuple[str, str] | None:
        with self._lock:
            row = self._db.execute("SELECT value, detail FROM controller WHERE name = 'state'").fetchone()
        return (str(row[0]), str(row[1])) if row else None

    def record(self, event: BarrierEvent) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO journal (at, kind, event) VALUES (?, ?, ?)",
                (event.at.timestamp(), event.kind.value, event.model_dump_json(by_alias=True)),
            )

    def events(self, kind: BarrierEventKind | None = None) -> list[BarrierEvent]:
        with self._lock:
            rows = self._db.execute(
                "SELECT event FROM journal WHERE ?1 IS NULL OR kind = ?1 ORDER BY seq", (kind.value if kind else None,)
            ).fetchall()
        return [BarrierEvent.model_validate_json(row[0]) for row in rows]

    def prune(self, now: datetime) -> int:
        """Forget expired command ids (a replay of one is refused as expired anyway), passages decided offline
        a day ago, and journal entries past the retention limit. Returns the rows removed."""
        with self._lock:
            removed = self._db.execute(
                "DELETE FROM seen_commands WHERE expires_at < ?", (now.timestamp() - 60,)
            ).rowcount
            removed += self._db.execute(
                "DELETE FROM decided_offline WHERE at < ?", ((now - timedelta(days=1)).timestamp(),)
            ).rowcount
            removed += self._db.execute(
                "DELETE FROM journal WHERE at < ?", ((now - self.retention).timestamp(),)
            ).rowcount
        return removed

    def close(self) -> None:
        with self._lock:
            self._db.close()


class BarrierController:
    """One lane's barrier. Thread-safe: commands arrive on the transport's thread, ``tick()`` runs on a timer
    (every 0.1 s or so) and moves the state machine on."""

    def __init__(
        self,
        gate_id: str,
        lane_id: str,
        keys: CommandKeys,
        driver: BarrierDriver,
        journal: BarrierJournal,
        *,
        report: Callable[[BarrierEvent], None] | None = None,
        timings: BarrierTimings | None = None,
        clock: Callable[[], datetime] = utc_now,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.gate_id = gate_id
        self.lane_id = lane_id
        self.keys = keys
        self.driver = driver
        self.journal = journal
        self.report = report or (lambda event: None)
        self.timings = timings or BarrierTimings()
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.RLock()
        self.state = BarrierState.CLOSED
        self._since = monotonic()
        self._passage_id: str | None = None
        self._signed: OrderedDict[str, BarrierAction] = OrderedDict()  # passages the cloud signed commands for
        self.accepted = 0
        self.refused = 0
        self._fail_closed_at_start()

    # ---- reporting

    def _event(self, kind: BarrierEventKind, reason: str, **fields: object) -> BarrierEvent:
        event = BarrierEvent.model_validate(
            {
                "event_id": f"{self.lane_id}-bar-{uuid.uuid4().hex[:20]}",
                "gate_id": self.gate_id,
                "lane_id": self.lane_id,
                "kind": kind,
                "state": self.state,
                "reason": reason[:500],
                "at": self._clock(),
                **fields,
            }
        )
        self.journal.record(event)
        level = (
            logging.WARNING
            if kind in (BarrierEventKind.COMMAND_REFUSED, BarrierEventKind.MANUAL_OVERRIDE)
            else logging.INFO
        )
        log.log(level, kv(f"barrier {kind.value}", state=self.state.value, reason=reason, **fields))
        try:
            self.report(event)
        except Exception:  # the journal has it; reporting must never move the barrier
            log.exception(kv("barrier event not reported", event_id=event.event_id))
        return event

    def _enter(self, state: BarrierState, reason: str) -> None:
        if state == self.state:
            return
        self.state, self._since = state, self._monotonic()
        self._event(BarrierEventKind.STATE_CHANGED, reason, passage_id=self._passage_id)

    # ---- driving the arm

    def _drive(self, up: bool) -> bool:
        try:
            self.driver.raise_arm() if up else self.driver.lower_arm()
        except Exception as exc:  # noqa: BLE001 - whatever a driver raises (OSError, a Modbus error) is a fault
            self._fault(f"the barrier driver failed: {type(exc).__name__}: {exc}")
            return False
        return True

    def _fault(self, reason: str) -> None:
        try:
            self.driver.lower_arm()  # fail closed, if the arm can still move
        except Exception as exc:  # noqa: BLE001 - still a fault, whatever the driver raised
            reason = f"{reason}; lowering the arm failed too: {type(exc).__name__}: {exc}"
        self._enter(BarrierState.FAULT, reason)
        self.journal.set_state("fault", reason)

    def _fail_closed_at_start(self) -> None:
        with self._lock:
            kept = self.journal.state()
            if kept is not None and kept[0] == "fault":  # a restart is not a reset: an officer must see to it
                self._fault(f"still in fault after a restart ({kept[1]}); an officer must reset it at the lane")
            elif self._drive(up=False):
                self._enter(BarrierState.CLOSING, "controller started: lowering the arm")

    def shut_down(self) -> None:
        """The component stops: lower the arm, so no barrier stays up without its controller."""
        with self._lock:
            if self.state not in (BarrierState.CLOSED, BarrierState.CLOSING, BarrierState.FAULT) and self._drive(
                up=False
            ):
                self._enter(BarrierState.CLOSING, "controller stopping: lowering the arm")

    def _open(self, reason: str, passage_id: str | None) -> None:
        self._passage_id = passage_id
        if self.state == BarrierState.OPENING:
            return  # already rising: its open timeout keeps running (a jammed arm still becomes a fault)
        if self.state == BarrierState.OPEN:
            self._since = self._monotonic()  # a new truck's open: the hold time starts again
            return
        if self._drive(up=True):
            self._enter(BarrierState.OPENING, reason)

    def _close(self, reason: str) -> None:
        if self.state in (BarrierState.CLOSED, BarrierState.CLOSING, BarrierState.FAULT):
            return
        if self._drive(up=False):
            self._enter(BarrierState.CLOSING, reason)

    def tick(self) -> BarrierState:
        """Move on: opening -> open when the arm is up, open -> closing after the hold time, closing -> closed
        when it is down; an arm not where it should be in time, or a driver error, is a fault."""
        with self._lock:
            if self.state == BarrierState.FAULT:
                return self.state
            waited = self._monotonic() - self._since
            try:
                position = self.driver.position()
            except Exception as exc:  # noqa: BLE001 - whatever a driver raises is a fault: fail closed
                self._fault(f"the barrier driver failed: {type(exc).__name__}: {exc}")
                return self.state
            if self.state == BarrierState.OPENING:
                if position == ArmPosition.UP:
                    self._enter(BarrierState.OPEN, "arm up")
                elif waited > self.timings.open_timeout_s:
                    self._fault(f"the arm was not up {self.timings.open_timeout_s:g} s after it was raised")
            elif self.state == BarrierState.OPEN:
                if waited > self.timings.open_hold_s:
                    self._close(f"open for {self.timings.open_hold_s:g} s: lowering")
            elif self.state == BarrierState.CLOSING:
                if position == ArmPosition.DOWN:
                    self._passage_id = None
                    self._enter(BarrierState.CLOSED, "arm down")
                elif waited > self.timings.close_timeout_s:
                    self._fault(f"the arm was not down {self.timings.close_timeout_s:g} s after it was lowered")
            elif position != ArmPosition.DOWN:
                self._fault(f"the arm is {position.value} while the barrier is closed")
            return self.state

    def vehicle_passed(self) -> None:
        """The loop detector saw the truck through: lower the arm."""
        with self._lock:
            self._close("the vehicle passed")

    def next_vehicle(self) -> None:
        """The next truck's front plate was read at the barrier: the one it opened for has gone through
        (without a loop detector this is what keeps an open lasting no longer than one truck)."""
        with self._lock:
            if self.state == BarrierState.OPEN and self._monotonic() - self._since >= MIN_OPEN_S:
                self._close("the next vehicle is at the barrier")

    # ---- cloud commands

    def on_payload(self, payload: bytes) -> Verdict:
        try:
            command = BarrierCommand.model_validate_json(payload)
        except ValidationError as exc:
            first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
            where = ".".join(str(part) for part in first["loc"]) or "command"
            return self._refuse(f"malformed command: {where}: {first['msg']}", None)
        except ValueError as exc:
            return self._refuse(f"malformed command: {exc}", None)
        return self.on_command(command)

    def on_command(self, command: BarrierCommand) -> Verdict:
        with self._lock:
            problem, authentic = self._problem(command)
            if problem:
                return self._refuse(problem, command, authentic)
            self.accepted += 1
            self._event(
                BarrierEventKind.COMMAND_ACCEPTED,
                command.reason or command.action.value,
                command_id=command.command_id,
                passage_id=command.passage_id,
                action=command.action,
            )
            if command.action == BarrierAction.OPEN:
                self._open(f"cloud command {command.command_id}", command.passage_id)
            else:
                self._close(f"cloud command {command.command_id}: hold")
            return Verdict(True, "acted on", command.command_id, command.passage_id, authentic=True)

    def _problem(self, command: BarrierCommand) -> tuple[str | None, bool]:
        """Why the command must not be acted on (None: it may), and whether it is authentic and fresh."""
        if (command.gate_id, command.lane_id) != (self.gate_id, self.lane_id):
            return f"for lane {command.gate_id}/{command.lane_id}, this is {self.gate_id}/{self.lane_id}", False
        if command.key_id not in self.keys.public_keys:
            return f"signed with a key this lane does not hold ({command.key_id!r})", False
        if not self.keys.valid(command):
            return "its signature does not verify (forged or altered)", False
        self._signed[command.passage_id] = command.action  # the cloud spoke of this passage: never decide it here
        while len(self._signed) > SIGNED_KEPT:
            self._signed.popitem(last=False)
        now = self._clock()
        if command.expires_at <= now:
            return f"expired at {command.expires_at.isoformat()}", False
        if command.issued_at > now + timedelta(seconds=self.timings.max_clock_skew_s):
            return f"issued in the future ({command.issued_at.isoformat()})", False
        if command.issued_at < now - timedelta(seconds=self.timings.max_command_age_s):
            age = self.timings.max_command_age_s
            return f"issued more than {age:g} s ago ({command.issued_at.isoformat()})", False
        if not self.journal.remember_command(command.command_id, command.expires_at):
            return f"replayed: command {command.command_id} was seen before", False  # proves no live cloud
        if self.journal.decided_offline(command.passage_id):
            return f"passage {command.passage_id} was opened at the lane: decided at the lane, the cloud silent", True
        if self.state == BarrierState.FAULT and command.action == BarrierAction.OPEN:
            return "the barrier is in fault: an officer must reset it at the lane", True
        return None, True

    def _refuse(self, reason: str, command: BarrierCommand | None, authentic: bool = False) -> Verdict:
        self.refused += 1
        fields: dict[str, object] = {}
        if command is not None:
            fields = {"command_id": command.command_id, "passage_id": command.passage_id, "action": command.action}
        self._event(BarrierEventKind.COMMAND_REFUSED, reason, **fields)
        return Verdict(
            False,
            reason,
            command.command_id if command else None,
            command.passage_id if command else None,
            authentic=authentic,
        )

    # ---- the lane's own decisions and officers at the lane

    def decide_offline(
        self,
        action: BarrierAction,
        reason: str,
        passage_id: str,
        *,
        plate_text: str | None = None,
        booking_id: str | None = None,
        detection_ids: list[str] | None = None,
    ) -> BarrierAction | None:
        """The lane's offline clearance decided this passage: open (a valid pass) or keep closed. Logged and
        reported for the cloud to reconcile; a cloud command for the same passage arriving later is refused
        (the truck has been dealt with). Returns what was done: HOLD also for an open the barrier cannot do
        (in fault) or a pass already used offline; None when the cloud has signed a command for this passage
        meanwhile (checked under the lock the command path holds, so the two never both act)."""
        with self._lock:
            if passage_id in self._signed:  # the cloud answered this truck meanwhile: it is not the lane's
                return None
            if action == BarrierAction.OPEN and self.state == BarrierState.FAULT:
                action, reason = BarrierAction.HOLD, f"{reason}; but the barrier is in fault: held for an officer"
            if action == BarrierAction.OPEN and booking_id and self.journal.decided_offline(f"booking:{booking_id}"):
                action, reason = BarrierAction.HOLD, f"pass {booking_id} was already used at this lane offline"
            if action == BarrierAction.OPEN:  # a held truck still waits: the cloud's later command may move it
                self.journal.mark_decided_offline(passage_id, self._clock())
                if booking_id:
                    self.journal.mark_decided_offline(f"booking:{booking_id}", self._clock())
            self._event(
                BarrierEventKind.OFFLINE_DECISION,
                reason,
                passage_id=passage_id,
                action=action,
                plate_text=plate_text,
                booking_id=booking_id,
                detection_ids=detection_ids or [],
            )
            if action == BarrierAction.OPEN:
                self._open(f"offline decision: {reason}", passage_id)
            return action

    def manual(self, action: ManualAction, operator: str, reason: str) -> None:
        """An officer at the lane opens, closes or (after a fault) resets the barrier; always logged, with who
        and why (both required)."""
        if not operator.strip():
            raise ValueError("operator: a manual override names the officer")
        if not reason.strip():
            raise ValueError("reason: a manual override says why")
        with self._lock:
            self._event(
                BarrierEventKind.MANUAL_OVERRIDE,
                f"{action}: {reason}",
                operator=operator.strip(),
                action=BarrierAction.OPEN if action == "open" else BarrierAction.HOLD,
            )
            if action == "reset":
                if self.state == BarrierState.FAULT and self._drive(up=False):
                    self.journal.set_state("ok", f"reset by {operator}")
                    self._enter(BarrierState.CLOSING, f"reset by {operator}: lowering the arm")
            elif action == "open":
                self._open(f"manual open by {operator}", None)
            else:
                self._close(f"manual close by {operator}")

    def describe(self) -> str:
        return f"barrier {self.state.value}; commands acted on {self.accepted}, refused {self.refused}"
