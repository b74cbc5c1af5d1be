"""Slot windows: quarter hours, the booking horizon, bilateral capacity and fair moves when it drops."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartgate.domain.slots import (
    HORIZON,
    WINDOW,
    TradeError,
    WindowState,
    check_window,
    local_day,
    moves_after_drop,
    open_booking_limit,
    window_start,
    windows_from,
)

NOW = datetime(2026, 12, 1, 9, 7, tzinfo=UTC)


def test_window_start_is_the_quarter_hour_in_utc() -> None:
    hanoi = datetime(2026, 12, 1, 16, 44, 59, tzinfo=UTC).astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert window_start(hanoi) == datetime(2026, 12, 1, 16, 30, tzinfo=UTC)


@given(st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)))
def test_every_instant_lies_in_its_window(at: datetime) -> None:
    start = window_start(at)
    assert start <= at < start + WINDOW and start.minute % 15 == 0 and start.second == 0


def test_check_window_refuses_off_grid_past_and_too_far_ahead() -> None:
    assert check_window(datetime(2026, 12, 1, 9, 0, tzinfo=UTC), NOW)  # current window still open
    for start, words in [
        (datetime(2026, 12, 1, 9, 10, tzinfo=UTC), "not the start"),
        (datetime(2026, 12, 1, 8, 45, tzinfo=UTC), "in the past"),
        (window_start(NOW + HORIZON + timedelta(hours=1)), "days ahead"),
    ]:
        with pytest.raises(TradeError) as err:
            check_window(start, NOW)
        assert err.value.field == "window_start" and words in err.value.message and err.value.status == 422


def test_capacity_is_the_lesser_of_both_gates() -> None:
    start = window_start(NOW)
    assert WindowState(start).capacity(6) == 6
    assert WindowState(start, ours=4).capacity(6) == 4
    assert WindowState(start, ours=8, partner=3).capacity(6) == 3
    assert WindowState(start, partner=10).capacity(6) == 6
    assert WindowState(start, ours=2, booked=5).free(6) == 0


def test_windows_start_now_and_keep_stored_counts() -> None:
    stored = [WindowState(datetime(2026, 12, 1, 9, 30, tzinfo=UTC), ours=2, booked=1)]
    first, count = local_day(date(2026, 12, 1), "UTC")
    windows = windows_from(first, count, stored, NOW)
    assert windows[0].start == datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
    assert len(windows) == 96 - 36 and windows[-1].start == datetime(2026, 12, 1, 23, 45, tzinfo=UTC)
    assert windows[2] == stored[0]


def test_a_local_day_at_the_gate() -> None:
    assert local_day(date(2026, 12, 2), "Asia/Ho_Chi_Minh") == (datetime(2026, 12, 1, 17, 0, tzinfo=UTC), 96)
    assert local_day(date(2026, 3, 8), "America/New_York")[1] == 92  # a day of 23 hours


def test_moves_keep_the_first_booked_and_move_the_rest_in_order() -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    following = [
        WindowState(start + WINDOW, ours=3, booked=2),
        WindowState(start + 2 * WINDOW, ours=1, booked=1),
        WindowState(start + 3 * WINDOW, ours=2, booked=0),
    ]
    moves = moves_after_drop(start, ["b1", "b2", "b3", "b4", "b5"], 2, following, default=6)
    assert [(m.booking_id, m.to_start) for m in moves] == [
        ("b3", start + WINDOW),
        ("b4", start + 3 * WINDOW),
        ("b5", start + 3 * WINDOW),
    ]
    assert moves_after_drop(start, ["b1", "b2"], 0, [WindowState(start + WINDOW, ours=1)], 6)[1].to_start is None


@given(st.lists(st.integers(0, 5), min_size=1, max_size=8), st.integers(0, 10), st.integers(0, 6))
def test_moves_never_overfill_a_window(caps: list[int], waiting: int, keep: int) -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    following = [WindowState(start + WINDOW * (i + 1), ours=c) for i, c in enumerate(caps)]
    ids = [f"b{i}" for i in range(waiting)]
    moves = moves_after_drop(start, ids, keep, following, default=6)
    assert [m.booking_id for m in moves] == ids[keep:]
    for w in following:
        assert sum(1 for m in moves if m.to_start == w.start) <= w.capacity(6)
    unplaced = [m for m in moves if m.to_start is None]
    assert not unplaced or sum(caps) < len(moves)


def test_no_shows_cost_open_bookings_but_never_all() -> None:
    assert open_booking_limit(20, 0) == 20
    assert open_booking_limit(20, 3) == 14
    assert open_booking_limit(5, 10) == 1
