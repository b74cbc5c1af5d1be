"""The cost of a crossing on AWS: what the trucks made the stack do (counted per flow step by the model, or
by the local stack in full-stack mode), in priced units (``data/usage.yaml``), times the checked-in, dated
list prices (``data/prices.yaml``), plus each lane's and the stack's fixed monthly costs shared over a
month of crossings at the day's rate. Stored data is priced over its whole retention."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from smartgate_infra.twin.model import Usage

DATA = Path(__file__).parent / "data"
GB = 1e9
MONTH_DAYS = 30.4

SERVICE = {
    "iot_message": "IoT Core",
    "iot_rule": "IoT Core",
    "iot_rule_action": "IoT Core",
    "iot_connect_minute": "IoT Core",
    "greengrass_device": "Greengrass",
    "lambda_request": "Lambda",
    "lambda_gb_s": "Lambda",
    "ddb_write": "DynamoDB",
    "ddb_read": "DynamoDB",
    "ddb_gb_month": "DynamoDB",
    "eventbridge_event": "EventBridge",
    "eventbridge_cross": "EventBridge",
    "eventbridge_archive_gb": "EventBridge",
    "api_request": "API Gateway",
    "sns_request": "SNS",
    "sns_push": "SNS",
    "sqs_request": "SQS",
    "s3_put": "S3",
    "s3_gb_month": "S3",
    "logs_ingest_gb": "CloudWatch Logs",
    "logs_gb_month": "CloudWatch Logs",
    "xray_trace": "X-Ray",
    "secret_month": "Secrets Manager",
    "kms_key_month": "KMS",
    "alarm_month": "CloudWatch alarms",
}
STEPS = tuple(f.name for f in fields(Usage) if f.name not in ("offline", "conflicts"))
STEP_OF = {
    "detections": "detection",
    "commands": "command",
    "decisions": "decision",
    "alerts": "alert",
    "officer_actions": "officer_action",
}


@dataclass(frozen=True)
class Price:
    usd: float
    per: float
    unit: str
    page: str

    def of(self, quantity: float) -> float:
        return quantity * self.usd / self.per


@dataclass
class PriceTable:
    region: str
    as_of: str
    checked: bool
    prices: dict[str, Price]

    @classmethod
    def load(cls, path: Path = DATA / "prices.yaml") -> PriceTable:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        return cls(
            raw["region"],
            str(raw["as_of"]),
            bool(raw["checked_against_pricing_pages"]),
            {k: Price(**v) for k, v in raw["prices"].items()},
        )


@dataclass
class CostBreakdown:
    crossings: int
    per_crossing_usd: float
    by_service: dict[str, float]  # USD per crossing
    by_step: dict[str, float]  # USD per crossing, the fixed costs as "lanes (fixed)" / "stack (fixed)"
    units: dict[str, float]  # priced units per crossing
    prices: PriceTable
    notes: list[str] = field(default_factory=list)
    step_units: dict[str, dict[str, float]] = field(default_factory=dict)  # step -> usage unit -> a crossing

    def flow_invocations(self) -> float:
        """Lambda invocations a crossing makes itself (the scheduled functions' fixed ones apart)."""
        return sum(u.get("lambda_request", 0.0) for step, u in self.step_units.items() if "fixed" not in step)

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        return sorted(self.by_service.items(), key=lambda kv: -kv[1])[:n]


MEASURED = DATA / "measured.yaml"
"""Per-step units the local stack counted (``smartgate twin --full-stack --calibrate``): they replace
usage.yaml's figures of the same step and unit."""


def usage_profile(
    usage_path: Path = DATA / "usage.yaml", measured_path: Path | None = MEASURED
) -> tuple[dict[str, Any], str]:
    """usage.yaml with the measured figures put in, and a note of which (empty: none)."""
    profile: dict[str, Any] = yaml.safe_load(usage_path.read_text(encoding="utf-8"))
    if measured_path is None or not measured_path.exists():
        return profile, ""
    measured = yaml.safe_load(measured_path.read_text(encoding="utf-8"))
    for step, units in measured["steps"].items():
        if step not in profile["steps"]:
            raise ValueError(f"{measured_path.name}: steps.{step}: not a step of {usage_path.name}")
        profile["steps"][step].update({unit: float(qty) for unit, qty in units.items()})
    units = sorted({unit for units in measured["steps"].values() for unit in units})
    note = (
        f"{', '.join(units)} per step measured on the local stack ({measured['source']}, {measured['measured_on']}); "
        "the rest assumed from the flows"
    )
    return profile, note


def write_measured(steps: dict[str, dict[str, float]], source: str, path: Path = MEASURED) -> Path:
    """Keep these measured per-step units (:func:`~smartgate_infra.twin.fullstack.measured_steps`)."""
    header = (
        "# Per-step units counted on the local stack by `smartgate twin --full-stack --calibrate`: the step's\n"
        "# functions' invocations and structured log bytes, over the times the model's trucks made the step.\n"
        "# They replace usage.yaml's figures of the same step and unit in the cost. Re-run to refresh.\n"
    )
    body = {"measured_on": utc_today(), "source": source, "steps": steps}
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def utc_today() -> str:
    return datetime.now(UTC).date().isoformat()


def crossing_cost(
    usages: Iterable[Usage],
    lanes: int,
    trucks_per_day: float,
    prices: PriceTable | None = None,
    usage_path: Path = DATA / "usage.yaml",
    measured_path: Path | None = MEASURED,
) -> CostBreakdown:
    """USD per crossing for these trucks' usage at a gate of ``lanes`` lanes taking ``trucks_per_day``
    (usage.yaml's units, the measured ones put in)."""
    prices = prices or PriceTable.load()
    profile, measured_note = usage_profile(usage_path, measured_path)
    steps: dict[str, dict[str, float]] = profile["steps"]
    retention = profile["retention"]
    usages = list(usages)
    n = max(1, len(usages))
    per_step: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # step -> unit -> qty
    for u in usages:
        for name in STEPS:
            count = getattr(u, name)
            if count:
                for unit, qty in steps[STEP_OF.get(name, name)].items():
                    per_step[STEP_OF.get(name, name)][unit] += count * qty / n
    for unit, qty in steps["stored_per_truck"].items():
        per_step["storage"][unit] += qty
    month = trucks_per_day * MONTH_DAYS
    for unit, qty in profile["fixed"]["per_lane_month"].items():
        per_step["lanes (fixed)"][unit] += qty * lanes / month
    for unit, qty in profile["fixed"]["per_stack_month"].items():
        per_step["stack (fixed)"][unit] += qty / month

    by_service: dict[str, float] = defaultdict(float)
    by_step: dict[str, float] = defaultdict(float)
    units: dict[str, float] = defaultdict(float)
    for step, quantities in per_step.items():
        for unit, qty in quantities.items():
            for priced, amount in _priced(unit, qty, retention):
                usd = prices.prices[priced].of(amount)
                by_service[SERVICE[priced]] += usd
                by_step[step] += usd
                units[priced] += amount
    total = sum(by_service.values())
    notes = [
        f"list prices {prices.region}, as of {prices.as_of}"
        + ("" if prices.checked else " (not re-read from the pricing pages here: check before budgeting)"),
        f"fixed costs shared over {month:,.0f} crossings a month ({trucks_per_day:,.0f} a day, {lanes} lanes)",
    ] + ([measured_note] if measured_note else [])
    return CostBreakdown(
        n, total, dict(by_service), dict(by_step), dict(units), prices, notes, {k: dict(v) for k, v in per_step.items()}
    )


def _priced(unit: str, qty: float, retention: dict[str, Any]) -> list[tuple[str, float]]:
    """A usage unit as priced units (bytes become GB ingested and GB-months kept over the retention)."""
    if unit == "logs_bytes":
        gb = qty / GB
        return [("logs_ingest_gb", gb), ("logs_gb_month", gb * retention["logs_days"] / MONTH_DAYS)]
    if unit == "evidence_bytes":
        return [("s3_gb_month", qty / GB * retention["evidence_days"] / MONTH_DAYS)]
    if unit == "ddb_bytes":
        return [("ddb_gb_month", qty / GB * retention["personal_data_days"] / MONTH_DAYS)]
    if unit == "archive_bytes":
        return [("eventbridge_archive_gb", qty / GB)]
    return [(unit, qty)]
