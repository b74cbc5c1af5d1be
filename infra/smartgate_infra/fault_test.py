"""`make fault-test`: a lane's store-and-forward against a link that drops and a process that is killed.

Real processes on 127.0.0.1: a Mosquitto broker of its own; a TCP link between the lane and the broker
that the test cuts and restores (:class:`TcpLink`: every connection dropped, the port refusing — what a
lost uplink looks like to the lane); the lane itself, a separate process (``python -m
smartgate_infra.fault_test lane``) that publishes a simulated 10 minutes of detections on several lanes
through :class:`~smartgate_edge.outbox.LaneOutbox`, faster than real time; and a receiver on the broker
that plays the cloud's part: it records every arrival and keeps each event id once (as the ingest does).

During the run the link is cut twice and the lane process is killed with SIGKILL once, mid-burst, and
started again on the same outbox file. Counted at the end: ``sent`` (detections the lane generated),
``stored`` (distinct event ids received), ``lost`` (sent - stored), ``duplicated`` (arrivals beyond the
first of an id: at-least-once redeliveries, which the cloud drops), ``order_violations`` (a first arrival
of a lane's detection after a later one of the same lane). The last line is read by tools:
``sent=… stored=… lost=… duplicated=… order_violations=…``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path
from typing import Any

from smartgate_edge.outbox import LaneOutbox
from smartgate_edge.transport import Mqtt5Transport

from smartgate.schemas import Country, PlateRead, utc_now
from smartgate.topics import all_lanes_filter, detections_topic
from smartgate_infra.services import free_port, start_mosquitto, stop_pid

GATE = "sandbox"
SIMULATED = timedelta(minutes=10)


class TcpLink:
    """A TCP forwarder that can be cut (connections dropped, the port closed) and restored."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        self.host, self.target_port = host, target_port
        self.port = free_port()
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self.cuts = 0
        self.restore()

    def restore(self) -> None:
        server = socket.create_server((self.host, self.port), reuse_port=False)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def cut(self) -> None:
        self.cuts += 1
        server, self._server = self._server, None
        if server is not None:
            with contextlib.suppress(OSError):
                server.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept(); close() alone keeps it listening
            server.close()
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self.cut()
        self.cuts -= 1  # closing is not a fault


# --------------------------------------------------------------------------- the lane process


START = utc_now().replace(second=0, microsecond=0) - SIMULATED


def _detection(lane: str, seq: int, total: int) -> PlateRead:
    """The lane's ``seq``-th detection: the same for the same number, in a restarted process too."""
    return PlateRead(
        event_id=f"fault-{lane}-{seq:06d}",
        gate_id=GATE,
        lane_id=lane,
        plate_text=f"29C-{seq // 100 % 1000:03d}.{seq % 100:02d}",
        country=Country.VN,
        format_valid=True,
        confidence=0.97,
        captured_at=START + SIMULATED * (seq / max(total, 1)),
    )


def lane_main(args: argparse.Namespace) -> int:
    """Generate ``count`` detections round-robin over the lanes, each queued before it is sent; resume
    where a killed predecessor stopped (the next number is kept in the outbox file with the queue)."""
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    lanes = [f"in-{21 + i:02d}" for i in range(args.lanes)]
    outbox = LaneOutbox(args.db, max_backoff=1.0).start()  # the lane queues at once, link or no link
    connected: list[Mqtt5Transport] = []

    def connect() -> None:  # the link may be cut right now: a lane keeps trying (a failed client is not reused)
        while True:
            transport = Mqtt5Transport("127.0.0.1", args.port, f"fault-lane-{os.getpid()}", ack_timeout=2.0)
            try:
                transport.connect(timeout=5)
            except Exception:  # noqa: BLE001
                transport.close()
                time.sleep(0.5)
                continue
            connected.append(transport)
            outbox.transport = transport
            return

    threading.Thread(target=connect, daemon=True).start()
    try:
        seq = outbox.counter("next")
        while seq < args.count:
            lane = lanes[seq % len(lanes)]
            outbox.put(detections_topic(GATE, lane), _detection(lane, seq, args.count))
            seq += 1
            outbox.set_counter("next", seq)
            time.sleep(args.interval)
        return 0 if outbox.drain(120) else 1
    finally:
        outbox.close()
        for transport in connected:
            transport.close()


# --------------------------------------------------------------------------- the run


