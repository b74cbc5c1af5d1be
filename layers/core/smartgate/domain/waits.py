"""The wait to expect at a gate's barrier over the next hours, from its bookings and its lanes now.

A fluid queue, window by window (the booking windows, 15 minutes): the trucks waiting now, plus each
window's booked trucks and the walk-ins expected beside them, against what the direction's open lanes
clear in a window (one truck a lane every ``barrier_s``); what a window cannot clear waits into the next.
The wait of a window is its mean backlog divided by the lanes' rate. It is the queue before barrier 1,
not an inspection's or the laboratory's time (the twin models those: ``make twin``).

The defaults are the twin's Kim Thanh II assumptions (infra/smartgate_infra/twin/data/kimthanh2.yaml):
20 s approach + 45 s at the barrier + 12 s barrier cycle, and 70 % of trucks booked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

BARRIER_S = 77.0
BOOKED_SHARE = 0.7
LOW_MIN, HIGH_MIN = 10.0, 30.0
CAP_MIN = 720.0  # no open lane, or a queue beyond half a day: "more than 12 hours"
Level = Literal["low", "moderate", "high", "closed"]


@dataclass(frozen=True)
class WindowLoad:
    start: datetime
    end: datetime
    booked: int
    open: bool = True  # the gate is open in this window


@dataclass(frozen=True)
class WaitPoint:
    start: datetime
    end: datetime
    booked: int
    expected_trucks: float
    wait_minutes: float
    level: Level


def level_of(minutes: float) -> Level:
    return "low" if minutes < LOW_MIN else "moderate" if minutes < HIGH_MIN else "high"


def predict_waits(
    now: datetime,
    windows: list[WindowLoad],
    lanes: int,
    queued_now: int = 0,
    *,
    barrier_s: float = BARRIER_S,
    booked_share: float = BOOKED_SHARE,
) -> list[WaitPoint]:
    """The expected wait at the barrier in each of ``windows`` (in time order, from the current one)."""
    if barrier_s <= 0 or not 0 < booked_share <= 1:
        raise ValueError("barrier_s must be > 0 and booked_share in (0, 1]")
    rate = max(0, lanes) / barrier_s  # trucks a second the open lanes clear
    backlog = float(max(0, queued_now))
    out = []
    for w in sorted(windows, key=lambda w: w.start):
        if w.end <= now:
            continue
        if not w.open:
            out.append(WaitPoint(w.start, w.end, w.booked, 0.0, 0.0, "closed"))
            continue
        seconds = (w.end - max(w.start, now)).total_seconds()
        share = seconds / max(1.0, (w.end - w.start).total_seconds())
        arrivals = w.booked * share / booked_share  # booked trucks still to come, and the walk-ins beside them
        cleared = rate * seconds
        after = max(0.0, backlog + arrivals - cleared)
        if rate <= 0:
            minutes = CAP_MIN
        elif backlog > 0 or after > 0:  # a queue carried or building: its mean, at the lanes' rate
            minutes = (backlog + after) / 2 / rate / 60
        else:  # under capacity: the queue of chance arrivals (M/D/1 per lane, the trucks spread evenly)
            rho = min(0.95, arrivals / max(cleared, 1e-9))
            minutes = rho / (2 * (1 - rho)) * barrier_s / 60
        minutes = min(CAP_MIN, minutes)
        out.append(WaitPoint(w.start, w.end, w.booked, round(arrivals, 1), round(minutes, 1), level_of(minutes)))
        backlog = after
    return out
