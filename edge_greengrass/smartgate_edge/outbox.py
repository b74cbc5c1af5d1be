"""Store-and-forward for a lane: every detection is written to a local durable queue before it is sent.

:class:`LaneOutbox` is one SQLite file in WAL mode (``synchronous=FULL``: a committed message survives a
crash of the process and of the machine). ``put`` commits the message and returns; a sender thread
publishes the queue oldest first and deletes a message only after the broker acknowledged it (PUBACK,
QoS 1). When the link is down the sender stops at the first message that fails and tries again with
backoff, so the lane's order is kept and nothing is skipped. Delivery is at least once: a message sent
but not yet deleted when the process dies is sent again after the restart, under the same ``event_id``,
and the cloud records each event id once.

Bounded disk: the outbox and the evidence folder share a cap. Near it (``EVICT_AT``) the oldest evidence
images are deleted until usage is back under ``EVICT_TO`` — never a queued detection — and the eviction is
reported (``pressure``) for the lane's health message.
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

from pydantic import BaseModel

from smartgate_edge.transport import Transport, TransportError, encode, kv

log = logging.getLogger("smartgate_edge.outbox")

EVICT_AT = 0.9
EVICT_TO = 0.8
SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id TEXT NOT NULL UNIQUE,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    queued_at REAL NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


@dataclass(frozen=True)
class Pressure:
    """What the disk cap did: evidence images evicted (oldest first) and the bytes in use after it."""

    evicted: int
    used_bytes: int
    cap_bytes: int

    def describe(self) -> str:
        used = f"{self.used_bytes}/{self.cap_bytes} bytes"
        return f"disk near its cap: {self.evicted} oldest evidence image(s) evicted, {used}"


def _event_id(message: BaseModel | bytes) -> str:
    if isinstance(message, BaseModel):
        value = getattr(message, "event_id", None)
    else:
        value = json.loads(message).get("event_id")
    if not value:
        raise ValueError("a queued message needs an event_id (the cloud de-duplicates by it)")
    return str(value)


class LaneOutbox:
    def __init__(
        self,
        path: Path | str,
        transport: Transport | None = None,
        *,
        cap_bytes: int | None = None,
        evidence_dir: Path | None = None,
        on_pressure: Callable[[Pressure], None] | None = None,
        max_backoff: float = 5.0,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.transport = transport
        self.cap_bytes = cap_bytes
        self.evidence_dir = evidence_dir
        self.on_pressure = on_pressure
        self.max_backoff = max_backoff
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.failures = 0
        self._full_reported = False

    # ---- queue

    def put(self, topic: str, message: BaseModel | bytes) -> bool:
        """Queue it durably (committed when this returns); False when its event id is queued already."""
        payload = encode(message)
        with self._lock:
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO outbox (event_id, topic, payload, queued_at) VALUES (?, ?, ?, ?)",
                (_event_id(message), topic, payload, time.time()),
            )
        self._wake.set()
        self._enforce_cap()
        return cursor.rowcount == 1

    def pending(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0])

    def counter(self, name: str) -> int:
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        return int(row[0]) if row else 0

    def set_counter(self, name: str, value: int) -> None:
        """A number the lane keeps across restarts with its queue (e.g. the next sequence number)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))

    # ---- sending

    def flush(self, limit: int = 100) -> int:
        """Send the oldest queued messages, in order, until one fails or ``limit`` went out; returns how many."""
        if self.transport is None:
            return 0
        with self._lock:
            rows = self._db.execute("SELECT seq, topic, payload FROM outbox ORDER BY seq LIMIT ?", (limit,)).fetchall()
        done = 0
        for seq, topic, payload in rows:
            try:
                self.transport.publish(topic, bytes(payload))
            except TransportError as err:
                with self._lock:
                    self._db.execute("UPDATE outbox SET attempts = attempts + 1 WHERE seq = ?", (seq,))
                self.failures += 1
                log.warning(kv("outbox send failed; kept for the next try", seq=seq, topic=topic, error=str(err)[:200]))
                break
            with self._lock:
                self._db.execute("DELETE FROM outbox WHERE seq = ?", (seq,))
            done += 1
            self.sent += 1
        if done and not self.pending():
            with self._lock:  # everything is out: give the write-ahead log's pages back to the disk
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return done

    def start(self) -> Self:
        """Send in the background until :meth:`close`: at once when something is queued, with backoff on failure."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="lane-outbox", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            if self.transport is None:  # not connected yet: keep queueing
                self._stop.wait(0.2)
                continue
            if self.pending() == 0:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            before = self.failures
            self.flush()
            if self.failures > before:
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
            else:
                backoff = 0.2

    def drain(self, timeout: float) -> bool:
        """Wait until everything queued was sent (True) or ``timeout`` passed (False)."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.pending() == 0

    # ---- the disk cap

    def used_bytes(self) -> int:
        total = sum(p.stat().st_size for p in self.path.parent.glob(self.path.name + "*") if p.is_file())
        if self.evidence_dir and self.evidence_dir.exists():
            total += sum(p.stat().st_size for p in self.evidence_dir.rglob("*") if p.is_file())
        return total

    def _enforce_cap(self) -> None:
        if not self.cap_bytes or self.used_bytes() < EVICT_AT * self.cap_bytes:
            return
        evicted = 0
        if self.evidence_dir and self.evidence_dir.exists():
            images = sorted((p for p in self.evidence_dir.rglob("*") if p.is_file()), key=lambda p: p.stat().st_mtime)
            for image in images:
                if self.used_bytes() <= EVICT_TO * self.cap_bytes:
                    break
                image.unlink(missing_ok=True)
                evicted += 1
        if evicted == 0 and self._full_reported:
            return  # nothing left to evict: said once (detections are never evicted)
        self._full_reported = evicted == 0
        pressure = Pressure(evicted, self.used_bytes(), self.cap_bytes)
        log.warning(kv("lane disk near its cap", evicted=evicted, used=pressure.used_bytes, cap=self.cap_bytes))
        if self.on_pressure is not None:
            self.on_pressure(pressure)

    # ---- life

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def default_path(work_dir: str | None = None) -> Path:
    """Where a component keeps its outbox: its Greengrass work folder, or the current folder."""
    return Path(work_dir or os.getcwd()) / "outbox.sqlite3"
