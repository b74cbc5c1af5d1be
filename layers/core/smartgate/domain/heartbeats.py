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


def _status(outage: LaneHealth, online: bool, at: datetime) -> LaneStatusChanged:
    """An event about the outage that began after ``outage`` (its lane's last heartbeat before the silence)."""
    return LaneStatusChanged(
        event_id=_event_id(outage, online),
        gate_id=outage.gate_id,
        lane_id=outage.lane_id,
        online=online,
        last_heartbeat_at=outage.at,
        silent_seconds=max(0.0, (at - outage.at).total_seconds()),
        at=at,
    )


def went_offline(last: LaneHealth, now: datetime) -> LaneStatusChanged:
    return _status(last, False, now)


def back_online(last_before: LaneHealth, resumed: LaneHealth) -> LaneStatusChanged:
    return _status(last_before, True, resumed.at)
