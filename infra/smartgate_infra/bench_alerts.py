"""`make bench-alerts`: RED trucks through the local stack; decisive detection -> officer alert in the outbox.

Each truck is a booked, declared vehicle at the sandbox gate that shows everything (plate, container,
pass, weight: four real MQTT5 messages) but weighs 30 % more than it declared: the rules decide it RED on
its last detection (nothing left to wait for) and hold the barrier. The decision goes through the
passages stream, the bus and the notify function, which stores the alert and hands it to the gate's
critical topic in vi, zh and en. The latency counts from the last detection sent to the moment SNS
accepted the last language (delivery times the function records in the alert; same machine clock).
Trucks arrive on many lanes at once, a new one every ``GAP_S``; an alert not in the outbox with its
three deliveries within ``TIMEOUT_S`` is lost.

The last line is read by tools: ``alerts=… p50_ms=… p99_ms=… lost=…``.
"""

from __future__ import annotations

import statistics
import threading
import time
from datetime import UTC, datetime
from typing import Any

from smartgate.stats import percentile
from smartgate_infra.api_client import ApiClient
from smartgate_infra.bench import CONTAINER, GOODS_KG, PACE_S, TARE, bench_trucks
from smartgate_infra.client import StackClient
from smartgate_infra.demo import Lanes, command_keys
from smartgate_infra.stack import StackState

GATE = "sandbox"
LANES = [f"out-{n:02d}" for n in range(42, 50)]
"""8 weighing lanes: each sees a truck every 8 s, one at a time (its barrier answers before the next)."""
GAP_S = 1.0
"""Between two trucks arriving at the gate (on different lanes): a RED truck every second, ten times the
rate of all trucks at Kim Thanh II at its busiest (~1,000 a day), with up to four in flight at once."""
TIMEOUT_S = 30.0
WARMUP = 3
OVERWEIGHT = 1.3


def run_bench_alerts(state: StackState, alerts: int = 100, say: Any = print) -> str:
    client = StackClient(state)
    officer = ApiClient(state.api_url, client.officer_token("bench-officer", "supervisor", GATE, "en"))
    total = WARMUP + alerts
    run = f"{int(time.time()) % 90 + 10:02d}"
    fleet = bench_trucks(total, tag=f"ALERT{run}", series=f"29H-{run[0]}")
    say(f"declaring {total} booked trucks")
    for entry in fleet:
        client.declare(entry)
    tokens = [client.pass_token(entry) for entry in fleet]
    lanes = Lanes(state, command_keys(client))
    sent: dict[str, float] = {}  # passage id -> wall time of its last detection
    red = 0
    lock = threading.Lock()

    def truck(i: int) -> None:
        nonlocal red
        c = fleet[i].consignment
        result = lanes.lane(GATE, LANES[i % len(LANES)]).cross(
            c.plate_text,
            c.country,
            containers=(CONTAINER,),
            weight_kg=(TARE + GOODS_KG) * OVERWEIGHT,
            pass_token=tokens[i],
            timeout=TIMEOUT_S,
            pace_s=PACE_S,
        )
        if result.command is None:
            say(f"truck {i}: no barrier command ({result.error})")
            return
        last_sent = time.time() - result.latency_ms / 1000  # latency counts from the last detection
        with lock:
            red += result.command.reason.startswith("RED")
            if i >= WARMUP:
                sent[result.command.passage_id] = last_sent

    threads = []
    try:
        for i in range(total):
            thread = threading.Thread(target=truck, args=(i,), daemon=True)
            thread.start()
            threads.append(thread)
            time.sleep(GAP_S)
            if (i + 1) % 25 == 0:
                say(f"{i + 1}/{total} trucks sent")
        for thread in threads:
            thread.join(TIMEOUT_S + 5)
        latencies = _collect(officer, sent, say)
    finally:
        lanes.close()
    lost = alerts - len(latencies)
    say(f"decided RED: {red} of {total} trucks (weighed {OVERWEIGHT:.0%} of their declaration)")
    if latencies:
        say(
            f"last detection -> alert delivered in vi/zh/en, {len(latencies)} alerts: min {min(latencies):.0f} ms, "
            f"mean {statistics.fmean(latencies):.0f} ms, max {max(latencies):.0f} ms; slowest: "
            + ", ".join(f"{v:.0f}" for v in sorted(latencies)[-5:])
        )
    return (
        f"alerts={len(latencies)} p50_ms={percentile(latencies, 50):.1f} "
        f"p99_ms={percentile(latencies, 99):.1f} lost={lost}"
    )


def _collect(officer: ApiClient, sent: dict[str, float], say: Any) -> list[float]:
    """Read the outbox (the API the console reads) until every alert is there with its three deliveries."""
    found: dict[str, float] = {}
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline and len(found) < len(sent):
        cursor = None
        while True:
            reply = officer.get("/alerts", gate_id=GATE, limit=100, cursor=cursor)
            if reply.status != 200:
                say(f"outbox read failed: {reply.status} {reply.problem.get('detail')}")
                break
            for alert in reply.body["items"]:
                pid = alert.get("passage_id")
                first = [d for d in alert["deliveries"] if d["level"] == 0]
                if pid in sent and pid not in found and len(first) == 3:
                    last = max(datetime.fromisoformat(d["at"]).astimezone(UTC).timestamp() for d in first)
                    found[pid] = (last - sent[pid]) * 1000
            cursor = reply.body.get("next")
            if not cursor or len(found) == len(sent):
                break
        time.sleep(0.5)
    return list(found.values())
