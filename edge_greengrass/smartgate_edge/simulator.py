"""A simulated lane: publishes what the cameras would read off a truck and waits for the barrier command.

Used by the LaneSimulator Greengrass component, the demo and the end-to-end tests. It speaks only the
contracts (:mod:`smartgate.schemas`) over a :class:`~smartgate_edge.transport.Transport`, on the topics
from :mod:`smartgate.topics`.

Matching a command to a truck. The cloud's passage id is not known to the lane in advance, so
:meth:`LaneSimulator.cross` uses the simplest rule that holds for one truck at a time on a lane:
commands are consumed in arrival order from a thread-safe queue, and the truck gets the first valid
command for this gate and lane that arrived *after* its PlateRead was published. Commands that were
already waiting (a late answer to an earlier truck that timed out) are dropped as stale, and a repeat
of a ``command_id`` already seen (QoS 1 redelivery) is dropped, so it cannot be taken for the next
truck's command. Invalid payloads on the commands topic are logged and counted, never raised.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from pydantic import ValidationError

from smartgate import topics
from smartgate.domain.commands import CommandKeys
from smartgate.domain.containers import container_check_digit_ok
from smartgate.domain.crossing import signature_valid
from smartgate.domain.plates import plate_format_valid
from smartgate.schemas import (
    BarrierCommand,
    Camera,
    ContainerRead,
    Country,
    FaceVerified,
    LaneHealth,
    PassScanned,
    PlateRead,
    WeightReading,
    utc_now,
)
from smartgate_edge.local_bus import ModeWatcher, local_detections_topic
from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import Transport, TransportError, kv

log = logging.getLogger("smartgate_edge.simulator")

TruckDetection: TypeAlias = PlateRead | ContainerRead | WeightReading | PassScanned | FaceVerified

_SEEN_COMMANDS_KEPT = 1000


@dataclass(frozen=True)
class CrossingResult:
    """What happened to one truck: the command it got (or why not) and how long it took."""

    plate: str
    command: BarrierCommand | None
    latency_ms: float
    signature_ok: bool | None  # None: no command keys given, not checked
    error: str | None
    event_id: str | None = None  # of the PlateRead

    @property
    def ok(self) -> bool:
        return self.command is not None and self.error is None


@dataclass(frozen=True)
class _Received:
    command: BarrierCommand
    at: float  # time.monotonic() when it arrived


class LaneSimulator:
    """One lane of one gate: ``cross()`` a truck, ``heartbeat()``, ``publish_raw()`` garbage for tests."""

    def __init__(
        self,
        transport: Transport,
        gate_id: str,
        lane_id: str,
        command_keys: CommandKeys | None,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = utc_now,
        outbox: LaneOutbox | None = None,
        local: Transport | None = None,
        mode: ModeWatcher | None = None,
    ) -> None:
        """``outbox``: detections are committed to it and sent from there (store-and-forward, as a real lane
        does), else published at once. ``local``: each detection is also put on the lane's local bus (for the
        barrier controller's offline clearance). ``mode``: heartbeats say the lane's degraded mode."""
        self.transport = transport
        self.outbox = outbox
        self.local = local
        self.mode = mode
        self.gate_id = gate_id
        self.lane_id = lane_id
        self.command_keys = command_keys
        self.detections_topic = topics.detections_topic(gate_id, lane_id)
        self.commands_topic = topics.commands_topic(gate_id, lane_id)
        self.health_topic = topics.health_topic(gate_id, lane_id)
        self._rng = rng or random.Random()
        self._clock = clock
        self._commands: queue.Queue[_Received] = queue.Queue()
        self._seen: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()
        self._started = False
        self.invalid_commands = 0
        self.ignored_commands = 0
        self.duplicate_commands = 0
        self.stale_commands = 0

    # ---- messages

    def _event_id(self, event_id: str | None) -> str:
        return event_id or f"{self.lane_id}-{uuid.uuid4().hex}"

    def truck(
        self,
        plate_text: str | None,
        country: Country | str,
        container_no: str | None = None,
        event_id: str | None = None,
        *,
        containers: tuple[str, ...] = (),
        weight_kg: float | None = None,
        pass_token: str | None = None,
        rear_plate: str | None = None,
        trailer_plate: str | None = None,
        confidence: float | None = None,
        at: datetime | None = None,
    ) -> list[TruckDetection]:
        """The detections a lane makes of this truck, in the order a lane sends them: the front plate,
        the rear and trailer plates, its QR pass, its containers, its weight on the scale; all captured
        ``at`` (default: now)."""
        now = at or self._clock()
        first_id = self._event_id(event_id)
        detections: list[TruckDetection] = []

        def next_id(suffix: str) -> str:
            return first_id if not detections else (f"{first_id}.{suffix}" if event_id else self._event_id(None))

        def read(text: str, camera: Camera, plate_country: Country) -> PlateRead:
            characters = [ch for ch in text if ch.isalnum()]
            confs = [round(self._rng.uniform(0.90, 0.999), 3) for _ in characters]
            if confidence is not None:
                confs = [min(c, confidence) for c in confs]
            return PlateRead(
                event_id=next_id(camera.value),
                gate_id=self.gate_id,
                lane_id=self.lane_id,
                camera=camera,
                plate_text=text,
                country=plate_country,
                format_valid=plate_format_valid(text, plate_country),
                confidence=min(confs, default=0.95),
                char_confidences=confs,
                captured_at=now,
            )

        if plate_text:
            detections.append(read(plate_text, Camera.FRONT, Country(country)))
        if rear_plate:
            detections.append(read(rear_plate, Camera.REAR, Country(country)))
        if trailer_plate:
            detections.append(read(trailer_plate, Camera.TRAILER, Country(country)))
        if pass_token:  # the driver shows it at the kiosk as the truck pulls up
            detections.append(
                PassScanned(
                    event_id=next_id("pass"),
                    gate_id=self.gate_id,
                    lane_id=self.lane_id,
                    token=pass_token,
                    captured_at=now,
                )
            )
        boxes = [box for box in (container_no, *containers) if box]
        for n, box in enumerate(boxes, start=1):
            if box:
                detections.append(
                    ContainerRead(
                        event_id=next_id("container" if n == 1 else f"container{n}"),
                        gate_id=self.gate_id,
                        lane_id=self.lane_id,
                        container_no=box,
                        check_digit_ok=container_check_digit_ok(box),
                        confidence=round(self._rng.uniform(0.88, 0.99), 3),
                        captured_at=now,
                    )
                )
        if weight_kg is not None:
            detections.append(
                WeightReading(
                    event_id=next_id("weight"),
                    gate_id=self.gate_id,
                    lane_id=self.lane_id,
                    gross_kg=weight_kg,
                    stable=True,
                    captured_at=now,
                )
            )
        return detections

    # ---- commands

    def start(self) -> None:
        """Subscribe to this lane's commands topic (once; ``cross`` calls it)."""
        with self._lock:
            if self._started:
                return
            self.transport.subscribe(self.commands_topic, self._on_command)
            self._started = True

    def _on_command(self, topic: str, payload: bytes) -> None:
        at = time.monotonic()
        try:
            command = BarrierCommand.model_validate_json(payload)
        except ValueError as exc:  # pydantic's ValidationError included: bad JSON, bad fields
            with self._lock:
                self.invalid_commands += 1
            log.warning(
                kv("invalid barrier command", topic=topic, size=len(payload), error=_first_line(exc)),
                extra={"topic": topic, "gate_id": self.gate_id, "lane_id": self.lane_id},
            )
            return
        fields = {"command_id": command.command_id, "gate_id": command.gate_id, "lane_id": command.lane_id}
        with self._lock:
            if (command.gate_id, command.lane_id) != (self.gate_id, self.lane_id):
                self.ignored_commands += 1
                log.warning(kv("barrier command for another lane ignored", topic=topic, **fields), extra=fields)
                return
            if command.command_id in self._seen:
                self.duplicate_commands += 1
                log.info(kv("duplicate barrier command dropped", **fields), extra=fields)
                return
            self._seen[command.command_id] = None
            while len(self._seen) > _SEEN_COMMANDS_KEPT:
                self._seen.popitem(last=False)
        self._commands.put(_Received(command, at))

    @property
    def unclaimed_commands(self) -> int:
        """Commands received that no truck has taken (a second command for a truck would show here)."""
        return self._commands.qsize()

    def _next_command_after(self, published_at: float, deadline: float) -> _Received | None:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                received = self._commands.get(timeout=remaining)
            except queue.Empty:
                return None
            if received.at >= published_at:
                return received
            self._drop_stale(received)

    def _drop_stale(self, received: _Received) -> None:
        with self._lock:
            self.stale_commands += 1
        fields = {"command_id": received.command.command_id, "passage_id": received.command.passage_id}
        log.warning(kv("stale barrier command dropped", **fields), extra=fields)

    def cross(
        self,
        plate_text: str | None,
        country: Country | str,
        container_no: str | None = None,
        timeout: float = 10.0,
        pace_s: float = 0.0,
        **truck: Any,
    ) -> CrossingResult:
        """Publish the truck's detections (see :meth:`truck`) and wait for the barrier command."""
        return self.send(
            self.truck(plate_text, country, container_no, **truck),
            timeout=timeout,
            plate=plate_text or "",
            pace_s=pace_s,
        )

    def send(
        self, detections: list[TruckDetection], timeout: float = 10.0, plate: str = "", pace_s: float = 0.0
    ) -> CrossingResult:
        """Publish these detections of one truck and wait for the barrier command that answers them.

        ``pace_s`` between detections stands for separate devices (camera, kiosk, scale) reporting one
        after another. ``latency_ms`` counts from the last detection sent (the cloud cannot decide
        before it). Never raises for a missing, late or badly signed command: the result says what
        happened.
        """
        self.start()
        first = detections[0]
        published_at = time.monotonic()
        try:
            for n, detection in enumerate(detections):
                if n and pace_s:
                    time.sleep(pace_s)
                self._send(detection)
        except TransportError as exc:
            return CrossingResult(plate, None, _ms_since(published_at), None, f"publish failed: {exc}", first.event_id)
        last_sent = time.monotonic()
        received = self._next_command_after(published_at, published_at + timeout)
        fields = {"plate": plate, "event_id": first.event_id, "gate_id": self.gate_id, "lane_id": self.lane_id}
        if received is None:
            log.warning(kv("no barrier command", timeout_s=timeout, **fields), extra=fields)
            return CrossingResult(
                plate, None, _ms_since(last_sent), None, f"no barrier command within {timeout:g}s", first.event_id
            )
        command = received.command
        latency_ms = max(0.0, (received.at - last_sent) * 1000)  # 0: answered before the lane had sent it all
        checked: bool | None = None
        error: str | None = None
        if self.command_keys is not None:
            checked = signature_valid(command, self.command_keys)
            if not checked:
                error = f"barrier command {command.command_id} has an invalid signature; not acted on"
        if command.expires_at < self._clock():
            log.warning(
                kv(
                    "barrier command already expired",
                    command_id=command.command_id,
                    expires_at=command.expires_at.isoformat(),
                ),
                extra=fields,
            )
        log.info(
            kv(
                "barrier command",
                command_id=command.command_id,
                action=command.action.value,
                passage_id=command.passage_id,
                latency_ms=round(latency_ms, 1),
                signature_ok=checked,
                **fields,
            ),
            extra=fields,
        )
        return CrossingResult(plate, command, latency_ms, checked, error, first.event_id)

    def _send(self, detection: TruckDetection) -> None:
        if self.outbox is not None:
            self.outbox.put(self.detections_topic, detection)
        else:
            self.transport.publish(self.detections_topic, detection)
        if self.local is not None:
            try:
                self.local.publish(local_detections_topic(self.gate_id, self.lane_id), detection)
            except TransportError as exc:  # the uplink path has it; the lane only loses offline clearance
                log.warning(kv("detection not put on the local bus", event_id=detection.event_id, error=exc))

    def next_command(self, timeout: float) -> BarrierCommand | None:
        """The next command for this lane that arrives within ``timeout`` (a later HOLD, say)."""
        start = time.monotonic()
        received = self._next_command_after(start - 3600, start + timeout)
        return received.command if received else None

    # ---- other messages

    def publish_raw(self, payload: bytes, topic: str | None = None) -> None:
        """Send bytes as they are (malformed messages for tests); to the detections topic by default."""
        self.transport.publish(topic or self.detections_topic, payload)

    def heartbeat(self, **state: Any) -> LaneHealth:
        """Publish the lane's health now (see :meth:`health`)."""
        health = self.health(**state)
        self.transport.publish(self.health_topic, health)
        return health

    def health(
        self,
        *,
        camera_ok: bool = True,
        fps: float = 12.0,
        inference_ms: float = 45.0,
        queue_depth: int = 0,
        online: bool = True,
        detail: str | None = None,
    ) -> LaneHealth:
        degraded = self.mode is not None and self.mode.degraded
        if degraded and detail is None and self.mode is not None:
            detail = self.mode.describe()
        health = LaneHealth(
            event_id=self._event_id(None),
            gate_id=self.gate_id,
            lane_id=self.lane_id,
            online=online,
            camera_ok=camera_ok,
            fps=fps,
            inference_ms=inference_ms,
            queue_depth=queue_depth if self.outbox is None else self.outbox.pending(),
            degraded=degraded,
            detail=detail,
            at=self._clock(),
        )
        return health


def _ms_since(start: float) -> float:
    return (time.monotonic() - start) * 1000


def _first_line(exc: Exception) -> str:
    if isinstance(exc, ValidationError) and exc.errors():
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        return f"{where}: {first['msg']}" if where else first["msg"]
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
