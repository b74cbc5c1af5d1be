"""com.smartgate.BarrierController, wired: the barrier state machine on the lane's commands topic, offline
clearance on the lane's local bus, and every barrier report through a store-and-forward outbox.

:class:`BarrierComponent` needs an uplink for commands and reports (it may be down: reports wait in the
outbox, and after ``offline_after_s`` of cloud silence on a truck the lane decides it itself), and a local
bus for the lane's own detections (without one, there is no offline clearance: every truck waits for the
cloud or an officer). ``run()`` ticks the state machine and the offline clearance ten times a second and
says the lane's mode on the local bus.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smartgate import topics
from smartgate.config import ConfigError
from smartgate.domain.commands import CommandKeys
from smartgate.domain.gates import UnknownLane, default_gates
from smartgate.domain.passes import Ed25519PassVerifier, public_keys_from
from smartgate.schemas import DETECTION_ADAPTER, BarrierEvent, Camera, Identifier, PlateRead, utc_now
from smartgate_edge.barrier import BarrierController, BarrierDriver, BarrierJournal, BarrierTimings, driver_from_config
from smartgate_edge.local_bus import local_detections_topic, local_input_topic, local_mode_topic, mode_now
from smartgate_edge.offline import OfflineClearance, OfflinePolicy
from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import Transport, TransportError, kv, subscribe_until_held

log = logging.getLogger("smartgate_edge.barrier_component")

TICK_S = 0.1
MODE_EVERY_S = 5.0
PRUNE_EVERY_S = 3600.0


class BarrierConfig(BaseModel):
    """The component's settings, from the environment its recipe sets."""

    model_config = ConfigDict(extra="ignore", validate_by_name=True, validate_by_alias=True)

    gate_id: Identifier = Field(alias="SMARTGATE_GATE_ID")
    lane_id: Identifier = Field(alias="SMARTGATE_LANE_ID")
    stage: str = Field("prod", alias="SMARTGATE_STAGE", description="which lanes the gate registry lists")
    command_public_keys: str = Field(alias="COMMAND_PUBLIC_KEYS", min_length=1)
    pass_public_keys: str = Field("", alias="PASS_PUBLIC_KEYS", description="unset: no offline clearance")
    journal_path: str = Field("barrier.sqlite3", alias="SMARTGATE_BARRIER_JOURNAL")
    outbox_path: str = Field("barrier-outbox.sqlite3", alias="SMARTGATE_BARRIER_OUTBOX")
    retention_days: float = Field(30, gt=0, le=3650, alias="SMARTGATE_BARRIER_RETENTION_DAYS")
    driver: str = Field("simulated", alias="SMARTGATE_BARRIER_DRIVER")
    arm_travel_s: float = Field(0.3, ge=0, le=30, alias="SMARTGATE_ARM_TRAVEL_S")
    open_timeout_s: float = Field(6, gt=0, le=120, alias="SMARTGATE_OPEN_TIMEOUT_S")
    close_timeout_s: float = Field(6, gt=0, le=120, alias="SMARTGATE_CLOSE_TIMEOUT_S")
    open_hold_s: float = Field(30, gt=0, le=600, alias="SMARTGATE_OPEN_HOLD_S")
    max_command_age_s: float = Field(120, gt=0, le=3600, alias="SMARTGATE_MAX_COMMAND_AGE_S")
    offline_after_s: float = Field(45, ge=0, le=3600, alias="SMARTGATE_OFFLINE_AFTER_S", description="0: never")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> BarrierConfig:
        try:
            config = cls.model_validate({k: v for k, v in env.items() if v != ""})
        except ValidationError as err:
            aliases = {name: info.alias for name, info in cls.model_fields.items()}
            problems = "; ".join(
                f"{aliases.get(str(e['loc'][0]), e['loc'][0]) if e['loc'] else 'settings'}: {e['msg']}"
                for e in err.errors()
            )
            raise ConfigError(f"invalid barrier controller settings: {problems}") from err
        try:
            config.keys()
            config.passes()
            config.direction()
        except (ValueError, UnknownLane) as err:
            raise ConfigError(f"invalid barrier controller settings: {err}") from err
        return config

    def keys(self) -> CommandKeys:
        keys = CommandKeys.from_text(self.command_public_keys)
        if not keys.public_keys:
            raise ValueError("COMMAND_PUBLIC_KEYS: no command public key given")
        return keys

    def passes(self) -> Ed25519PassVerifier | None:
        return Ed25519PassVerifier(public_keys_from(self.pass_public_keys)) if self.pass_public_keys else None

    def direction(self) -> str:
        return default_gates(self.stage).lane(self.gate_id, self.lane_id).direction.value

    def timings(self) -> BarrierTimings:
        return BarrierTimings(
            open_timeout_s=self.open_timeout_s,
            close_timeout_s=self.close_timeout_s,
            open_hold_s=self.open_hold_s,
            max_command_age_s=self.max_command_age_s,
        )


