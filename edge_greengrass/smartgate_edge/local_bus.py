"""The lane's local bus: how its components talk to each other without the uplink.

The camera components copy every detection onto it, the barrier controller reads them there (to decide
offline when the cloud is silent) and says on it whether the lane is in degraded mode and where its
barrier is (the camera components put that into the lane's health message). Topics start with
``smartgate-local/``, which no IoT rule selects.

- On a device: the Greengrass nucleus's local publish/subscribe
  (:class:`~smartgate_edge.transport.GreengrassIpcTransport` with ``local=True``).
- In one process (tests, the demo's lane): :class:`LocalBus`.
- Separate processes on a development machine: MQTT to a broker given by ``SMARTGATE_LOCAL_MQTT_PORT``
  (the local stack's broker, reached directly rather than through the lane's uplink).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta
from types import TracebackType
from typing import Self

from pydantic import BaseModel, ConfigDict, ValidationError

from smartgate.schemas import BarrierState, utc_now
from smartgate_edge.transport import (
    DEFAULT_MQTT_HOST,
    IPC_ENV_VARS,
    GreengrassIpcTransport,
    MessageCallback,
    Mqtt5Transport,
    Transport,
    TransportError,
    encode,
    kv,
    topic_matches,
)

log = logging.getLogger("smartgate_edge.local_bus")

PREFIX = "smartgate-local"
STALE_AFTER = timedelta(seconds=20)  # the barrier controller says its mode every 5 s


def local_detections_topic(gate_id: str, lane_id: str) -> str:
    return f"{PREFIX}/{gate_id}/{lane_id}/detections"


def local_mode_topic(gate_id: str, lane_id: str) -> str:
    return f"{PREFIX}/{gate_id}/{lane_id}/mode"


def local_input_topic(gate_id: str, lane_id: str) -> str:
    """An officer's manual override at the lane, the loop detector's "vehicle passed"."""
    return f"{PREFIX}/{gate_id}/{lane_id}/input"


class LaneMode(BaseModel):
    """What the barrier controller says on the local bus: degraded mode and the barrier's state."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    degraded: bool
    barrier: BarrierState
    detail: str = ""
    at: datetime


class LocalBus:
    """An in-process bus with the :class:`~smartgate_edge.transport.Transport` interface: callbacks run on one
    dispatcher thread, in publish order, so a callback may publish."""

    def __init__(self) -> None:
        self._subscriptions: list[tuple[str, MessageCallback]] = []
        self._inbox: queue.Queue[tuple[str, bytes] | None] = queue.Queue()
        self._lock = threading.Lock()
        self._closed = False
        self._thread = threading.Thread(target=self._dispatch, name="local-bus", daemon=True)
        self._thread.start()

    def publish(self, topic: str, message: BaseModel | bytes, qos: int = 1) -> None:
        if self._closed:
            raise TransportError("the local bus is closed")
        self._inbox.put((topic, encode(message)))

    def subscribe(self, topic: str, callback: MessageCallback) -> None:
        with self._lock:
            self._subscriptions.append((topic, callback))

    def _dispatch(self) -> None:
        while (item := self._inbox.get()) is not None:
            topic, payload = item
            with self._lock:
                callbacks = [cb for f, cb in self._subscriptions if topic_matches(f, topic)]
            for callback in callbacks:
                try:
                    callback(topic, payload)
                except Exception:  # logged; the bus goes on
                    log.exception(kv("local bus callback failed", topic=topic))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._inbox.put(None)
            self._thread.join(5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def local_bus_from_env(env: Mapping[str, str], client_id: str) -> Transport | None:
    """The lane's local bus as configured, or None (no local bus: no offline clearance)."""
    if any(env.get(name) for name in IPC_ENV_VARS):
        return GreengrassIpcTransport(
            ipc_socket=env.get(IPC_ENV_VARS[0]) or None, auth_token=env.get(IPC_ENV_VARS[1]) or None, local=True
        )
    raw = env.get("SMARTGATE_LOCAL_MQTT_PORT")
    if not raw:
        return None
    try:
        port = int(raw)
    except ValueError:
        raise TransportError(f"SMARTGATE_LOCAL_MQTT_PORT must be a port number, not {raw!r}") from None
    host = env.get("SMARTGATE_LOCAL_MQTT_HOST") or DEFAULT_MQTT_HOST
    return Mqtt5Transport(host, port, f"{client_id}-local").connect(10)


class ModeWatcher:
    """The barrier controller's latest word on the local bus (for a camera component's health message)."""

    def __init__(self, bus: Transport, gate_id: str, lane_id: str) -> None:
        self._mode: LaneMode | None = None
        self._lock = threading.Lock()
        bus.subscribe(local_mode_topic(gate_id, lane_id), self._on_mode)

    def _on_mode(self, topic: str, payload: bytes) -> None:
        try:
            mode = LaneMode.model_validate_json(payload)
        except ValidationError as exc:
            log.warning(kv("bad lane mode on the local bus", topic=topic, error=exc.errors()[0]["msg"]))
            return
        with self._lock:
            if self._mode is None or mode.at >= self._mode.at:
                self._mode = mode

    @property
    def mode(self) -> LaneMode | None:
        with self._lock:
            return self._mode

    def silent(self, now: datetime | None = None) -> bool:
        """The barrier controller said nothing for a while (it says its mode every few seconds): stopped,
        or its bus is down. What it said last no longer counts."""
        mode = self._mode
        return mode is not None and (now or utc_now()) - mode.at > STALE_AFTER

    @property
    def degraded(self) -> bool:
        mode = self.mode
        return bool(mode and mode.degraded) and not self.silent()

    def describe(self) -> str | None:
        mode = self.mode
        if mode is None:
            return None
        if self.silent():
            return "the barrier controller is silent on the local bus"
        return f"degraded mode: {mode.detail}" if mode.degraded else None


def mode_now(degraded: bool, barrier: BarrierState, detail: str = "") -> LaneMode:
    return LaneMode(degraded=degraded, barrier=barrier, detail=detail, at=utc_now())
