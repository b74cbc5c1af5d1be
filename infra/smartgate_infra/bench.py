"""`make bench`: N trucks through the local stack; detection -> barrier command latency.

Each truck is a real PlateRead published over MQTT5 to Mosquitto, through the IoT rule, the ingest
function (DynamoDB in the emulator), and back as a BarrierCommand on the lane's commands topic.
Trucks go one after another (a lane serves one truck at a time). ``run_bench`` returns the line
that `smartgate bench` prints last, for tools: ``trucks=200 p50_ms=… p99_ms=… errors=…``.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from smartgate.stats import percentile
from smartgate_infra.client import StackClient
from smartgate_infra.demo import Lanes, signing_key
from smartgate_infra.stack import StackState

WARMUP = 5
GAP_S = 0.1
"""Pause between trucks. Real trucks are seconds apart; without a pause, a lane's next publish would
wait behind its PUBACK of the previous command (Nagle + delayed ACK, ~40 ms on loopback), which
measures TCP, not the gate."""


def run_bench(state: StackState, trucks: int = 200, say: Any = print) -> str:
    client = StackClient(state)
    client.seed_bookings()
    lanes = Lanes(state, signing_key(client))
    latencies: list[float] = []
    errors = 0
    try:
        sim = lanes.lane("kimthanh2", "bench-1")
        for i in range(WARMUP):
            sim.cross(f"29C-{i:03d}.00", "VN", timeout=15)
        for i in range(trucks):
            booked = i % 2 == 0
            plate = "24C-123.45" if booked else f"29D-{i % 1000:03d}.{i % 100:02d}"
            time.sleep(GAP_S)
            result = sim.cross(plate, "VN", timeout=15)
            expected = "open" if booked else "hold"
            if not result.ok or not result.signature_ok or result.command is None \
                    or result.command.action.value != expected:
                errors += 1
                say(f"truck {i}: {result.error or 'wrong or unsigned command'}")
                continue
            latencies.append(result.latency_ms)
            if (i + 1) % 50 == 0:
                say(f"{i + 1}/{trucks} trucks, p50 so far {statistics.median(latencies):.1f} ms")
    finally:
        lanes.close()
    say(f"detection -> barrier command, {len(latencies)} trucks: min {min(latencies, default=0):.1f} ms, "
        f"mean {statistics.fmean(latencies) if latencies else 0:.1f} ms, max {max(latencies, default=0):.1f} ms")
    line = (f"trucks={trucks} p50_ms={percentile(latencies, 50):.1f} p99_ms={percentile(latencies, 99):.1f} "
            f"errors={errors}")
    return line
