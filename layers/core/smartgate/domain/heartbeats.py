"""Lane heartbeats: a lane whose health messages stop is offline; when they resume it is back. Pure.

A lane sends LaneHealth every ``HealthIntervalSeconds`` (30 s by default). The cloud holds it offline when
the newest one is older than ``offline_after`` (three intervals by default), and says so once on the bus;
the first heartbeat after that says it is back. Both events name the outage by its last heartbeat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta

from smartgate.schemas import LaneHealth, LaneStatusChanged


def _event_id(health: LaneHealth, online: bool) -> str:
    at = health.at.isoformat()
    digest = hashlib.sha256(f"{health.gate_id}|{health.lane_id}|{at}|{online}".encode()).hexdigest()[:24]
    return f"lane-{digest}"


def silent(lanes: Iterable[LaneHealth], now: datetime, offline_after: timedelta) -> list[LaneHealth]:
    """The lanes whose newest heartbeat is older than ``offline_after``."""
    return [h for h in lanes if now - h.at > offline_after]


def went_offline(last: LaneHealth, now: datetime) -> LaneStatusChanged:
    return LaneStatusChanged(
        event_id=_event_id(last, False),
        gate_id=last.gate_id,
        lane_id=last.lane_id,
        online=False,
        last_heartbeat_at=last.at,
        silent_seconds=max(0.0, (now - last.at).total_seconds()),
        at=now,
    )


def back_online(last_before: LaneHealth, resumed: LaneHealth) -> LaneStatusChanged:
    return LaneStatusChanged(
        event_id=_event_id(last_before, True),
        gate_id=resumed.gate_id,
        lane_id=resumed.lane_id,
        online=True,
        last_heartbeat_at=last_before.at,
        silent_seconds=max(0.0, (resumed.at - last_before.at).total_seconds()),
        at=resumed.at,
    )