class Receiver:
    """The cloud's part: every arrival, in order, and each event id once."""

    def __init__(self, port: int) -> None:
        self.arrivals: list[str] = []
        self._lock = threading.Lock()
        self.transport = Mqtt5Transport("127.0.0.1", port, f"fault-cloud-{os.getpid()}").connect(timeout=10)
        self.transport.subscribe(all_lanes_filter("detections"), self._on)

    def _on(self, topic: str, payload: bytes) -> None:
        event_id = PlateRead.model_validate_json(payload).event_id
        with self._lock:
            self.arrivals.append(event_id)

    def distinct(self) -> int:
        with self._lock:
            return len(set(self.arrivals))

    def counts(self, sent: int) -> dict[str, int]:
        with self._lock:
            arrivals = list(self.arrivals)
        seen: set[str] = set()
        newest: dict[str, int] = defaultdict(lambda: -1)
        violations = 0
        for event_id in arrivals:
            if event_id in seen:
                continue
            seen.add(event_id)
            _, lane_a, lane_b, number = event_id.split("-")
            lane, seq = f"{lane_a}-{lane_b}", int(number)
            if seq < newest[lane]:
                violations += 1
            newest[lane] = max(newest[lane], seq)
        return {
            "sent": sent,
            "stored": len(seen),
            "lost": sent - len(seen),
            "duplicated": len(arrivals) - len(seen),
            "order_violations": violations,
        }

    def close(self) -> None:
        self.transport.close()


def _lane_process(db: Path, port: int, count: int, lanes: int, interval: float, log: Path) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "smartgate_infra.fault_test", "lane", "--db", str(db), "--port", str(port)]
    command += ["--count", str(count), "--lanes", str(lanes), "--interval", str(interval)]
    return subprocess.Popen(command, stdout=log.open("ab"), stderr=subprocess.STDOUT)


def run_fault_test(detections: int = 3000, lanes: int = 4, seconds: float = 20.0, say: Any = print) -> str:
    """The scenario above; ``seconds`` is how long the lane takes to generate its 10 simulated minutes."""
    work = Path(tempfile.mkdtemp(prefix="smartgate-fault-"))
    broker_port = free_port()
    broker = start_mosquitto(broker_port, work / "broker")
    link = TcpLink(broker_port)
    receiver = Receiver(broker_port)
    db, log = work / "lane" / "outbox.sqlite3", work / "lane.log"
    db.parent.mkdir(parents=True)
    interval = seconds / detections
    proc = _lane_process(db, link.port, detections, lanes, interval, log)
    killed = 0

    def when(share: float) -> None:
        deadline = time.monotonic() + seconds * 4 + 30
        while receiver.distinct() < share * detections and time.monotonic() < deadline:
            time.sleep(0.05)

    try:
        when(0.25)
        say(f"{receiver.distinct()} detections in; the link is cut for 4 s")
        link.cut()
        time.sleep(4)
        link.restore()
        when(0.5)
        say(f"{receiver.distinct()} detections in; the lane process is killed (SIGKILL) and started again")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed += 1
        proc = _lane_process(db, link.port, detections, lanes, interval, log)
        when(0.75)
        say(f"{receiver.distinct()} detections in; the link is cut for 3 s")
        link.cut()
        time.sleep(3)
        link.restore()
        code = proc.wait(seconds * 4 + 180)
        deadline = time.monotonic() + 10
        while receiver.distinct() < detections and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)  # late redeliveries still count as duplicates
        if code != 0:
            say(f"the lane process ended with {code}: see {log}")
        counts = receiver.counts(detections)
    finally:
        with contextlib.suppress(Exception):
            proc.kill()
        receiver.close()
        link.close()
        stop_pid(broker.proc.pid)
    say(f"{link.cuts} link cuts, {killed} kill(s); log of the lane process: {log}")
    return " ".join(f"{k}={v}" for k, v in counts.items())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    lane = sub.add_parser("lane", help="the lane process (started by the run)")
    lane.add_argument("--db", type=Path, required=True)
    lane.add_argument("--port", type=int, required=True)
    lane.add_argument("--count", type=int, required=True)
    lane.add_argument("--lanes", type=int, default=4)
    lane.add_argument("--interval", type=float, default=0.005)
    run = sub.add_parser(
        "run", help="the whole scenario; last line sent=… stored=… lost=… duplicated=… order_violations=…"
    )
    run.add_argument("--detections", type=int, default=3000)
    run.add_argument("--lanes", type=int, default=4)
    run.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    if args.command == "lane":
        return lane_main(args)
    line = run_fault_test(args.detections, args.lanes, args.seconds, say=lambda m: print(m, file=sys.stderr))
    print(line)
    return 0 if " lost=0 " in f" {line} " and line.endswith("order_violations=0") else 1


if __name__ == "__main__":
    sys.exit(main())
