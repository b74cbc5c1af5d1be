"""`make bench-rules`: the default rule set evaluated over a generated mix of passages, on one core.

The mix (seeded, so every run sees the same passages): booked and unbooked trucks, exact and
OCR-confused plates, right, missing and wrong containers, weights in and out of tolerance, valid and
invalid passes, and declarations of every kind of goods in the seed data and the scenarios
(perishables, lab tests, restricted and prohibited HS codes, watchlisted plates). For each passage
the facts are computed once (as the ingest function does before it evaluates); then the rule set is
evaluated on each passage's facts, timing every evaluation. The last line is exactly
``evals_per_s=… p99_us=…`` (evaluations of the rule set per second, and the 99th percentile of one
evaluation); the line before it gives the same for facts + evaluation together.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from smartgate.domain.clearance import PassCheck, passage_facts
from smartgate.domain.gates import default_gates
from smartgate.domain.rules import builtin_rule_sets, evaluate
from smartgate.schemas import (
    Booking,
    Camera,
    Consignment,
    ContainerRead,
    FactValue,
    GoodsLine,
    Passage,
    PassageDetections,
    PassScanned,
    PlateRead,
    WeightReading,
)
from smartgate.stats import percentile

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
GOODS = [
    dict(hs_code="4001.22", description="natural rubber", net_kg=20160, gross_kg=20600, value=33900, origin="VN"),
    dict(
        hs_code="0810.90",
        description="dragon fruit",
        net_kg=15000,
        gross_kg=16200,
        value=18500,
        origin="VN",
        perishable=True,
        shelf_life_deadline=T0 + timedelta(hours=96),
        reefer=True,
        needs_testing=["phytosanitary"],
    ),
    dict(
        hs_code="0306.17",
        description="frozen shrimp",
        net_kg=18000,
        gross_kg=19350,
        value=171000,
        origin="VN",
        perishable=True,
        shelf_life_deadline=T0 + timedelta(days=30),
        reefer=True,
    ),
    dict(hs_code="7213.91", description="steel wire rod", net_kg=29400, gross_kg=29450, value=17600, origin="CN"),
    dict(hs_code="8517.79", description="display modules", net_kg=7200, gross_kg=8100, value=286000, origin="CN"),
    dict(hs_code="3808.91", description="insecticide", net_kg=16000, gross_kg=17200, value=64000, origin="CN"),
    dict(hs_code="4403.49", description="logs", net_kg=24000, gross_kg=24000, value=9000, origin="VN"),
    dict(hs_code="0901.11", description="green coffee", net_kg=19200, gross_kg=19400, value=87000, origin="BR"),
]
CONTAINERS = ["MSKU6011672", "TGHU1234567", "TCNU8871307", "OOLU1844723", "CAIU5567030"]
LANES = [("out-01", "VN_TO_CN"), ("in-01", "CN_TO_VN"), ("open-01", "VN_TO_CN")]


def _plate(rng: random.Random, i: int) -> tuple[str, str]:
    if rng.random() < 0.3:
        return f"云A·{rng.choice('ABCDEFGH')}{i % 10}{(i // 10) % 10}{rng.choice('KLMN')}{i % 7}", "CN"
    return f"{rng.choice(['24C', '14C', '29H', '15C'])}-{100 + i % 900:03d}.{i % 100:02d}", "VN"


def _confused(text: str, rng: random.Random) -> str:
    swaps = {"8": "B", "0": "D", "1": "I", "5": "S", "2": "Z", "6": "G"}
    chars = list(text)
    spots = [k for k, ch in enumerate(chars) if ch in swaps and k > 3]
    if spots:
        k = rng.choice(spots)
        chars[k] = swaps[chars[k]]
    return "".join(chars)


def generate(n: int, seed: int = 2026) -> list[tuple[Passage, dict[str, PassCheck]]]:
    rng = random.Random(seed)
    out = []
    for i in range(n):
        lane_id, direction = rng.choice(LANES)
        plate, country = _plate(rng, i)
        booked = rng.random() < 0.93
        kinds = rng.choices(GOODS, weights=[30, 8, 8, 25, 15, 3, 2, 9], k=rng.choice([1, 1, 1, 2, 3]))
        lines = [
            GoodsLine.model_validate({"quantity": 100, "unit": "carton", "currency": "USD", **g})
            for g in {g["hs_code"]: g for g in kinds}.values()
        ]
        declared = rng.sample(CONTAINERS, rng.choice([0, 1, 1, 2]))
        consignment = Consignment(
            consignment_id=f"C-{i}",
            trader_id=rng.choices(["TR-1", "TR-2", "TR-WATCH-0001"], weights=[60, 38, 2])[0],
            gate_id="sandbox",
            direction=direction,
            plate_text=plate,
            country=country,
            container_nos=declared,
            driver_ref=f"D-{i}" if rng.random() < 0.95 else None,
            vehicle_tare_kg=15000,
            goods=lines,
            declared_at=T0 - timedelta(days=1),
        )
        start = rng.choice([-30, -30, -30, 300])
        booking = Booking(
            booking_id=f"B-{i}",
            trader_id=consignment.trader_id,
            gate_id="sandbox",
            direction=direction,
            plate_text=plate,
            country=country,
            consignment_id=f"C-{i}",
            slot_start=T0 + timedelta(minutes=start),
            slot_end=T0 + timedelta(minutes=start + 120),
            created_at=T0 - timedelta(days=1),
        )
        read = _confused(plate, rng) if rng.random() < 0.05 else plate
        at = T0
        reads = [
            PlateRead(
                event_id=f"p{i}",
                gate_id="sandbox",
                lane_id=lane_id,
                camera=Camera.FRONT,
                plate_text=read,
                country=country,
                format_valid=rng.random() < 0.97,
                confidence=rng.choices([0.97, 0.92, 0.55], weights=[70, 27, 3])[0],
                captured_at=at,
            )
        ]
        if rng.random() < 0.3:
            reads.append(reads[0].model_copy(update={"event_id": f"r{i}", "camera": Camera.REAR}))
        boxes = [b for b in declared if rng.random() < 0.97]
        if rng.random() < 0.03:
            boxes.append(rng.choice(CONTAINERS))
        containers = [
            ContainerRead(
                event_id=f"c{i}{k}",
                gate_id="sandbox",
                lane_id=lane_id,
                container_no=b,
                check_digit_ok=True,
                confidence=0.9,
                captured_at=at,
            )
            for k, b in enumerate(boxes)
        ]
        expected = consignment.gross_kg + 15000
        weights = (
            [
                WeightReading(
                    event_id=f"w{i}",
                    gate_id="sandbox",
                    lane_id=lane_id,
                    gross_kg=round(expected * rng.choices([1.0, 1.02, 1.08, 1.2], weights=[70, 22, 6, 2])[0]),
                    stable=True,
                    captured_at=at,
                )
            ]
            if lane_id != "open-01"
            else []
        )
        checks: dict[str, PassCheck] = {}
        passes = []
        if rng.random() < 0.6:
            passes.append(
                PassScanned(event_id=f"s{i}", gate_id="sandbox", lane_id=lane_id, token=f"t{i}", captured_at=at)
            )
            checks[f"s{i}"] = rng.choices(
                [PassCheck(True, booking_id=f"B-{i}", plate=plate), PassCheck(False, "its signature does not verify")],
                weights=[96, 4],
            )[0]
        passage = Passage(
            passage_id=f"psg-{i}",
            gate_id="sandbox",
            lane_id=lane_id,
            direction=direction,
            status_at=at,
            plate_text=read,
            booking=booking if booked else None,
            consignment=consignment if booked else None,
            match=("exact" if read == plate else "fuzzy") if booked else "none",
            match_score=(1.0 if read == plate else 0.92) if booked else 0.0,
            detections=PassageDetections(plates=reads, containers=containers, passes=passes, weights=weights),
            first_seen=at,
            last_seen=at,
            opened_at=at,
        )
        out.append((passage, checks))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--passages", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=10, help="evaluations of each passage")
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core
    rule_set = builtin_rule_sets()["vn-cn-road"]
    gates = default_gates("local")
    mix = generate(args.passages)
    lanes = {p.lane_id: gates.lane("sandbox", p.lane_id) for p, _ in mix}
    facts: list[dict[str, FactValue]] = [passage_facts(p, lanes[p.lane_id], rule_set, c) for p, c in mix]
    channels = Counter(evaluate(rule_set, f).channel.value for f in facts)
    print(
        f"rule set {rule_set.id} {rule_set.version}: {len(rule_set.rules)} rules; {len(mix)} passages: "
        + ", ".join(f"{k} {v}" for k, v in sorted(channels.items())),
        file=sys.stderr,
    )
    for f in facts[:200]:  # warm up
        evaluate(rule_set, f)

    combined: list[float] = []
    started = time.perf_counter()
    for (passage, checks), _ in zip(mix, range(len(mix)), strict=False):
        t = time.perf_counter_ns()
        evaluate(rule_set, passage_facts(passage, lanes[passage.lane_id], rule_set, checks))
        combined.append((time.perf_counter_ns() - t) / 1000)
    combined_rate = len(mix) / (time.perf_counter() - started)

    timings: list[float] = []
    started = time.perf_counter()
    for _ in range(args.rounds):
        for f in facts:
            t = time.perf_counter_ns()
            evaluate(rule_set, f)
            timings.append((time.perf_counter_ns() - t) / 1000)
    elapsed = time.perf_counter() - started
    print(
        f"facts + evaluation: {combined_rate:,.0f} per s, p50 {statistics.median(combined):.1f} us, "
        f"p99 {percentile(combined, 99):.1f} us",
        file=sys.stderr,
    )
    print(
        f"evaluation only: {len(timings)} evaluations in {elapsed:.2f} s, p50 {statistics.median(timings):.1f} us",
        file=sys.stderr,
    )
    print(f"evals_per_s={len(timings) / elapsed:.0f} p99_us={percentile(timings, 99):.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
