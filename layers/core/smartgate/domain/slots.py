"""Crossing slots: 15-minute windows per gate and direction, their capacity, and fair moves when it drops.

A window's capacity is the lesser of our gate's (set by the operator, else the gate's default) and the
partner gate's published acceptance capacity (when it has published one). Booking, cancelling and
rescheduling change a window's count atomically in storage (a conditional write: never more booked than
the capacity); this module holds the rules and the arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WINDOW = timedelta(minutes=15)
HORIZON = timedelta(days=14)
VEHICLE_GAP = timedelta(hours=4)
"""A vehicle's two bookings for the same gate and direction are at least this far apart: a truck crosses
once per trip, so one vehicle cannot hold a run of windows (hoarding) and pick one later."""
"""How far ahead a slot can be booked."""


class TradeError(ValueError):
    """A trade request that cannot be granted (a slot, a booking, a declaration): ``field`` is the request
    field it is about, ``status`` the HTTP status it maps to."""

    def __init__(self, field: str, message: str, status: int = 409) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.status = status


def window_start(at: datetime) -> datetime:
    """The start of the 15-minute window (UTC) that ``at`` falls in."""
    at = at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def check_window(start: datetime, now: datetime) -> datetime:
    """The requested window, if it is one (on a quarter hour), not over, and within the booking horizon."""
    start = start.astimezone(UTC)
    if start != window_start(start):
        raise TradeError(
            "window_start", f"{start:%H:%M}Z is not the start of a 15-minute window (:00, :15, :30, :45)", 422
        )
    if start + WINDOW <= now:
        raise TradeError("window_start", f"the window {start:%Y-%m-%d %H:%M}Z is in the past", 422)
    if start > now + HORIZON:
        raise TradeError("window_start", f"slots can be booked at most {HORIZON.days} days ahead", 422)
    return start


@dataclass(frozen=True)
class WindowState:
    """A window as stored: what the operator set, what the partner published, how many are booked."""

    start: datetime
    ours: int | None = None
    partner: int | None = None
    booked: int = 0

    def capacity(self, default: int) -> int:
        ours = default if self.ours is None else self.ours
        return ours if self.partner is None else min(ours, self.partner)

    def free(self, default: int) -> int:
        return max(0, self.capacity(default) - self.booked)


def windows_from(first: datetime, count: int, stored: Iterable[WindowState], now: datetime) -> list[WindowState]:
    """``count`` windows from ``first`` on (stored ones as they are, the others empty), less those over."""
    first = window_start(first)
    known = {w.start: w for w in stored}
    windows = []
    for n in range(count):
        start = first + WINDOW * n
        if start + WINDOW > now:
            windows.append(known.get(start, WindowState(start)))
    return windows


def local_day(day: date, timezone: str) -> tuple[datetime, int]:
    """(first window, number of windows) of a calendar day at a gate (23, 24 or 25 hours with DST)."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(0), zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), zone).astimezone(UTC)
    return start, int((end - start) / WINDOW)


@dataclass(frozen=True)
class Move:
    booking_id: str
    from_start: datetime
    to_start: datetime | None  # None: no free window within the horizon


def moves_after_drop(
    start: datetime, booking_order: Sequence[str], capacity: int, following: Sequence[WindowState], default: int
) -> list[Move]:
    """Which bookings leave a window whose capacity dropped, and where each goes.

    The first ``capacity`` bookings (in booking order) keep their place; the others move, in booking
    order, each to the next window with room (``following``: the windows after this one, in time order).
    """
    free = {w.start: w.free(default) for w in following}
    order = [w.start for w in sorted(following, key=lambda w: w.start)]
    moves = []
    for booking_id in booking_order[capacity:]:
        target = next((s for s in order if free[s] > 0), None)
        if target is not None:
            free[target] -= 1
        moves.append(Move(booking_id, start, target))
    return moves


def open_booking_limit(base: int, recent_no_shows: int) -> int:
    """Open bookings a company may hold: its limit, less two for every no-show in the last 30 days
    (at least one), so that holding slots one does not use costs something."""
    return max(1, base - 2 * recent_no_shows)
