"""com.smartgate.LaneSimulator: run trucks through one lane and print one line per truck.

Wiring only (the simulator lives in smartgate_edge). Locally, against the broker of the local stack:

    python edge_greengrass/LaneSimulator/main.py --gate kimthanh2 --lane in-1 --plate 29A-123.45:VN \\
        --plate "29C-678.90:VN:CSQU3054383"

Under Greengrass the recipe passes its configuration as SMARTGATE_GATE_ID, SMARTGATE_LANE_ID,
SMARTGATE_TRUCKS (JSON list of {"Plate", "Country", "Container"}) and SMARTGATE_COMMAND_TIMEOUT, and the
transport is Greengrass IPC. COMMAND_PUBLIC_KEYS (key_id=base64,...), when set, turns on the command signature check.
Exit code: 0 when every truck got a valid command, 1 otherwise, 2 when the transport cannot start.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import NamedTuple

from smartgate_edge.simulator import CrossingResult, LaneSimulator
from smartgate_edge.transport import TransportError, transport_from_env

from smartgate.domain.commands import CommandKeys
from smartgate.schemas import Country

COUNTRIES = tuple(country.value for country in Country)


class Truck(NamedTuple):
    plate: str
    country: str
    container: str | None = None


def parse_truck(text: str) -> Truck:
    """``PLATE:COUNTRY`` or ``PLATE:COUNTRY:CONTAINER``."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
        raise argparse.ArgumentTypeError(f"truck {text!r} is not PLATE:COUNTRY[:CONTAINER]")
    country = parts[1].upper()
    if country not in COUNTRIES:
        raise argparse.ArgumentTypeError(f"truck {text!r}: country must be one of {', '.join(COUNTRIES)}")
    return Truck(parts[0], country, (parts[2] or None) if len(parts) == 3 else None)


def _truck_or_exit(text: str) -> Truck:
    try:
        return parse_truck(text)
    except argparse.ArgumentTypeError as exc:
        raise SystemExit(f"SMARTGATE_TRUCKS: {exc}") from None


def trucks_from_config(raw: str) -> list[Truck]:
    """The recipe's Trucks list as JSON: objects with Plate/Country/Container, or PLATE:COUNTRY strings."""
    try:
        items = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SystemExit(f"SMARTGATE_TRUCKS is not a JSON list: {exc}") from None
    if not isinstance(items, list):
        raise SystemExit("SMARTGATE_TRUCKS must be a JSON list")
    trucks = []
    for item in items:
        if isinstance(item, str):
            trucks.append(_truck_or_exit(item))
        elif isinstance(item, dict) and item.get("Plate") and item.get("Country"):
            container = f":{item['Container']}" if item.get("Container") else ""
            trucks.append(_truck_or_exit(f"{item['Plate']}:{item['Country']}{container}"))
        else:
            raise SystemExit(f"SMARTGATE_TRUCKS entry {item!r} needs Plate and Country")
    return trucks


def parse_args(argv: Sequence[str] | None, env: Mapping[str, str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Send trucks through one simulated lane.")
    parser.add_argument("--gate", default=env.get("SMARTGATE_GATE_ID"), help="gate id (SMARTGATE_GATE_ID)")
    parser.add_argument("--lane", default=env.get("SMARTGATE_LANE_ID"), help="lane id (SMARTGATE_LANE_ID)")
    parser.add_argument(
        "--plate",
        dest="trucks",
        action="append",
        type=parse_truck,
        default=[],
        metavar="PLATE:COUNTRY[:CONTAINER]",
        help="a truck, repeatable (SMARTGATE_TRUCKS)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=float(env.get("SMARTGATE_COMMAND_TIMEOUT") or 10),
        help="seconds to wait for each barrier command",
    )
    parser.add_argument("--interval", type=float, default=0.0, help="seconds between trucks")
    parser.add_argument("--client-id", default=None, help="MQTT client id (local MQTT only)")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    if not args.gate or not args.lane:
        parser.error("give --gate and --lane (or SMARTGATE_GATE_ID and SMARTGATE_LANE_ID)")
    if not args.trucks and env.get("SMARTGATE_TRUCKS"):
        args.trucks = trucks_from_config(env["SMARTGATE_TRUCKS"])
    if not args.trucks:
        parser.error("give at least one --plate PLATE:COUNTRY[:CONTAINER] (or SMARTGATE_TRUCKS)")
    return args


def describe(truck: Truck, result: CrossingResult) -> str:
    head = f"{truck.plate} {truck.country}" + (f" {truck.container}" if truck.container else "")
    if result.command is None:
        return f"{head} -> NO COMMAND after {result.latency_ms:.0f} ms: {result.error}"
    command = result.command
    signature = {None: "unchecked", True: "ok", False: "INVALID"}[result.signature_ok]
    line = (
        f"{head} -> {command.action.value} passage={command.passage_id} "
        f"latency={result.latency_ms:.0f}ms signature={signature} reason={command.reason!r}"
    )
    return line + (f" ERROR: {result.error}" if result.error else "")


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    env = os.environ if env is None else env
    args = parse_args(argv, env)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    keys_text = env.get("COMMAND_PUBLIC_KEYS")
    try:
        keys = CommandKeys.from_text(keys_text) if keys_text else None
    except ValueError as exc:
        print(f"error: COMMAND_PUBLIC_KEYS: {exc}", file=sys.stderr)
        return 2
    client_id = args.client_id or f"lanesim-{args.gate}-{args.lane}-{os.getpid()}"
    try:
        transport = transport_from_env(env, client_id)
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    failures = 0
    try:
        with transport:
            simulator = LaneSimulator(transport, args.gate, args.lane, keys)
            simulator.heartbeat()
            for index, truck in enumerate(args.trucks):
                if index and args.interval:
                    time.sleep(args.interval)
                result = simulator.cross(truck.plate, truck.country, truck.container, timeout=args.timeout)
                print(describe(truck, result), flush=True)
                failures += not result.ok
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