class BarrierComponent:
    def __init__(
        self,
        config: BarrierConfig,
        local: Transport | None,
        *,
        driver: BarrierDriver | None = None,
        uplink: Transport | None = None,
    ) -> None:
        self.config = config
        self.local = local
        self.outbox = LaneOutbox(config.outbox_path, uplink, max_backoff=2.0)
        self.journal = BarrierJournal(config.journal_path, config.retention_days)
        self.barrier_topic = topics.barrier_topic(config.gate_id, config.lane_id)
        self.barrier = BarrierController(
            config.gate_id,
            config.lane_id,
            config.keys(),
            driver or driver_from_config(config.driver, config.arm_travel_s),
            self.journal,
            report=self._report,
            timings=config.timings(),
        )
        verifier = config.passes()
        self.offline: OfflineClearance | None = None
        if local is not None and verifier is not None and config.offline_after_s > 0:
            self.offline = OfflineClearance(
                config.gate_id,
                config.lane_id,
                config.direction(),
                verifier,
                self.barrier,
                policy=OfflinePolicy(after_s=config.offline_after_s),
            )
        else:
            why = "no local bus" if local is None else "no pass public keys" if verifier is None else "turned off"
            log.warning(kv("offline clearance off: trucks wait for the cloud or an officer", why=why))
        if local is not None:
            local.subscribe(local_detections_topic(config.gate_id, config.lane_id), self._on_detection)
            local.subscribe(local_input_topic(config.gate_id, config.lane_id), self._on_lane_input)
        self.journal.prune(utc_now())  # personal data (overrides name officers) past its retention goes
        self._uplink: Transport | None = None
        self._lock = threading.Lock()
        self._mode_said: tuple[bool, str] | None = None
        if uplink is not None:
            self.attach_uplink(uplink)
        self.outbox.start()

    def attach_uplink(self, uplink: Transport, stop: threading.Event | None = None, retry_s: float = 1.0) -> None:
        """The uplink is connected: send the queued reports over it and take commands from it. A subscribe
        that fails (the link dropped between CONNACK and SUBACK) is tried again until it holds, so the
        barrier is never left deaf to its commands."""
        with self._lock:
            self._uplink = uplink
        self.outbox.transport = uplink
        topic = topics.commands_topic(self.config.gate_id, self.config.lane_id)
        if not subscribe_until_held(uplink, topic, self._on_command, stop, retry_s=retry_s):
            return
        log.info(kv("uplink connected", gate_id=self.config.gate_id, lane_id=self.config.lane_id))

    # ---- inputs

    def _report(self, event: BarrierEvent) -> None:
        self.outbox.put(self.barrier_topic, event)

    def _on_command(self, topic: str, payload: bytes) -> None:
        verdict = self.barrier.on_payload(payload)
        if verdict.authentic and self.offline is not None:
            self.offline.on_cloud_answer(verdict.passage_id)

    def _on_detection(self, topic: str, payload: bytes) -> None:
        try:
            detection = DETECTION_ADAPTER.validate_json(payload)
        except ValidationError as exc:
            log.warning(kv("bad detection on the local bus", topic=topic, error=exc.errors()[0]["msg"]))
            return
        if isinstance(detection, PlateRead) and detection.camera == Camera.FRONT:
            self.barrier.next_vehicle()  # the next truck is at the barrier: the one before has gone through
        if self.offline is not None:
            self.offline.on_detection(detection)

    def _on_lane_input(self, topic: str, payload: bytes) -> None:
        """An officer's manual override at the lane (``{"action": "open"|"close"|"reset", "operator", "reason"}``)
        or the loop detector (``{"vehicle_passed": true}``), on the local bus."""
        try:
            data = json.loads(payload)
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
            if data.get("vehicle_passed") is True:
                self.barrier.vehicle_passed()
                return
            action = str(data.get("action", ""))
            if action not in ("open", "close", "reset"):
                raise ValueError("action: open, close or reset")
            self.barrier.manual(action, str(data.get("operator", "")), str(data.get("reason", "")))  # type: ignore[arg-type]
        except ValueError as exc:  # json errors included: refused, said, nothing moves
            log.warning(kv("lane input refused", topic=topic, error=exc))

    # ---- the loop

    @property
    def degraded(self) -> bool:
        return self.offline is not None and self.offline.degraded

    def tick(self) -> None:
        self.barrier.tick()
        if self.offline is not None:
            self.offline.tick()

    def say_mode(self, force: bool = False) -> None:
        detail = (
            f"the cloud has not answered; {self.offline.decisions} truck(s) decided at the lane, "
            f"{self.offline.opened} opened on a valid pass"
            if self.offline is not None and self.degraded
            else ""
        )
        said = (self.degraded, self.barrier.state.value)
        if self.local is None or (said == self._mode_said and not force):
            return
        try:
            self.local.publish(
                local_mode_topic(self.config.gate_id, self.config.lane_id),
                mode_now(self.degraded, self.barrier.state, detail),
            )
            self._mode_said = said
        except TransportError as exc:
            log.warning(kv("lane mode not said on the local bus", error=exc))

    def run(self, stop: threading.Event) -> None:
        last_said = 0.0
        last_pruned = time.monotonic()
        ticks = 0
        while not stop.wait(TICK_S):
            ticks += 1
            try:
                self.tick()
                force = ticks * TICK_S - last_said >= MODE_EVERY_S
                self.say_mode(force=force)
                if force:
                    last_said = ticks * TICK_S
                if time.monotonic() - last_pruned >= PRUNE_EVERY_S:
                    self.journal.prune(utc_now())
                    last_pruned = time.monotonic()
            except Exception:  # noqa: BLE001 - the loop must keep running; driver errors are faults in tick()
                log.exception("barrier loop error")

    def close(self) -> None:
        self.barrier.shut_down()
        self.outbox.drain(2)
        self.outbox.close()
        self.journal.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def work_path(path: str, work_dir: Path | None) -> str:
    """A relative path lands in the component's work folder."""
    p = Path(path)
    return str(p if p.is_absolute() or work_dir is None else work_dir / p)
