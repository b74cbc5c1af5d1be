"""Changing a stored record that others may change at the same time: read it, change it, write it only if
nobody wrote in between (the store raises Conflict), else read again."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from smartgate.ports import Conflict

T = TypeVar("T")
ATTEMPTS = 10


def change_stored(
    load: Callable[[], T | None], change: Callable[[T], T], save: Callable[[T, T], T], what: str
) -> T | None:
    """``save(read, changed)`` writes conditionally on ``read`` and returns what it stored. None when nothing
    is stored; a change that changes nothing writes nothing. Conflict after ``ATTEMPTS`` lost races."""
    for _ in range(ATTEMPTS):
        current = load()
        if current is None:
            return None
        changed = change(current)
        if changed is current or changed == current:
            return current
        try:
            return save(current, changed)
        except Conflict:
            continue
    raise Conflict(f"{what}: {ATTEMPTS} concurrent writes in a row won")
