"""A gate-day scenario: the gate, its lanes, the trucks that come and what happens to them, in a YAML file
validated here (a wrong figure is refused naming its field).

Every figure is sourced: ``provenance`` maps each field's dotted path (or a parent's) to where the figure
comes from, ``published: …`` (a public source), ``measured: …`` (our own measurement, with its command)
or ``assumed: …`` (a planning assumption, with why); a scenario with an unsourced figure is refused.
What-if runs change fields by dotted path (``directions.VN_TO_CN.lanes=3``).
"""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

DATA = Path(__file__).parent / "data"
CHANNELS = ("GREEN", "YELLOW", "RED")
DIRECTIONS = ("VN_TO_CN", "CN_TO_VN")
Share = Annotated[float, Field(ge=0, le=1)]
Positive = Annotated[float, Field(gt=0)]
NonNegative = Annotated[float, Field(ge=0)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Spread(_Model):
    """A duration drawn from a log-normal with this mean and standard deviation (never negative)."""

    mean: Positive
    sd: NonNegative = 0.0


class Opening(_Model):
    opens: time = time(7, 0)
    closes: time = time(22, 0)

    @model_validator(mode="after")
    def _order(self) -> Opening:
        if self.closes <= self.opens:
            raise ValueError("closes must be after opens (a gate open past midnight: not modelled)")
        return self


class Direction(_Model):
    lanes: Annotated[int, Field(ge=1, le=20)]
    vehicles_per_day: Annotated[int, Field(ge=1, le=20_000)]
    perishable_share: Share = 0.0


class Arrivals(_Model):
    profile: Annotated[list[NonNegative], Field(min_length=24, max_length=24)]
    """Relative arrivals per local hour 0..23 (hours the gate is closed get none whatever they say)."""
    booked_share: Share
    booked_early_min: Spread = Spread(mean=15, sd=20)
    """How early a booked truck comes before its slot's start (log-normal; the slot is the hour it books)."""

    @field_validator("profile")
    @classmethod
    def _some(cls, v: list[float]) -> list[float]:
        if not any(v):
            raise ValueError("at least one hour needs arrivals")
        return v


class Lane(_Model):
    approach_s: Spread
    """From the queue's head to the barrier."""
    service_s: Spread
    """At the barrier: plate, containers, scale, pass read and the cloud's decision."""
    barrier_cycle_s: Positive
    plate_read_failure: Share
    manual_entry_s: Spread
    """An officer keys in a plate the cameras could not read (or the driver shows the pass)."""


class Mix(_Model):
    GREEN: Share
    YELLOW: Share
    RED: Share

    @model_validator(mode="after")
    def _sum(self) -> Mix:
        if abs(self.GREEN + self.YELLOW + self.RED - 1) > 1e-6:
            raise ValueError(f"GREEN + YELLOW + RED must be 1, not {self.GREEN + self.YELLOW + self.RED:.4f}")
        return self


class Channels(_Model):
    booked: Mix
    walk_in: Mix


class Inspection(_Model):
    officers: Annotated[int, Field(ge=1, le=200)]
    document_check_min: Spread
    """YELLOW: papers checked in the yard."""
    physical_min: Spread
    """RED: the container opened and inspected."""
    lab_share: Share
    """Of RED perishables: a sample goes to the laboratory."""
    lab_hours: Spread
    lab_capacity: Annotated[int, Field(ge=1, le=500)]
    """Samples the laboratory tests at once."""


class Partner(_Model):
    capacity_per_hour: Annotated[int, Field(ge=1, le=2_000)]
    """Trucks the partner gate accepts per hour from us (VN_TO_CN)."""
    delay_min: Spread
    """From our barrier to the partner's (the bridge, their queue before acceptance)."""
    refusal_rate: Share


class Outage(_Model):
    direction: Literal["VN_TO_CN", "CN_TO_VN"]
    lane: Annotated[int, Field(ge=1)]
    at: time
    minutes: Positive


class Offline(_Model):
    decide_after_s: Positive
    """Cloud silence before the lane decides on its own (a booked truck's pass opens it; others wait)."""
    officer_min: Spread
    """A truck the lane cannot clear offline waits this long for an officer."""


class Scenario(_Model):
    name: str
    gate_id: str
    timezone: str = "Asia/Ho_Chi_Minh"
    days: Annotated[int, Field(ge=1, le=14)] = 1
    seed: int = 1
    opening: Opening = Opening()
    directions: dict[str, Direction]
    arrivals: Arrivals
    lane: Lane
    channels: Channels
    inspection: Inspection
    partner: Partner
    offline: Offline
    outages: list[Outage] = Field(default_factory=list)
    provenance: dict[str, str]

    @field_validator("directions")
    @classmethod
    def _known(cls, v: dict[str, Direction]) -> dict[str, Direction]:
        unknown = set(v) - set(DIRECTIONS)
        if unknown or not v:
            raise ValueError(f"directions are {' and '.join(DIRECTIONS)} (got {', '.join(sorted(unknown)) or 'none'})")
        return v

    @model_validator(mode="after")
    def _sourced(self) -> Scenario:
        for path, why in self.provenance.items():
            if why.split(":", 1)[0] not in ("published", "measured", "assumed") or ":" not in why:
                raise ValueError(f"provenance.{path}: say 'published: …', 'measured: …' or 'assumed: …'")
        missing = [p for p in figures(self) if not _covered(p, self.provenance)]
        if missing:
            raise ValueError(f"figures without a source or an 'assumed:' in provenance: {', '.join(missing[:8])}")
        for o in self.outages:
            if o.direction not in self.directions or o.lane > self.directions[o.direction].lanes:
                raise ValueError(f"outages: lane {o.lane} of {o.direction} does not exist")
        return self

    def total_trucks(self) -> int:
        return sum(d.vehicles_per_day for d in self.directions.values()) * self.days


def figures(scenario: Scenario) -> list[str]:
    """The dotted paths of the scenario's figures (the numbers a planner would ask the source of)."""
    out: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, BaseModel):
            for name in type(value).model_fields:
                walk(getattr(value, name), f"{path}.{name}" if path else name)
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}")
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            for i, item in enumerate(value):
                walk(item, f"{path}.{i}")
        elif isinstance(value, int | float | list) and not isinstance(value, bool):
            out.append(path)

    data = {k: getattr(scenario, k) for k in type(scenario).model_fields if k not in ("provenance", "seed", "days")}
    for key, value in data.items():
        walk(value, key)
    return out


