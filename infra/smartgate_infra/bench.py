"""`make bench`: N booked trucks through the local stack; last detection -> barrier command latency.

Each truck is a booked, declared vehicle at the sandbox gate that shows everything the rule set asks
for: its plate, its declared container, a stable weight on the lane's scale and a valid QR pass — four
real MQTT5 messages to Mosquitto, each through the IoT rule and the ingest function (DynamoDB in the
emulator); the last one completes the passage, which is decided GREEN and answered with a signed
BarrierCommand on the lane's commands topic. The latency counts from the last detection sent. Trucks
go one after another (a lane serves one truck at a time).

It also reads the ingest function's log for the DynamoDB requests each decisive detection made before
its barrier command went out. ``run_bench`` returns the line that `smartgate bench` prints last, for
tools: ``trucks=200 p50_ms=… p99_ms=… errors=…``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from smartgate.schemas import utc_now
from smartgate.stats import percentile
from smartgate_infra.client import StackClient
from smartgate_infra.declarations import Declared, declared
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import StackState

WARMUP = 5
GAP_S = 0.1
"""Pause between trucks. Real trucks are seconds apart; without a pause, a lane's next publish would
wait behind its PUBACK of the previous command (Nagle + delayed ACK, ~40 ms on loopback), which
measures TCP, not the gate."""
PACE_S = 0.25
"""Between one truck's detections: the plate camera, the pass kiosk, the container camera and the scale
are separate devices that report one after another, not in the same millisecond."""
SPACING = timedelta(seconds=40)
"""Between two trucks' capture times (more than the rule set's 20 s gap): trucks on a lane are tens of
seconds apart, even when the bench sends them faster."""
GATE, LANE = "sandbox", "out-60"
CONTAINER = "MSKU6011672"
TARE, GOODS_KG = 14_800, 20_600


def bench_trucks(n: int, tag: str = "BENCH", series: str = "24C-6") -> list[Declared]:
    """n booked, declared trucks of the sandbox gate: ids ``C-{tag}-0001`` ..., plates ``{series}00.00`` ..."""
    now = utc_now()
    return [
        declared(
            {
                "consignment_id": f"C-{tag}-{i:04d}",
                "trader_id": f"TR-{tag}",
                "gate_id": GATE,
                "direction": "VN_TO_CN",
                "plate_text": f"{series}{i // 100:02d}.{i % 100:02d}",
                "country": "VN",
                "container_nos": [CONTAINER],
                "driver_ref": f"DRV-{tag}-{i:04d}",
                "vehicle_tare_kg": TARE,
                "goods": [
                    {
                        "hs_code": "4001.22",
                        "description": "natural rubber",
                        "quantity": 576,
                        "unit": "bale",
                        "net_kg": 20_160,
                        "gross_kg": GOODS_KG,
                        "value": 33_900,
                        "currency": "USD",
                        "origin": "VN",
                    }
                ],
                "booking": {"booking_id": f"BK-{tag}-{i:04d}", "slot_minutes": [-30 - n, 90]},
            },
            now,
        )
        for i in range(n)
    ]


def requests_before_command(log: Path, since: float) -> list[int]:
    """``dynamodb_requests_before_command`` of every decision the ingest function logged since ``since``."""
    counts = []
    for line in log.read_text(errors="replace").splitlines():
        if '"dynamodb_requests_before_command"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        value = record.get("dynamodb_requests_before_command")
        stamp = record.get("timestamp", "")
        if value is not None and stamp and _epoch(stamp) >= since:
            counts.append(int(value))
    return counts


def _epoch(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00").replace(",", ".")).timestamp()


def run_bench(state: StackState, trucks: int = 200, say: Any = print) -> str:
    client = StackClient(state)
    fleet = bench_trucks(WARMUP + trucks)
    for entry in fleet:
        client.declare(entry)
    lanes = Lanes(state, command_keys(client))
    latencies: list[float] = []
    channels: Counter[str] = Counter()
    errors = 0
    started = time.time()
    try:
        sim = lanes.lane(GATE, LANE)
        start = utc_now() - SPACING * len(fleet)
        for i, entry in enumerate(fleet):
            c = entry.consignment
            time.sleep(GAP_S)
            result = sim.cross(
                c.plate_text,
                c.country,
                containers=(CONTAINER,),
                weight_kg=TARE + GOODS_KG,
                pass_token=client.pass_token(entry),
                timeout=15,
                pace_s=PACE_S,
                at=start + SPACING * i,
            )
            if i < WARMUP:
                continue
            if not result.ok or not result.signature_ok or result.command is None:
                errors += 1
                say(f"truck {i}: {result.error or 'unsigned command'}")
                continue
            channels[result.command.reason.split(":", 1)[0]] += 1
            if result.command.action.value != "open":
                say(f"truck {i}: {result.command.reason}")
            latencies.append(result.latency_ms)
            if (i - WARMUP + 1) % 50 == 0:
                say(f"{i - WARMUP + 1}/{trucks} trucks, p50 so far {statistics.median(latencies):.1f} ms")
    finally:
        lanes.close()
    log = Path(state.state_dir) / "logs" / "IngestDetectionsFunction.log"
    counts = requests_before_command(log, started) if log.exists() else []
    if counts:
        spread = ", ".join(f"{n} requests: {k}" for n, k in sorted(Counter(counts).items()))
        say(
            f"DynamoDB requests before the barrier command, per decided truck: median {statistics.median(counts):g}, "
            f"max {max(counts)} ({spread})"
        )
    say(
        "decisions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(channels.items()))
        + " (each a booked, declared truck; a few are drawn by random selection)"
    )
    say(
        f"last detection -> barrier command, {len(latencies)} trucks: min {min(latencies, default=0):.1f} ms, "
        f"mean {statistics.fmean(latencies) if latencies else 0:.1f} ms, max {max(latencies, default=0):.1f} ms"
    )
    return (
        f"trucks={trucks} p50_ms={percentile(latencies, 50):.1f} p99_ms={percentile(latencies, 99):.1f} errors={errors}"
    )
