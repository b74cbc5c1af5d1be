"""Helpers for tests that talk MQTT (importable: tests/ is on pytest's pythonpath)."""

from __future__ import annotations

import queue
import time

WAIT = 5.0


class Inbox:
    """A subscription callback that collects (topic, payload) for the test thread to wait on."""

    def __init__(self) -> None:
        self.items: queue.Queue[tuple[str, bytes]] = queue.Queue()

    def __call__(self, topic: str, payload: bytes) -> None:
        self.items.put((topic, payload))

    def get(self, timeout: float = WAIT) -> tuple[str, bytes]:
        return self.items.get(timeout=timeout)

    def drain(self, settle: float = 0.3) -> list[tuple[str, bytes]]:
        time.sleep(settle)
        found = []
        while not self.items.empty():
            found.append(self.items.get_nowait())
        return found