def _covered(path: str, provenance: dict[str, str]) -> bool:
    parts = path.split(".")
    return any(".".join(parts[:n]) in provenance for n in range(1, len(parts) + 1))


class ScenarioError(ValueError):
    """A scenario file that cannot be used; the message names the field."""


NOT_SCENARIOS = ("prices", "usage", "measured")
"""The cost's tables beside the scenarios in data/."""


def load(source: str | Path, changes: list[str] | None = None) -> Scenario:
    """A scenario by name (``kimthanh2``, ``mongcai``) or path, with what-if ``changes`` (``a.b=value``)."""
    path = Path(source)
    if not path.suffix:
        path = DATA / f"{source}.yaml"
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        known = ", ".join(sorted(p.stem for p in DATA.glob("*.yaml") if p.stem not in NOT_SCENARIOS))
        raise ScenarioError(f"scenario {source!r}: no such file (known: {known})") from err
    except yaml.YAMLError as err:
        raise ScenarioError(f"scenario {path.name}: not YAML ({err})") from err
    if not isinstance(raw, dict):
        raise ScenarioError(f"scenario {path.name}: a mapping of fields expected")
    for change in changes or []:
        _apply(raw, change)
    try:
        return Scenario.model_validate(raw)
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top)"
        raise ScenarioError(f"scenario {path.name}: {where}: {first['msg']}") from err


def _apply(raw: dict[str, Any], change: str) -> None:
    path, sep, value = change.partition("=")
    if not sep or not path.strip():
        raise ScenarioError(f"what-if {change!r}: write field.path=value")
    keys = path.strip().split(".")
    node: Any = raw
    for key in keys[:-1]:
        if isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise ScenarioError(f"what-if {change!r}: the scenario has no field {path.strip()!r}")
    last = keys[-1]
    if not isinstance(node, dict) or last not in node:
        raise ScenarioError(f"what-if {change!r}: the scenario has no field {path.strip()!r}")
    node[last] = yaml.safe_load(value)
