"""A whole lane in one process, as on the lane computer, against the local stack: the cameras (a
:class:`~smartgate_edge.simulator.LaneSimulator` whose detections are committed to a store-and-forward
outbox and copied onto the lane's local bus), the barrier controller with offline clearance
(:class:`~smartgate_edge.barrier_component.BarrierComponent`, a simulated arm), and one uplink to the
stack's broker through a :class:`~smartgate_infra.fault_test.TcpLink` that can be cut — what a lost
uplink looks like to the lane. Used by the demo and the end-to-end tests of offline lanes.
"""

from __future__ import annotations

import contextlib
import threading
import uuid
from pathlib import Path
from types import TracebackType
from typing import Self

from smartgate_edge.barrier import SimulatedDriver
from smartgate_edge.barrier_component import BarrierComponent, BarrierConfig
from smartgate_edge.local_bus import LocalBus, ModeWatcher
from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.simulator import LaneSimulator
from smartgate_edge.transport import Mqtt5Transport, TransportError

from smartgate.schemas import BarrierEvent, BarrierEventKind, BarrierState
from smartgate_infra.client import StackClient
from smartgate_infra.demo import COMMAND_KEYS_PARAMETER
from smartgate_infra.fault_test import TcpLink
from smartgate_infra.stack import StackState

PASS_KEYS_PARAMETER = "PassPublicKeys"


class LaneNode:
    def __init__(
        self,
        state: StackState,
        client: StackClient,
        gate_id: str,
        lane_id: str,
        work: Path,
        *,
        offline_after_s: float = 4.0,
        heartbeat_s: float = 2.0,
    ) -> None:
        self.gate_id, self.lane_id = gate_id, lane_id
        params = client.template.parameters
        self.link = TcpLink(state.ports.mqtt, state.ports.host)
        self.uplink = Mqtt5Transport(state.ports.host, self.link.port, f"lane-{lane_id}-{uuid.uuid4().hex[:6]}")
        self.uplink.connect(timeout=10)
        self.bus = LocalBus()
        self.config = BarrierConfig.model_validate(
            {
                "gate_id": gate_id,
                "lane_id": lane_id,
                "stage": "local",
                "command_public_keys": str(params[COMMAND_KEYS_PARAMETER]),
                "pass_public_keys": str(params[PASS_KEYS_PARAMETER]),
                "journal_path": str(work / "barrier.sqlite3"),
                "outbox_path": str(work / "barrier-outbox.sqlite3"),
                "arm_travel_s": 0.2,
                "open_hold_s": 5,
                "offline_after_s": offline_after_s,
            }
        )
        self.driver = SimulatedDriver(travel_s=0.2)
        self.barrier = BarrierComponent(self.config, self.bus, driver=self.driver, uplink=self.uplink)
        self.outbox = LaneOutbox(work / "outbox.sqlite3", self.uplink, max_backoff=1.0).start()
        self.mode = ModeWatcher(self.bus, gate_id, lane_id)
        self.sim = LaneSimulator(
            self.uplink, gate_id, lane_id, self.config.keys(), outbox=self.outbox, local=self.bus, mode=self.mode
        )
        self.sim.start()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self.barrier.run, args=(self._stop,), daemon=True),
            threading.Thread(target=self._heartbeats, args=(heartbeat_s,), daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def _heartbeats(self, every_s: float) -> None:
        while not self._stop.wait(every_s):
            with contextlib.suppress(TransportError):  # the link is down: the next heartbeat replaces this one
                self.sim.heartbeat()

    # ---- what the lane shows

    @property
    def state(self) -> BarrierState:
        return self.barrier.barrier.state

    @property
    def degraded(self) -> bool:
        return self.barrier.degraded

    def reports(self, kind: BarrierEventKind | None = None) -> list[BarrierEvent]:
        return self.barrier.journal.events(kind)

    def pending(self) -> int:
        """Detections and barrier reports not yet acknowledged by the broker."""
        return self.outbox.pending() + self.barrier.outbox.pending()

    def wait_drained(self, timeout: float) -> bool:
        return self.outbox.drain(timeout) and self.barrier.outbox.drain(timeout)

    def close(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(5)
        self.outbox.drain(5)
        self.outbox.close()
        self.barrier.close()
        self.uplink.close()
        self.bus.close()
        self.link.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
