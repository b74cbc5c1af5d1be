"""The wait to expect at the barrier: a queue that builds when the booked windows bring more than the open
lanes clear, carries into the next windows, and drains after; fewer lanes, longer waits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smartgate.domain.waits import CAP_MIN, WindowLoad, level_of, predict_waits

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def windows(*booked: int, start: datetime = NOW) -> list[WindowLoad]:
    return [WindowLoad(start + Q * i, start + Q * (i + 1), b) for i, b in enumerate(booked)]


def test_a_rush_builds_a_queue_that_carries_on_and_drains_after() -> None:
    points = predict_waits(NOW, windows(4, 30, 30, 30, 0, 0, 0, 0), lanes=2)
    waits = [p.wait_minutes for p in points]
    assert waits[0] < 10 and points[0].level == "low"  # under capacity: a short wait
    assert waits[1] < waits[2] < waits[3]  # 43 trucks a window against 23 cleared: it builds
    assert points[3].level == "high" and waits[4] > 0  # and carries into the empty window after
    assert waits[-1] < waits[4]  # then drains
    assert points[1].expected_trucks == pytest.approx(30 / 0.7, abs=0.1)  # the booked and the walk-ins beside them


def test_fewer_lanes_serving_means_longer_waits_and_none_at_all_is_capped() -> None:
    load = windows(20, 20, 20)
    two, one = predict_waits(NOW, load, lanes=2), predict_waits(NOW, load, lanes=1)
    assert all(b.wait_minutes > a.wait_minutes for a, b in zip(two, one, strict=True))
    none = predict_waits(NOW, load, lanes=0)
    assert {p.wait_minutes for p in none} == {CAP_MIN} and {p.level for p in none} == {"high"}


def test_trucks_waiting_now_count_and_windows_over_are_left_out() -> None:
    load = windows(0, 0, start=NOW - Q)
    later = NOW + timedelta(minutes=5)
    assert [p.start for p in predict_waits(later, load, 2)] == [NOW]  # the window before now is over
    assert predict_waits(later, load, 2, queued_now=40)[0].wait_minutes > 15
    only_part = predict_waits(NOW + timedelta(minutes=10), windows(12), 2)[0]
    assert only_part.expected_trucks == pytest.approx(12 / 0.7 / 3, abs=0.1)  # a third of the window is left


def test_levels_and_bad_figures() -> None:
    assert (level_of(3), level_of(12), level_of(45)) == ("low", "moderate", "high")
    closed = predict_waits(NOW, [WindowLoad(NOW, NOW + Q, 5, open=False)], 2)
    assert closed[0].level == "closed" and closed[0].wait_minutes == 0
    with pytest.raises(ValueError, match="barrier_s"):
        predict_waits(NOW, windows(1), 2, barrier_s=0)
